/*
 * Perf side-band task records (source perf_task_events): FORK, EXIT and
 * exec-COMM of pidcar's own PID namespace in real time, from one dummy
 * software event per CPU.  New processes get a pidfd while the records are
 * drained and are read from /proc after the drain; exit codes still come from
 * the pidfds.  It does not sample anything and never reads the rest of the
 * machine: records of outsiders carry pid 0 and are dropped (kernel.md §12.4).
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/perf_event.h>
#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "perfev.h"
#include "poller.h"
#include "ptable.h"
#include "xmalloc.h"

#define RING_PAGES_MAX	128	/* 512 KiB a CPU: 16k records, ~1 s of a storm */
#define RING_PAGES_MIN	8
#define MAX_CPUS	1024
#define HOLDOFF_US	2000	/* outsiders only: drain by timer this often */
#define ACTIVE_SECONDS	0.5	/* ours this recently: wake at every record */
#define RECHECK_US	1000	/* exec'd, no arguments yet: look again this soon, */
#define RECHECK_SLOW_US	5000	/* then this often (a descheduled execve) */
#define RECHECK_FAST	5
#define RECHECK_ROUNDS	25
#define NRECHECK	64

struct ring {
	int				 fd;
	int				 cpu;
	struct perf_event_mmap_page	*meta;
	unsigned char			*data;
	uint64_t			 size;
	struct event			*ev;
};

/* A FORK of this drain, read from /proc once every ring is drained. */
struct newborn {
	pid_t	 pid;
	pid_t	 ppid;
	int	 pidfd;		/* -1 when none could be taken */
	int	 gone;		/* pidfd_open said ESRCH: reaped already */
	int	 exec;		/* exec'd in this drain, before it was read */
	char	 comm[17];
};

struct perfev {
	struct daemon		*d;
	struct poller		*pl;
	struct ring		*rings;
	int			 nrings;
	long			 page;
	pid_t			 self;
	struct newborn		*born;
	size_t			 nborn, capborn;
	struct poller_hook	 hook;
	pid_t			 recheck[NRECHECK];
	int			 nrecheck;
	int			 recheck_round;
	struct event		*ev_recheck;
	struct event		*ev_drain;
	int			 draining;
	int			 polling;	/* fds off, ev_drain on */
	uint64_t		 drained;	/* records the last drain read */
	uint64_t		 ours;		/* of them, of our namespace */
	double			 ours_at;	/* monotonic: the last drain with ours */
};

static uint32_t
u32_at(const unsigned char *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t
u64_at(const unsigned char *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int
perfev_decode(const void *rec, size_t len, struct perf_rec *r)
{
	const unsigned char		*b = rec;
	struct perf_event_header	 h;
	size_t				 hs = sizeof(h), n;

	memset(r, 0, sizeof(*r));
	if (len < hs)
		return -1;
	memcpy(&h, b, hs);
	if (h.size < hs || h.size > len)
		return -1;
	len = h.size;
	switch (h.type) {
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		/* pid, ppid, tid, ptid, time (include/uapi/linux/perf_event.h) */
		if (len < hs + 24)
			return -1;
		r->type = h.type == PERF_RECORD_FORK ? PERF_REC_FORK : PERF_REC_EXIT;
		r->pid = (pid_t)u32_at(b + hs);
		r->ppid = (pid_t)u32_at(b + hs + 4);
		r->tid = (pid_t)u32_at(b + hs + 8);
		r->ptid = (pid_t)u32_at(b + hs + 12);
		r->time = u64_at(b + hs + 16);
		return 0;
	case PERF_RECORD_COMM:
		/* pid, tid, comm[] NUL-terminated and padded to 8 bytes */
		if (len < hs + 9)
			return -1;
		r->type = PERF_REC_COMM;
		r->exec = (h.misc & PERF_RECORD_MISC_COMM_EXEC) != 0;
		r->pid = (pid_t)u32_at(b + hs);
		r->tid = (pid_t)u32_at(b + hs + 4);
		n = strnlen((const char *)b + hs + 8, len - hs - 8);
		if (n >= sizeof(r->comm))
			n = sizeof(r->comm) - 1;
		memcpy(r->comm, b + hs + 8, n);
		r->comm[n] = '\0';
		return 0;
	case PERF_RECORD_LOST:
		/* id, lost */
		if (len < hs + 16)
			return -1;
		r->type = PERF_REC_LOST;
		r->lost = u64_at(b + hs + 8);
		return 0;
	default:
		r->type = PERF_REC_OTHER;
		return 0;
	}
}

size_t
perfev_ring_copy(const unsigned char *data, uint64_t size, uint64_t head,
    uint64_t tail, void *buf, size_t cap)
{
	struct perf_event_header	h;
	uint64_t			off, first;
	size_t				n, i;
	unsigned char			*out = buf;

	if (head <= tail || head - tail < sizeof(h) || head - tail > size ||
	    size == 0 || (size & (size - 1)) != 0 || cap < sizeof(h))
		return 0;
	off = tail & (size - 1);
	for (i = 0; i < sizeof(h); i++)
		((unsigned char *)&h)[i] = data[(off + i) & (size - 1)];
	if (h.size < sizeof(h) || h.size > head - tail)
		return 0;
	n = h.size <= cap ? h.size : sizeof(h);
	first = size - off < n ? size - off : n;
	memcpy(out, data + off, (size_t)first);
	memcpy(out + first, data, n - (size_t)first);
	return h.size;
}

static void
push_newborn(struct perfev *pe, const struct perf_rec *r)
{
	struct newborn	*nb;

	if (pe->nborn == pe->capborn) {
		pe->capborn = pe->capborn ? pe->capborn * 2 : 256;
		pe->born = xreallocarray(pe->born, pe->capborn, sizeof(*pe->born));
	}
	nb = &pe->born[pe->nborn++];
	memset(nb, 0, sizeof(*nb));
	nb->pid = r->pid;
	nb->ppid = r->ppid;
	/*
	 * The pidfd now, before its parent can reap it: the exit code of a
	 * process gone before it was read is known only through one (§12.2).
	 */
	nb->pidfd = poller_take_pidfd(pe->pl, r->pid);
	nb->gone = nb->pidfd == -1 && errno == ESRCH;
}

static struct newborn *
find_newborn(struct perfev *pe, pid_t pid)
{
	size_t	i;

	for (i = pe->nborn; i > 0; i--)
		if (pe->born[i - 1].pid == pid)
			return &pe->born[i - 1];
	return NULL;
}

static void
want_recheck(struct perfev *pe, struct proc *p)
{
	struct timeval	tv = { 0, RECHECK_US };

	/* Exec'd: a user process, even when its exe is not readable. */
	if (!pe->d->conf->cmdline || p->cmdline_len != 0 ||
	    pe->nrecheck == NRECHECK)
		return;
	if (pe->nrecheck++ == 0) {
		pe->recheck_round = 0;
		evtimer_add(pe->ev_recheck, &tv);
	}
	pe->recheck[pe->nrecheck - 1] = p->pid;
}

/*
 * The COMM record of an exec comes from begin_new_exec, before the ELF loader
 * has set up the new arguments: a read now may see none, so look again soon.
 */
static void
recheck_cb(evutil_socket_t fd, short what, void *arg)
{
	struct perfev	*pe = arg;
	struct timeval	 tv = { 0, RECHECK_US };
	int		 i, n = 0;

	(void)fd;
	(void)what;
	if (++pe->recheck_round >= RECHECK_FAST)
		tv.tv_usec = RECHECK_SLOW_US;
	for (i = 0; i < pe->nrecheck; i++) {
		struct proc	*p = ptable_find(pe->d->pt, pe->recheck[i]);

		if (p == NULL || p->exited || p->cmdline_len != 0)
			continue;
		poller_reread_identity(pe->pl, p);
		if (p->cmdline_len == 0 && pe->recheck_round < RECHECK_ROUNDS)
			pe->recheck[n++] = p->pid;
	}
	if ((pe->nrecheck = n) > 0)
		evtimer_add(pe->ev_recheck, &tv);
}

static void
on_comm(struct perfev *pe, const struct perf_rec *r)
{
	struct newborn	*nb;
	struct proc	*p;

	if (r->exec)
		pe->d->c.execs++;
	if ((p = ptable_find(pe->d->pt, r->pid)) != NULL && !p->exited) {
		poller_changed(pe->pl, p, r->exec);
		if (r->exec)
			want_recheck(pe, p);
	} else if ((nb = find_newborn(pe, r->pid)) != NULL) {
		memcpy(nb->comm, r->comm, sizeof(nb->comm));
		nb->exec |= r->exec;
	}
}

static void
on_record(struct perfev *pe, const struct perf_rec *r)
{
	struct proc	*p;

	pe->d->c.perf_records++;
	pe->drained++;
	if (r->type == PERF_REC_LOST) {
		pe->d->c.events_lost += r->lost;
		pe->d->c.resyncs++;
		log_warnx("perf side-band: %llu records lost (ring full); "
		    "resynchronising from /proc", (unsigned long long)r->lost);
		poller_rescan(pe->pl);
		return;
	}
	/* Outsiders have pid 0 here; threads are not processes; not ourselves. */
	if (r->type == PERF_REC_OTHER || r->pid <= 0 || r->pid != r->tid ||
	    r->pid == pe->self)
		return;
	pe->ours++;
	switch (r->type) {
	case PERF_REC_FORK:
		/* pidcar's own children (the PIDFD_GET_INFO probe) are not the app's. */
		if (r->ppid != pe->self)
			push_newborn(pe, r);
		break;
	case PERF_REC_EXIT:
		/* A newborn of this drain is handled by its pidfd below. */
		if ((p = ptable_find(pe->d->pt, r->pid)) != NULL)
			poller_exit_seen(pe->pl, p);
		break;
	case PERF_REC_COMM:
		on_comm(pe, r);
		break;
	default:
		break;
	}
}

static void
drain_ring(struct perfev *pe, struct ring *rg)
{
	uint64_t	 head, tail;
	unsigned char	 buf[256];
	size_t		 n;
	struct perf_rec	 r;

	head = __atomic_load_n(&rg->meta->data_head, __ATOMIC_ACQUIRE);
	tail = rg->meta->data_tail;
	while (tail < head) {
		if ((n = perfev_ring_copy(rg->data, rg->size, head, tail, buf,
		    sizeof(buf))) == 0) {
			/* Cannot happen with a sane kernel: start over cleanly. */
			log_warnx("perf ring of CPU %d: bad record; skipping to "
			    "its head", rg->cpu);
			pe->d->c.resyncs++;
			poller_rescan(pe->pl);
			tail = head;
			break;
		}
		if (perfev_decode(buf, n < sizeof(buf) ? n : sizeof(buf), &r) == 0)
			on_record(pe, &r);
		tail += n;
	}
	__atomic_store_n(&rg->meta->data_tail, tail, __ATOMIC_RELEASE);
}

/* Drains every ring, then reads the newborns: a storm costs a batch, not a read per record. */
static void
drain(void *arg)
{
	struct perfev	*pe = arg;
	size_t		 i;
	int		 c;

	if (pe->draining)
		return;
	pe->draining = 1;
	pe->drained = pe->ours = 0;
	for (c = 0; c < pe->nrings; c++)
		drain_ring(pe, &pe->rings[c]);
	for (i = 0; i < pe->nborn; i++) {
		struct newborn	*nb = &pe->born[i];

		if (!nb->gone) {
			struct proc	*p;

			poller_discovered(pe->pl, nb->pid, nb->ppid, nb->comm,
			    nb->pidfd);
			if (nb->exec && (p = ptable_find(pe->d->pt, nb->pid)) != NULL)
				want_recheck(pe, p);
		} else if (ptable_find(pe->d->pt, nb->pid) == NULL)
			/* Reaped before its FORK was read: counted, code unknown. */
			poller_gone_unread(pe->pl, nb->pid, nb->ppid, nb->comm, -1);
	}
	pe->nborn = 0;
	pe->draining = 0;
	if (pe->ours > 0)
		pe->ours_at = now_mono();
}

static void
set_polling(struct perfev *pe, int on)
{
	struct timeval	tv = { 0, HOLDOFF_US };
	int		c;

	pe->polling = on;
	for (c = 0; c < pe->nrings; c++)
		if (on)
			event_del(pe->rings[c].ev);
		else
			event_add(pe->rings[c].ev, NULL);
	if (on)
		evtimer_add(pe->ev_drain, &tv);
}

/*
 * The fds wake at every record: a newborn's pidfd must be taken before its
 * parent reaps it (with a wake-up per 32 KiB or a 1 ms timer, a third to a
 * half of the exit codes of a `sh -c true` loop stayed unknown, against 3 %).
 * But the rings hold the whole machine's records, outsiders' with pid 0: while
 * only those come and the namespace is quiet, the fds go quiet too and a
 * timer drains every HOLDOFF_US, so a busy host costs at most ~500 wake-ups
 * a second, an idle one none, and the namespace's own work a wake-up a batch.
 */
static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct perfev	*pe = arg;

	(void)fd;
	(void)what;
	drain(pe);
	if (!pe->polling && now_mono() - pe->ours_at > ACTIVE_SECONDS)
		set_polling(pe, 1);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct perfev	*pe = arg;
	struct timeval	 tv = { 0, HOLDOFF_US };

	(void)fd;
	(void)what;
	drain(pe);
	if (pe->ours == 0 && pe->drained > 0 &&
	    now_mono() - pe->ours_at > ACTIVE_SECONDS)
		evtimer_add(pe->ev_drain, &tv);
	else
		set_polling(pe, 0);	/* ours, or silence: wake at the next one */
}

static int
sys_perf_event_open(struct perf_event_attr *a, int cpu)
{
	return (int)syscall(SYS_perf_event_open, a, -1, cpu, -1,
	    PERF_FLAG_FD_CLOEXEC);
}

/* One dummy event on cpu, with FORK/EXIT (task), COMM and exec-COMM records. */
static int
open_cpu(int cpu)
{
	struct perf_event_attr	a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_DUMMY;
	a.disabled = 0;
	a.task = 1;
	a.comm = 1;
	a.comm_exec = 1;
	a.watermark = 1;
	a.wakeup_watermark = 1;
	return sys_perf_event_open(&a, cpu);
}

static int
map_ring(struct ring *rg, long page, int pages)
{
	size_t	len = (size_t)(pages + 1) * (size_t)page;
	void	*m;

	if ((m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, rg->fd,
	    0)) == MAP_FAILED)
		return -1;
	rg->meta = m;
	rg->data = (unsigned char *)m + page;
	rg->size = (uint64_t)pages * (uint64_t)page;
	return 0;
}

struct perfev *
perfev_open(void)
{
	struct perfev	*pe = xcalloc(1, sizeof(*pe));
	long		 page = sysconf(_SC_PAGESIZE);
	long		 ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int		 cpu, pages = RING_PAGES_MAX, saved, fd;

	if (ncpu < 1 || ncpu > MAX_CPUS)
		ncpu = ncpu < 1 ? 1 : MAX_CPUS;
	pe->page = page;
	pe->rings = xcalloc((size_t)ncpu, sizeof(*pe->rings));
	for (cpu = 0; cpu < ncpu; cpu++) {
		struct ring	*rg = &pe->rings[pe->nrings];

		if ((fd = open_cpu(cpu)) == -1) {
			if (errno == ENODEV || errno == EINVAL)
				continue;	/* an offline CPU */
			goto fail;
		}
		rg->fd = fd;
		rg->cpu = cpu;
		/*
		 * Rings count against perf_event_mlock_kb (516 KiB a CPU) unless
		 * CAP_IPC_LOCK: take the largest that fits.
		 */
		while (map_ring(rg, page, pages) == -1) {
			if ((errno != EPERM && errno != ENOMEM) ||
			    pages <= RING_PAGES_MIN) {
				close(fd);
				goto fail;
			}
			pages /= 2;
		}
		pe->nrings++;
	}
	if (pe->nrings == 0) {
		errno = ENODEV;
		goto fail;
	}
	return pe;
fail:
	saved = errno;
	perfev_free(pe);
	errno = saved;
	return NULL;
}

void
perfev_start(struct perfev *pe, struct daemon *d, struct poller *pl)
{
	int		c;

	pe->d = d;
	pe->pl = pl;
	pe->self = getpid();
	d->execs_from_events = 1;
	for (c = 0; c < pe->nrings; c++) {
		pe->rings[c].ev = event_new(d->base, pe->rings[c].fd,
		    EV_READ | EV_PERSIST, read_cb, pe);
		event_add(pe->rings[c].ev, NULL);
	}
	pe->ev_recheck = evtimer_new(d->base, recheck_cb, pe);
	pe->ev_drain = evtimer_new(d->base, drain_cb, pe);
	pe->hook.cb = drain;
	pe->hook.arg = pe;
	poller_before_exits(pl, &pe->hook);
	/*
	 * FORK records find every new PID: the probe would only repeat them.
	 * The rings were open before the first scan began, so nothing born
	 * since is missing.
	 */
	poller_set_probe(pl, 0);
}

int
perfev_ncpus(const struct perfev *pe)
{
	return pe->nrings;
}

size_t
perfev_ring_bytes(const struct perfev *pe)
{
	uint64_t	min = 0;
	int		c;

	for (c = 0; c < pe->nrings; c++)
		if (min == 0 || pe->rings[c].size < min)
			min = pe->rings[c].size;
	return (size_t)min;
}

void
perfev_free(struct perfev *pe)
{
	size_t	i;
	int	c;

	if (pe == NULL)
		return;
	if (pe->pl != NULL)
		poller_before_exits(pe->pl, NULL);
	for (c = 0; c < pe->nrings; c++) {
		struct ring	*rg = &pe->rings[c];

		if (rg->ev != NULL)
			event_free(rg->ev);
		if (rg->meta != NULL)
			munmap(rg->meta, (size_t)rg->size + (size_t)pe->page);
		close(rg->fd);
	}
	for (i = 0; i < pe->nborn; i++)
		if (pe->born[i].pidfd != -1)
			close(pe->born[i].pidfd);
	if (pe->ev_recheck != NULL)
		event_free(pe->ev_recheck);
	if (pe->ev_drain != NULL)
		event_free(pe->ev_drain);
	free(pe->born);
	free(pe->rings);
	free(pe);
}
