/*
 * Agent mode: the proc connector's events drive the table.  FORKs are mapped
 * to the target's PIDs at once (at EXIT the process is gone, kernel.md §0.4)
 * and read from /proc after the socket is drained, so a fork storm costs a
 * recv per batch, not a /proc read per child.  Losses are counted and repaired
 * with a resync.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/sys/tree.h>
#include <event2/event.h>

#include "agent.h"
#include "cnproc.h"
#include "daemon.h"
#include "log.h"
#include "poller.h"
#include "ptable.h"
#include "target.h"
#include "xmalloc.h"

#define RCVBUF		(8 << 20)	/* a 1 s stall of an exec storm fits (§7) */
#define ACK_MS		250
#define CHECK_SECONDS	5		/* silent this long: prove the stream */
#define BATCH_SECONDS	0.005
#define PROC_PID_INIT_INO	0xEFFFFFFCULL
#define PROC_USER_INIT_INO	0xEFFFFFFDULL

/* A FORK of the target not read from /proc yet: its EXIT may come first. */
struct newborn {
	RB_ENTRY(newborn)	 entry;
	pid_t			 host;
	pid_t			 nspid;		/* 0: gone before it could be mapped */
	int			 age;		/* batches it waited for its EXIT */
	int			 exited;
	int			 status;
};
RB_HEAD(newborns, newborn);
RB_PROTOTYPE(newborns, newborn, entry, newborn_cmp)

struct agent {
	struct daemon		*d;
	struct poller		*pl;
	const struct target	*t;
	int			 fd;
	enum cn_sub		 sub;
	struct cn_seq		*seq;
	struct newborns		 born;
	size_t			 nborn;
	struct event		*ev_read;
	struct event		*ev_check;
	uint64_t		 nevents;
	uint64_t		 nevents_at_check;
	pid_t			 check_pid;	/* our self-check child, or 0 */
	int			 check_seen;
	char			 buf[1 << 16];
};

static int
newborn_cmp(struct newborn *a, struct newborn *b)
{
	return a->host < b->host ? -1 : a->host > b->host;
}
RB_GENERATE(newborns, newborn, entry, newborn_cmp)

int
agent_initial_namespaces(void)
{
	struct stat	pid, user;

	if (stat("/proc/self/ns/pid", &pid) == -1 ||
	    stat("/proc/self/ns/user", &user) == -1)
		return 0;
	return pid.st_ino == PROC_PID_INIT_INO &&
	    user.st_ino == PROC_USER_INIT_INO;
}

static void
forget_newborns(struct agent *a)
{
	struct newborn	*nb, *next;

	RB_FOREACH_SAFE(nb, newborns, &a->born, next) {
		RB_REMOVE(newborns, &a->born, nb);
		free(nb);
	}
	a->nborn = 0;
}

/* State unknown after a loss: forget what is in flight and diff /proc. */
static void
resync(struct agent *a, const char *why)
{
	log_warnx("proc connector: %s; resynchronising from /proc", why);
	forget_newborns(a);
	cnproc_seq_reset(a->seq);
	a->d->c.resyncs++;
	poller_rescan(a->pl);
}

static int
in_target(struct agent *a, pid_t host)
{
	struct newborn	key;

	key.host = host;
	return ptable_find_host(a->d->pt, host) != NULL ||
	    RB_FIND(newborns, &a->born, &key) != NULL ||
	    target_pid_in_ns(a->t, host) > 0;
}

static void
on_fork(struct agent *a, const struct cn_event *ev)
{
	struct newborn	*nb, key;
	pid_t		 nspid;

	if (ev->pid != ev->tgid)
		return;		/* a thread, not a process */
	if (a->check_pid != 0 && ev->pid == a->check_pid) {
		a->check_seen = 1;
		return;
	}
	/*
	 * Every FORK is checked: setns() entrants (docker exec) count too.  A
	 * child reaped before its FORK is read cannot be mapped; its parent
	 * tells whether it was the target's, and its EXIT still counts.
	 */
	if ((nspid = target_pid_in_ns(a->t, ev->pid)) <= 0) {
		if (!in_target(a, ev->ppid))
			return;
		nspid = 0;
	}
	a->d->c.forks++;
	key.host = ev->pid;
	if (RB_FIND(newborns, &a->born, &key) != NULL)
		return;
	nb = xcalloc(1, sizeof(*nb));
	nb->host = ev->pid;
	nb->nspid = nspid;
	RB_INSERT(newborns, &a->born, nb);
	a->nborn++;
}

static void
on_exit_event(struct agent *a, const struct cn_event *ev)
{
	struct newborn	*nb, key;
	struct proc	*p;

	if (ev->pid != ev->tgid)
		return;
	key.host = ev->pid;
	if ((nb = RB_FIND(newborns, &a->born, &key)) != NULL) {
		/* Born and gone within one batch: never read, still counted exactly. */
		nb->exited = 1;
		nb->status = ev->exit_code;
		return;
	}
	if ((p = ptable_find_host(a->d->pt, ev->pid)) != NULL)
		poller_exit(a->pl, p, ev->exit_code);
}

static void
on_event(struct agent *a, const struct cn_event *ev)
{
	struct proc	*p;

	switch (ev->type) {
	case CN_FORK:
		on_fork(a, ev);
		break;
	case CN_EXIT:
		on_exit_event(a, ev);
		break;
	case CN_EXEC:
	case CN_COMM:
	case CN_UID:
	case CN_GID:
		if (ev->pid != ev->tgid ||
		    (p = ptable_find_host(a->d->pt, ev->pid)) == NULL)
			break;
		if (ev->type == CN_EXEC)
			a->d->c.execs++;
		poller_changed(a->pl, p, ev->type == CN_EXEC);
		break;
	default:
		break;
	}
}

/* Reads the processes born in this batch; the ones already gone are counted. */
static void
read_newborns(struct agent *a)
{
	struct newborn	*nb, *next;
	struct proc	*p;

	RB_FOREACH_SAFE(nb, newborns, &a->born, next) {
		if (!nb->exited) {
			if (nb->nspid > 0 &&
			    (p = poller_born(a->pl, nb->nspid)) != NULL) {
				ptable_set_host(a->d->pt, p, nb->host);
				nb->age = -1;
			} else if (++nb->age < 64)
				/* Gone before it was read: its EXIT is on the way. */
				continue;
		}
		RB_REMOVE(newborns, &a->born, nb);
		a->nborn--;
		if (nb->exited)
			poller_count_exit(a->pl, nb->status);
		free(nb);
	}
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;
	double		 start = now_mono();
	ssize_t		 n;

	(void)what;
	while ((n = recv(fd, a->buf, sizeof(a->buf), 0)) != 0) {
		size_t	off = 0;

		if (n == -1) {
			if (errno == ENOBUFS) {
				/* One ENOBUFS hides any number of events (peers.md §3). */
				a->d->c.events_lost++;
				resync(a, "receive buffer overrun (ENOBUFS)");
				continue;
			}
			break;	/* EAGAIN: drained */
		}
		while (off + 16 <= (size_t)n) {
			struct cn_event	ev;
			uint32_t	len;
			uint64_t	gap;

			memcpy(&len, a->buf + off, sizeof(len));
			if (len < 16 || off + len > (size_t)n)
				break;
			if (cnproc_decode(a->buf + off, len, &ev) == 0) {
				a->nevents++;
				if ((gap = cnproc_seq_gap(a->seq, ev.cpu, ev.seq)) > 0) {
					a->d->c.events_lost += gap;
					resync(a, "sequence gap");
				}
				on_event(a, &ev);
			}
			off += (len + 3) & ~3U;
		}
		if (now_mono() - start > BATCH_SECONDS)
			break;	/* the rest on the next turn: the fd stays readable */
	}
	read_newborns(a);
}

/*
 * A silent stream proves nothing (the listener count leaks, kernel.md §2.3):
 * after CHECK_SECONDS without an event, fork a child and expect its FORK.
 */
static void
check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;
	int		 status;

	(void)fd;
	(void)what;
	if (a->check_pid != 0) {
		waitpid(a->check_pid, &status, WNOHANG);
		if (!a->check_seen) {
			enum cn_sub	sub;
			int		nfd, got;

			log_warnx("proc connector: no FORK for our self-check "
			    "child %d; subscribing again", (int)a->check_pid);
			if ((nfd = cnproc_open(RCVBUF, ACK_MS, &sub, &got)) != -1) {
				event_del(a->ev_read);
				cnproc_close(a->fd, a->sub);
				a->fd = nfd;
				a->sub = sub;
				event_assign(a->ev_read, a->d->base, nfd,
				    EV_READ | EV_PERSIST, read_cb, a);
				event_add(a->ev_read, NULL);
			}
			resync(a, "the stream went silent");
		}
		a->check_pid = 0;
	} else if (a->nevents == a->nevents_at_check) {
		a->check_seen = 0;
		if ((a->check_pid = fork()) == 0)
			_exit(0);
		if (a->check_pid == -1)
			a->check_pid = 0;
	}
	a->nevents_at_check = a->nevents;
}

int
agent_open(enum cn_sub *sub)
{
	int	fd, got;

	*sub = CN_SUB_NONE;
	if (!agent_initial_namespaces()) {
		errno = EPERM;
		return -1;
	}
	if ((fd = cnproc_open(RCVBUF, ACK_MS, sub, &got)) == -1)
		return -1;
	if (got < RCVBUF)
		log_warnx("proc connector: receive buffer %d bytes (wanted %d: "
		    "needs CAP_NET_ADMIN); a stall loses events sooner", got,
		    RCVBUF);
	return fd;
}

struct agent *
agent_start(struct daemon *d, struct poller *pl, const struct target *t,
    int fd, enum cn_sub sub)
{
	struct agent	*a = xcalloc(1, sizeof(*a));
	struct timeval	 tv = { CHECK_SECONDS, 0 };

	a->d = d;
	a->pl = pl;
	a->t = t;
	a->fd = fd;
	a->sub = sub;
	a->seq = xcalloc(1, sizeof(*a->seq));
	RB_INIT(&a->born);
	a->ev_read = event_new(d->base, fd, EV_READ | EV_PERSIST, read_cb, a);
	a->ev_check = event_new(d->base, -1, EV_PERSIST, check_cb, a);
	event_add(a->ev_read, NULL);
	event_add(a->ev_check, &tv);
	return a;
}

const char *
agent_subscription(const struct agent *a)
{
	return a->sub == CN_SUB_FILTERED ? "filtered" : "legacy";
}

void
agent_free(struct agent *a)
{
	int	status;

	if (a == NULL)
		return;
	event_free(a->ev_read);
	event_free(a->ev_check);
	cnproc_close(a->fd, a->sub);
	if (a->check_pid > 0)
		waitpid(a->check_pid, &status, 0);
	forget_newborns(a);
	free(a->seq);
	free(a);
}
