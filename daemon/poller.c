/*
 * Sidecar discovery (source procfs_poll): a cheap ns_last_pid probe finds new
 * PIDs without a scan, one pidfd per process in one epoll set gives exact exit
 * times and codes, and a slow getdents64 diff is the safety net (kernel.md §12).
 * It also holds the table upkeep that agent.c and perfev.c drive (born, exit,
 * changed, unread exits), which makes it the longest module: that upkeep
 * shares the reads, the pidfd set and the exit accounting with discovery
 * (poller_examine, proc_gone, exit_seen), and a module of its own would have
 * to export all of them.
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "events.h"
#include "groups.h"
#include "log.h"
#include "poller.h"
#include "procfs.h"
#include "ptable.h"
#include "redact.h"
#include "taskstats.h"
#include "xmalloc.h"

/* Debian 12's uapi headers predate these (values from include/uapi/linux/pidfd.h). */
#define PIDCAR_PIDFD_INFO_EXIT	(1ULL << 3)
#define PIDCAR_PIDFD_GET_INFO	_IOWR(0xFF, 11, struct pidcar_pidfd_info)
struct pidcar_pidfd_info {
	uint64_t	mask;
	uint64_t	cgroupid;
	uint32_t	pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t		exit_code;
	uint32_t	coredump_mask;
	uint32_t	spare0;
};

#define PIDCAR_NS_GET_PID_FROM_PIDNS	_IOR(0xb7, 0x6, int)	/* 6.11+ */

#define PROBE_RANGE_MAX	4096	/* a bigger jump is cheaper as a scan */
#define SLICE_PIDS	128	/* new processes read per loop turn */
#define SLICE_SECONDS	0.005
#define FD_RESERVE	256	/* kept free for HTTP, /proc reads and logs */

struct pending {
	pid_t	pid;
	int	pidfd;		/* -1 when none was taken yet */
};

struct poller {
	struct daemon	*d;
	int		 agent;		/* events come from agent.c: no probe, no pidfds */
	int		 lastpid_fd;	/* /proc/sys/kernel/ns_last_pid, or -1 */
	pid_t		 last_pid;
	int		 epfd;
	long		 npidfds;
	long		 max_pidfds;
	unsigned	 gen;		/* full scans started */
	int		 scanfd;	/* O_DIRECTORY on the procfs root */
	struct event	*ev_probe;
	struct event	*ev_scan;
	struct event	*ev_epoll;
	struct event	*ev_slice;
	struct pending	*pend;		/* new pids waiting to be read */
	pid_t		 retry[64];	/* read mid-execve: arguments not set up yet */
	int		 nretry;
	int		 retry_round;
	struct event	*ev_retry;
	void		(*scan_hook)(void *);	/* drains a source before a scan */
	void		*scan_hook_arg;
	size_t		 npend, cappend, pendpos;
};

static int	poller_scan(struct poller *);

/* The host PID of the target's pid (agent mode), 0 when unknown. */
static pid_t
ns_to_host(const struct daemon *d, pid_t pid)
{
	int	r;

	if (d->nsfd == -1)
		return 0;
	r = ioctl(d->nsfd, PIDCAR_NS_GET_PID_FROM_PIDNS, pid);
	return r > 0 ? (pid_t)r : 0;
}

static int
sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static struct timeval
tv_of(double s)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* The wait status of a reaped process from its pidfd (6.15+), or -1. */
static int
pidfd_exit_status(int pidfd)
{
	struct pidcar_pidfd_info	info;

	memset(&info, 0, sizeof(info));
	info.mask = PIDCAR_PIDFD_INFO_EXIT;
	if (ioctl(pidfd, PIDCAR_PIDFD_GET_INFO, &info) == -1)
		return -1;
	if ((info.mask & PIDCAR_PIDFD_INFO_EXIT) == 0)
		return -1;
	return info.exit_code;
}

static void
count_exit(struct daemon *d, int wstatus)
{
	d->c.exits[exit_outcome_of(wstatus)]++;
}

/* Seconds since boot: stat's start times count from there (kernel.md §0.9). */
static double
now_boot(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A lifecycle event of a process of the table, into the ring. */
static void
emit(struct daemon *d, enum ev_type type, const struct proc *p)
{
	struct pevent	ev;

	if (d->events == NULL)
		return;
	events_from_proc(&ev, type, p, d->clk_tck, now_real(), now_boot());
	events_add(d->events, &ev);
}

void
poller_emit(struct poller *pl, int type, const struct proc *p)
{
	emit(pl->d, (enum ev_type)type, p);
}

/* Counts p's exit once, in the target's and in its group's counters. */
static void
exit_seen(struct daemon *d, struct proc *p)
{
	double	end = p->acct.exit_boot > 0 ? p->acct.exit_boot : now_boot();

	count_exit(d, p->exit_status);
	if (d->groups != NULL)
		groups_exited(d->groups, d->pt, p,
		    end - (double)p->start_ticks / (double)d->clk_tck, now_real());
	emit(d, EV_EXIT, p);
}

/* CPU times only grow: a stale or racing read must not take them back. */
static void
store_cpu(struct proc *p, const struct proc_stat *st)
{
	if (st->utime > p->utime)
		p->utime = st->utime;
	if (st->stime > p->stime)
		p->stime = st->stime;
	if (st->cutime > p->cutime)
		p->cutime = st->cutime;
	if (st->cstime > p->cstime)
		p->cstime = st->cstime;
}

static void
drop_pidfd(struct poller *pl, struct proc *p)
{
	if (p->pidfd == -1)
		return;
	close(p->pidfd);	/* closing the only reference leaves the epoll set */
	p->pidfd = -1;
	pl->npidfds--;
}

/* The process is gone for good: count its exit once and forget it. */
static void
proc_gone(struct poller *pl, struct proc *p)
{
	if (!p->exit_counted) {
		if (p->exit_status == -1 && p->pidfd != -1)
			p->exit_status = pidfd_exit_status(p->pidfd);
		exit_seen(pl->d, p);
	}
	log_debug("process %d (%s) gone, status %d", (int)p->pid, p->comm,
	    p->exit_status);
	drop_pidfd(pl, p);
	if (pl->d->groups != NULL)
		groups_gone(pl->d->groups, pl->d->pt, p, now_mono());
	ptable_remove(pl->d->pt, p);
}

/*
 * EPOLLIN: it exited and is a zombie or already reaped.  A zombie stays listed
 * (ps shows it too) until EPOLLHUP says its parent reaped it.
 */
static void
proc_exited(struct poller *pl, struct proc *p)
{
	struct proc_stat	st;

	p->exited = 1;
	p->acct.exit_boot = now_boot();
	p->exit_status = pidfd_exit_status(p->pidfd);
	/*
	 * The zombie's stat has the final CPU (fields 14-17) and, before 6.15,
	 * the only exit status (field 52); the reap takes both (kernel.md §12.2).
	 */
	if (procfs_read_stat(pl->d->procfd, p->pid, &st) == 0 &&
	    st.starttime == p->start_ticks &&
	    (st.state == 'Z' || st.state == 'X')) {
		p->state = st.state;
		p->threads = st.num_threads;
		ptable_set_ppid(pl->d->pt, p, st.ppid);
		/*
		 * An exec since the last refresh: the exit is the new name's, and
		 * the CPU since that refresh too (so re-match before storing it).
		 */
		if (strcmp(p->comm, st.comm) != 0 && pl->d->groups != NULL) {
			memcpy(p->comm, st.comm, sizeof(p->comm));
			groups_assign(pl->d->groups, pl->d->pt, p, pl->d->users,
			    now_mono());
		}
		store_cpu(p, &st);
		p->acct.final_cpu = 1;
		/* Its last children's CPU: what exit records did not explain is its group's. */
		if (pl->d->groups != NULL)
			groups_sample(pl->d->groups, p, now_mono());
		/*
		 * Field 52 reads 0 unless pidcar may ptrace-read the process
		 * (do_task_stat): trust it only where exe was readable, which
		 * needs the same access; else PIDFD_GET_INFO at the reap says.
		 */
		if (p->exit_status == -1 && p->exe != NULL)
			p->exit_status = st.exit_code;
	}
	if (p->exit_status != -1 && !p->exit_counted) {
		p->exit_counted = 1;
		exit_seen(pl->d, p);
	}
}

static void
epoll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poller		*pl = arg;
	struct epoll_event	 evs[256];
	int			 i, n;

	(void)fd;
	(void)what;
	do {
		n = epoll_wait(pl->epfd, evs, 256, 0);
		for (i = 0; i < n; i++) {
			pid_t		 pid = (pid_t)evs[i].data.u32;
			struct proc	*p = ptable_find(pl->d->pt, pid);

			if (p == NULL || p->pidfd == -1)
				continue;
			if ((evs[i].events & EPOLLIN) && !p->exited)
				proc_exited(pl, p);
			if (evs[i].events & EPOLLHUP)
				proc_gone(pl, p);
		}
	} while (n == 256);
}

static int
watch_pidfd(struct poller *pl, struct proc *p, int pidfd)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	/* Edge-triggered: IN once at the exit, again with HUP at the reap. */
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u32 = (uint32_t)p->pid;
	if (epoll_ctl(pl->epfd, EPOLL_CTL_ADD, pidfd, &ev) == -1) {
		log_warn("epoll_ctl pidfd of %d", (int)p->pid);
		close(pidfd);
		return -1;
	}
	p->pidfd = pidfd;
	pl->npidfds++;
	return 0;
}

/*
 * The effective uid and gid.  The owner of /proc/PID is the cheap answer, but a
 * process that changed its credentials is non-dumpable and its directory then
 * belongs to root.  A root owner is checked against status (the dearest file,
 * kernel.md §8.3) when first seen and on every 16th refresh after that.
 */
static void
read_owner(struct daemon *d, struct proc *p)
{
	struct proc_status	st;
	long long		uid, gid;

	if (procfs_owner(d->procfd, p->pid, &uid, &gid) == -1)
		return;
	if (uid != 0) {
		p->uid = uid;
		p->gid = gid;
		return;
	}
	if (p->uid != -1 && p->refresh_gen % 16 != 0)
		return;
	if (procfs_read_status(d->procfd, p->pid, &st) == 0) {
		p->uid = st.uid[1];
		p->gid = st.gid[1];
	}
}

/*
 * Reads the command line, unless hidden, and keeps only its redacted form:
 * JSON, text, metrics, events and match= all see no more than that.
 */
static void
read_cmdline(struct daemon *d, struct proc *p)
{
	char	*cmd;
	size_t	 len;

	free(p->cmdline);
	p->cmdline = NULL;
	p->cmdline_len = 0;
	/* With cmdline no, command lines are never read, so no query can probe them. */
	if (d->conf->cmdline &&
	    procfs_read_cmdline(d->procfd, p->pid, &cmd, &len) == 0) {
		p->cmdline = redact_apply(d->conf->redact, cmd, len,
		    &p->cmdline_len);
		explicit_bzero(cmd, len);
		free(cmd);
	}
}

void
poller_reread_cmdlines(struct daemon *d)
{
	struct proc	*p;

	for (p = ptable_first(d->pt); p != NULL; p = ptable_next(p))
		read_cmdline(d, p);
}

/* Reads what changes only at exec: command line (unless hidden) and exe. */
static void
read_identity(struct daemon *d, struct proc *p)
{
	read_cmdline(d, p);
	free(p->exe);
	p->exe = NULL;
	procfs_read_exe(d->procfd, p->pid, &p->exe);
}

/*
 * Re-reads exe and cmdline.  A new comm with a new exe or command line is
 * counted as an exec; a new comm alone is a rename (prctl PR_SET_NAME).
 */
static void
reread_identity(struct daemon *d, struct proc *p, int renamed)
{
	char	*exe = NULL, *cmd = NULL;
	size_t	 cmdlen = p->cmdline_len;

	if (renamed) {
		exe = xstrdup(p->exe);
		if (p->cmdline != NULL) {
			cmd = xmalloc(cmdlen + 1);
			memcpy(cmd, p->cmdline, cmdlen + 1);
		}
	}
	read_identity(d, p);
	/* A source that reports every exec counts it, not a refresh that saw it. */
	if (renamed && !d->execs_from_events && ((exe == NULL) != (p->exe == NULL) ||
	    (exe != NULL && strcmp(exe, p->exe) != 0) ||
	    (cmd != NULL && p->cmdline != NULL && (cmdlen != p->cmdline_len ||
	    memcmp(cmd, p->cmdline, cmdlen) != 0)))) {
		d->c.execs++;
		emit(d, EV_EXEC, p);
	}
	free(exe);
	free(cmd);
}

static void	retry_cb(evutil_socket_t, short, void *);

/*
 * Not a kernel thread, which never has arguments.  A readable exe says so,
 * but an unreadable one does not say the opposite: exe needs ptrace access,
 * which a sidecar without CAP_SYS_PTRACE lacks for more privileged processes.
 */
static int
user_process(const struct proc *p)
{
	return p->exe != NULL || (p->pid != 2 && p->ppid != 2);
}

/*
 * execve sets comm and exe before the new arguments (the ELF loader's
 * create_elf_tables), so a process read in between has an exe and no
 * arguments.  Its command line is read again 10 ms later, a few times, rather
 * than at a refresh that a request may reuse for refresh_age.
 */
static void
want_retry(struct poller *pl, struct proc *p)
{
	struct timeval	tv = { 0, 10000 };

	if (!pl->d->conf->cmdline || p->cmdline_len != 0 || !user_process(p) ||
	    p->state == 'Z' || pl->nretry == (int)(sizeof(pl->retry) /
	    sizeof(pl->retry[0])))
		return;
	if (pl->nretry++ == 0) {
		pl->retry_round = 0;
		evtimer_add(pl->ev_retry, &tv);
	}
	pl->retry[pl->nretry - 1] = p->pid;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poller	*pl = arg;
	struct daemon	*d = pl->d;
	struct timeval	 tv = { 0, 10000 };
	int		 i, n = 0;

	(void)fd;
	(void)what;
	pl->retry_round++;
	for (i = 0; i < pl->nretry; i++) {
		struct proc	*p = ptable_find(d->pt, pl->retry[i]);

		if (p == NULL || p->cmdline_len != 0 || !user_process(p))
			continue;
		reread_identity(d, p, 0);
		if (d->groups != NULL)
			groups_assign(d->groups, d->pt, p, d->users, now_mono());
		if (p->cmdline_len == 0 && pl->retry_round < 5)
			pl->retry[n++] = p->pid;
	}
	if ((pl->nretry = n) > 0)
		evtimer_add(pl->ev_retry, &tv);
}

/* Takes in one stat read of p, then reads io, fds and owner. */
/* What one stat read tells: state, parent, threads, memory, CPU. */
static void
store_sample(struct daemon *d, struct proc *p, const struct proc_stat *st,
    double now)
{
	unsigned long long	cpu;

	p->state = st->state;
	ptable_set_ppid(d->pt, p, st->ppid);
	p->threads = st->num_threads;
	p->vsize_bytes = st->vsize;
	p->rss_bytes = st->rss_pages > 0 ? (unsigned long long)st->rss_pages *
	    (unsigned long long)d->page_size : 0;
	store_cpu(p, st);
	cpu = st->utime + st->stime;
	if (p->sampled_at > 0 && now > p->sampled_at && cpu >= p->sampled_cpu)
		p->cpu_percent = 100.0 * (double)(cpu - p->sampled_cpu) /
		    (double)d->clk_tck / (now - p->sampled_at);
	p->sampled_at = now;
	p->sampled_cpu = cpu;
	p->refresh_gen++;
	if (d->groups != NULL)
		groups_sample(d->groups, p, now);
}

static void
apply_stats(struct daemon *d, struct proc *p, const struct proc_stat *stp,
    double now)
{
	const struct proc_stat	st = *stp;
	struct proc_io		io;
	long long		uid = p->uid;
	int			identity = 0, renamed;

	/* A new comm usually means an exec: the command line changed too. */
	renamed = p->comm[0] != '\0' && strcmp(p->comm, st.comm) != 0;
	/*
	 * execve sets comm and exe before the new argument pointers (ELF
	 * loader's create_elf_tables): a read in between sees no arguments.
	 * A process with an exe (no kernel thread) and none is read again.
	 */
	if (p->comm[0] != '\0' && st.state != 'Z' &&
	    (renamed || (d->conf->cmdline && (p->cmdline == NULL ||
	    (p->cmdline_len == 0 && user_process(p)))))) {
		reread_identity(d, p, renamed);
		identity = 1;
	}
	memcpy(p->comm, st.comm, sizeof(p->comm));
	/*
	 * Re-matched on exec and rename before the new CPU is stored: what a
	 * fork+exec'd program did since the last refresh is its new group's.
	 */
	if ((identity || renamed) && p->grp != NULL && d->groups != NULL)
		groups_assign(d->groups, d->pt, p, d->users, now);
	store_sample(d, p, &st, now);
	if (st.state == 'Z' || st.state == 'X') {
		/* No fds and no io, but one first seen as a zombie needs its owner. */
		if (p->uid < 0)
			read_owner(d, p);
		return;
	}
	if (procfs_read_io(d->procfd, p->pid, &io) == 0) {
		p->read_bytes = io.read_bytes;
		p->write_bytes = io.write_bytes;
	} else if (!PROCFS_VANISHED(errno))
		d->c.read_errors++;
	if (procfs_count_fds(d->procfd, p->pid, &p->fds) == -1) {
		p->fds = -1;
		if (!PROCFS_VANISHED(errno))
			d->c.read_errors++;
	}
	read_owner(d, p);
	/* And on an owner change (setuid after the fork, no exec). */
	if (p->uid != uid && p->grp != NULL && d->groups != NULL)
		groups_assign(d->groups, d->pt, p, d->users, now);
}

int
poller_read_stats(struct daemon *d, struct proc *p, double now)
{
	struct proc_stat	st;

	if (procfs_read_stat(d->procfd, p->pid, &st) == -1)
		return -1;
	if (st.starttime != p->start_ticks) {
		errno = ESRCH;	/* the PID was reused: ours is gone */
		return -1;
	}
	apply_stats(d, p, &st, now);
	return 0;
}

/* A new process whose stat was just read: the rest of it, without reading stat again. */
static void
read_new(struct daemon *d, struct proc *p, const struct proc_stat *st)
{
	apply_stats(d, p, st, now_mono());
	/* apply_stats read them unless cmdline is off or it is a zombie. */
	if (p->exe == NULL && p->cmdline == NULL)
		read_identity(d, p);
}

/*
 * A PID that the probe or a scan found: key it by its start time, read it once
 * and watch its pidfd.  Takes pidfd (or -1).
 */
static void
poller_examine(struct poller *pl, pid_t pid, int pidfd)
{
	struct daemon		*d = pl->d;
	struct proc_stat	 st;
	struct proc		*p;

	if (procfs_read_stat(d->procfd, pid, &st) == -1) {
		if (pidfd != -1 && !pl->agent) {
			struct unread_exit	u;

			/* Born and gone between two looks: its code is still known. */
			memset(&u, 0, sizeof(u));
			u.pid = pid;
			u.status = pidfd_exit_status(pidfd);
			close(pidfd);
			poller_exit_unread(pl, &u);
		} else if (!PROCFS_VANISHED(errno))
			d->c.read_errors++;
		return;
	}
	if ((p = ptable_find(d->pt, pid)) != NULL) {
		if (p->start_ticks == st.starttime) {
			if (pidfd != -1)
				close(pidfd);
			p->scan_gen = pl->gen;
			return;
		}
		proc_gone(pl, p);	/* its PID was reused under us */
	}
	if ((p = ptable_add(d->pt, pid, st.starttime)) == NULL)
		fatalx("ptable_add %d", (int)pid);
	p->scan_gen = pl->gen;
	memcpy(p->comm, st.comm, sizeof(p->comm));
	if (pl->agent) {
		/* FORK events are counted, exits come as EXIT events: no pidfd. */
		ptable_set_host(d->pt, p, ns_to_host(d, pid));
	} else {
		d->c.forks++;
		if (pidfd == -1 && pl->npidfds < pl->max_pidfds) {
			if ((pidfd = sys_pidfd_open(pid)) == -1 && errno == EMFILE)
				log_warnx("out of file descriptors for pidfds");
		} else if (pidfd == -1)
			d->c.pidfd_short++;
	}
	if (pidfd != -1)
		watch_pidfd(pl, p, pidfd);
	read_new(d, p, &st);
	want_retry(pl, p);
	if (d->groups != NULL)
		groups_assign(d->groups, d->pt, p, d->users, now_mono());
	/* Agent mode emits its FORKs itself: a resync's finds are not forks. */
	if (!pl->agent && d->ready)
		emit(d, EV_FORK, p);
	/* A pidfd taken after the exit fires at once; without one, a scan tells. */
}

struct proc *
poller_born_from(struct poller *pl, pid_t pid, const struct proc *par)
{
	struct daemon		*d = pl->d;
	struct proc_stat	 st;
	struct proc		*p;

	if (par == NULL)
		return poller_born(pl, pid);
	if (procfs_read_stat(d->procfd, pid, &st) == -1) {
		if (!PROCFS_VANISHED(errno))
			d->c.read_errors++;
		return NULL;
	}
	if ((p = ptable_find(d->pt, pid)) != NULL) {
		if (p->start_ticks == st.starttime)
			return p;
		proc_gone(pl, p);
	}
	if ((p = ptable_add(d->pt, pid, st.starttime)) == NULL)
		fatalx("ptable_add %d", (int)pid);
	p->scan_gen = pl->gen;
	memcpy(p->comm, st.comm, sizeof(p->comm));
	if (strcmp(par->comm, st.comm) == 0 && st.state != 'Z') {
		/*
		 * A fork copies its parent's program, arguments and owner: one
		 * stat read instead of seven.  An exec, rename or set*id after
		 * it comes as an event of its own; fds and io wait for a refresh.
		 */
		p->uid = par->uid;
		p->gid = par->gid;
		ptable_set_exe(p, par->exe);
		ptable_set_cmdline(p, par->cmdline, par->cmdline_len);
	} else {
		read_identity(d, p);
		/*
		 * Exec'd since.  A root parent's child in a root-owned /proc
		 * directory is root: no status read (a storm of execs makes
		 * thousands).  A set*id call comes as an event, and then the
		 * caller passes no parent; what remains (root running a set-uid
		 * program of another user) is set right by the refresh that
		 * checks root-owned processes' status every 16th time.
		 */
		if (par->uid == 0) {
			p->uid = 0;
			p->gid = par->gid;
			p->refresh_gen = 1;
		}
		read_owner(d, p);
		want_retry(pl, p);
	}
	store_sample(d, p, &st, now_mono());
	if (d->groups != NULL)
		groups_assign(d->groups, d->pt, p, d->users, now_mono());
	return p;
}

struct proc *
poller_born(struct poller *pl, pid_t pid)
{
	poller_examine(pl, pid, -1);
	return ptable_find(pl->d->pt, pid);
}

/* Taskstats' final CPU and high-water mark of p, kept to the microsecond. */
static void
apply_taskstats(struct daemon *d, struct proc *p, const struct ts_record *ts)
{
	/* Its name at the exit: an exec pidcar could not read in time shows here. */
	if (ts->comm[0] != '\0' && strncmp(p->comm, ts->comm,
	    sizeof(p->comm)) != 0) {
		strlcpy(p->comm, ts->comm, sizeof(p->comm));
		if (d->groups != NULL)
			groups_assign(d->groups, d->pt, p, d->users, now_mono());
	}
	p->acct.ts_cpu = 1;
	p->acct.ts_us[0] = ts->user_us;
	p->acct.ts_us[1] = ts->system_us;
	p->acct.ts_rss_kb = (long long)ts->hiwater_rss_kb;
	if (d->groups != NULL)
		groups_final_cpu(d->groups, p, ts->user_us, ts->system_us);
}

void
poller_exit(struct poller *pl, struct proc *p, int wstatus,
    const struct ts_record *ts)
{
	struct proc_stat	st;
	int			pidfd;

	p->exited = 1;
	p->exit_status = wstatus;
	p->acct.exit_boot = now_boot();
	/*
	 * With its exit record the final CPU is known: whether it is still a
	 * zombie is a pidfd_open away, cheaper than a stat read (a fork storm's
	 * exits).  Its own children's last cutime is what this gives up.
	 */
	if (ts != NULL && p->host_pid > 0 && p->pidfd == -1) {
		apply_taskstats(pl->d, p, ts);
		p->acct.final_cpu = 1;
		if ((pidfd = sys_pidfd_open(p->host_pid)) != -1) {
			p->state = 'Z';
			if (!p->exit_counted) {
				p->exit_counted = 1;
				exit_seen(pl->d, p);
			}
			if (watch_pidfd(pl, p, pidfd) == 0)
				return;
		}
		proc_gone(pl, p);
		return;
	}
	/* Still a zombie (its parent has not waited): listed until the reap. */
	if (procfs_read_stat(pl->d->procfd, p->pid, &st) == 0 &&
	    st.starttime == p->start_ticks &&
	    (st.state == 'Z' || st.state == 'X')) {
		p->state = st.state;
		p->threads = st.num_threads;
		store_cpu(p, &st);
		p->acct.final_cpu = 1;
		if (pl->d->groups != NULL)
			groups_sample(pl->d->groups, p, now_mono());
		if (ts != NULL)
			apply_taskstats(pl->d, p, ts);
		if (!p->exit_counted) {
			p->exit_counted = 1;
			exit_seen(pl->d, p);
		}
		/* The connector says nothing at the reap: a pidfd's EPOLLHUP does. */
		if (p->pidfd == -1 && p->host_pid > 0 &&
		    (pidfd = sys_pidfd_open(p->host_pid)) != -1)
			watch_pidfd(pl, p, pidfd);
		if (p->pidfd != -1)
			return;
	} else if (ts != NULL)
		apply_taskstats(pl->d, p, ts);
	proc_gone(pl, p);
}

void
poller_count_exit(struct poller *pl, int wstatus)
{
	struct unread_exit	u;

	memset(&u, 0, sizeof(u));
	u.status = wstatus;
	poller_exit_unread(pl, &u);
}

void
poller_exit_unread(struct poller *pl, const struct unread_exit *u)
{
	struct daemon	*d = pl->d;
	struct proc	*par = NULL;
	struct pevent	 ev;
	double		 now = now_real();

	count_exit(d, u->status);
	if (u->parent_host > 0)
		par = ptable_find_host(d->pt, u->parent_host);
	else if (u->ppid > 0)
		par = ptable_find(d->pt, u->ppid);
	if (d->groups != NULL)
		groups_exited_unread(d->groups, d->pt, par, u->ts != NULL ?
		    u->ts->comm : u->comm, u->status, u->ts, now_mono());
	if (d->events == NULL)
		return;
	/* It was born and is gone: both halves of its life, as far as known. */
	events_blank(&ev, EV_FORK, now);
	ev.pid = u->pid;
	ev.ppid = par != NULL ? par->pid : u->ppid;
	ev.host_pid = u->host_pid;
	if (u->ts != NULL)
		strlcpy(ev.comm, u->ts->comm, sizeof(ev.comm));
	else if (u->comm != NULL)
		strlcpy(ev.comm, u->comm, sizeof(ev.comm));
	events_add(d->events, &ev);
	ev.type = EV_EXIT;
	ev.status = u->status;
	if (u->ts != NULL) {
		ev.cpu = EV_CPU_TASKSTATS;
		ev.cpu_user = (double)u->ts->user_us / 1e6;
		ev.cpu_system = (double)u->ts->system_us / 1e6;
		ev.lifetime = (double)u->ts->etime_us / 1e6;
		ev.max_rss_bytes = (long long)u->ts->hiwater_rss_kb * 1024;
	}
	events_add(d->events, &ev);
}

void
poller_changed(struct poller *pl, struct proc *p, int exec)
{
	struct daemon	*d = pl->d;
	struct proc_stat st;

	if (procfs_read_stat(d->procfd, p->pid, &st) == 0 &&
	    st.starttime == p->start_ticks)
		memcpy(p->comm, st.comm, sizeof(p->comm));
	if (exec) {
		read_identity(d, p);
		want_retry(pl, p);
		emit(d, EV_EXEC, p);
	}
	read_owner(d, p);
	if (d->groups != NULL)
		groups_assign(d->groups, d->pt, p, d->users, now_mono());
}

static void
pending_push(struct poller *pl, pid_t pid, int pidfd)
{
	if (pl->npend == pl->cappend) {
		pl->cappend = pl->cappend ? pl->cappend * 2 : 1024;
		pl->pend = xreallocarray(pl->pend, pl->cappend, sizeof(*pl->pend));
	}
	pl->pend[pl->npend].pid = pid;
	pl->pend[pl->npend].pidfd = pidfd;
	pl->npend++;
}

/* Reads queued new processes for at most a slice, then yields to the loop. */
static void
slice_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poller	*pl = arg;
	double		 start = now_mono();
	size_t		 done = 0;

	(void)fd;
	(void)what;
	while (pl->pendpos < pl->npend) {
		struct pending	*e = &pl->pend[pl->pendpos++];

		poller_examine(pl, e->pid, e->pidfd);
		if (++done % 16 == 0 && (done >= SLICE_PIDS ||
		    now_mono() - start > SLICE_SECONDS))
			break;
	}
	if (pl->pendpos < pl->npend) {
		event_active(pl->ev_slice, EV_TIMEOUT, 0);
		return;
	}
	pl->npend = pl->pendpos = 0;
	if (!pl->d->ready) {
		pl->d->ready = 1;
		log_info("watching %zu processes (source %s)",
		    ptable_count(pl->d->pt), pl->d->source);
	}
}

/* Forgets processes without a pidfd that the last full scan did not see. */
static void
sweep_unseen(struct poller *pl)
{
	struct proc	*p, *next;

	for (p = ptable_first(pl->d->pt); p != NULL; p = next) {
		next = ptable_next(p);
		if (p->pidfd == -1 && p->scan_gen != pl->gen)
			proc_gone(pl, p);
	}
}

/* A full getdents64 diff of the procfs root: the safety net, ~1 us per PID. */
static int
poller_scan(struct poller *pl)
{
	char			 dbuf[32768];
	long			 n;

	/*
	 * Events queued before the scan come first: a process reaped since its
	 * EXIT was sent must not be taken for one that vanished unexplained.
	 */
	if (pl->scan_hook != NULL)
		pl->scan_hook(pl->scan_hook_arg);
	pl->gen++;
	pl->d->c.scans++;
	if (lseek(pl->scanfd, 0, SEEK_SET) == -1)
		return -1;
	while ((n = syscall(SYS_getdents64, pl->scanfd, dbuf, sizeof(dbuf))) > 0) {
		long	off = 0;

		while (off < n) {
			struct dirent64	*de = (struct dirent64 *)(dbuf + off);
			const char	*s = de->d_name;
			long		 pid = 0;

			off += de->d_reclen;
			if (*s < '1' || *s > '9')
				continue;
			for (; *s >= '0' && *s <= '9' && pid < 1L << 30; s++)
				pid = pid * 10 + (*s - '0');
			if (*s != '\0')
				continue;
			struct proc *p = ptable_find(pl->d->pt, (pid_t)pid);
			if (p != NULL)
				p->scan_gen = pl->gen;
			else
				pending_push(pl, (pid_t)pid, -1);
		}
	}
	if (n == -1) {
		log_warn("getdents64 of the procfs root");
		return -1;
	}
	/* What is still pending gets this gen when read; the rest was not seen. */
	sweep_unseen(pl);
	if (pl->npend > pl->pendpos)
		event_active(pl->ev_slice, EV_TIMEOUT, 0);
	return 0;
}

static void
scan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poller_scan(arg);
}

static int
read_last_pid(struct poller *pl, pid_t *out)
{
	char	buf[32];
	ssize_t	n;

	if ((n = pread(pl->lastpid_fd, buf, sizeof(buf), 0)) <= 0)
		return -1;
	return procfs_parse_pid(buf, (size_t)n, out);
}

/*
 * ns_last_pid is the last PID handed out in our namespace: when it moves from P
 * to Q the new processes are among P+1..Q, and pidfd_open finds them without
 * a scan (kernel.md §12.1).  A wrap or a big jump falls back to a scan.
 */
static void
probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poller	*pl = arg;
	pid_t		 q, pid;

	(void)fd;
	(void)what;
	if (read_last_pid(pl, &q) == -1 || q == pl->last_pid)
		return;
	pl->d->c.probes++;
	if (q < pl->last_pid || q - pl->last_pid > PROBE_RANGE_MAX) {
		pl->last_pid = q;
		poller_scan(pl);
		return;
	}
	for (pid = pl->last_pid + 1; pid <= q; pid++) {
		int	pidfd;

		if (ptable_find(pl->d->pt, pid) != NULL)
			continue;
		if (pl->npidfds >= pl->max_pidfds) {
			pending_push(pl, pid, -1);
			continue;
		}
		/* ESRCH: already gone; EINVAL: a thread, not a process. */
		if ((pidfd = sys_pidfd_open(pid)) == -1)
			continue;
		poller_examine(pl, pid, pidfd);
	}
	pl->last_pid = q;
	if (pl->npend > pl->pendpos)
		event_active(pl->ev_slice, EV_TIMEOUT, 0);
}

static long
pidfd_budget(const struct daemon *d)
{
	struct rlimit	rl;
	long		budget;

	/* Raise the soft limit to the hard one: pidfds cost one fd each (§12.2). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("raising RLIMIT_NOFILE");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	budget = (long)(rl.rlim_cur > 1L << 24 ? 1L << 24 : rl.rlim_cur) -
	    FD_RESERVE - d->conf->max_connections;
	return budget > 0 ? budget : 0;
}

void
poller_reconfigure(struct poller *pl)
{
	struct timeval	tv;

	tv = tv_of(pl->d->conf->poll_interval);
	if (pl->lastpid_fd != -1)
		event_add(pl->ev_probe, &tv);
	/*
	 * In agent mode the connector is exact and says when it lost something
	 * (then a resync scans at once): the periodic scan only backs up the
	 * backup, so it runs at a tenth of the rate (at 10 000 processes a scan
	 * was a third of the idle CPU).
	 */
	tv = tv_of(pl->d->conf->scan_interval * (pl->agent ? 10 : 1));
	event_add(pl->ev_scan, &tv);
}

struct poller *
poller_start(struct daemon *d)
{
	struct poller	*pl = xcalloc(1, sizeof(*pl));

	pl->d = d;
	pl->agent = d->nsfd != -1;
	pl->max_pidfds = d->feat.pidfd && !pl->agent ? pidfd_budget(d) : 0;
	if ((pl->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("epoll_create1");
		free(pl);
		return NULL;
	}
	if ((pl->scanfd = openat(d->procfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		log_warn("open the procfs root");
		close(pl->epfd);
		free(pl);
		return NULL;
	}
	/* ns_last_pid is the reader's namespace's, useless for another target. */
	pl->lastpid_fd = pl->agent ? -1 : openat(d->procfd,
	    "sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
	if (pl->lastpid_fd == -1 && !pl->agent)
		log_warn("ns_last_pid (new processes are found by scans only)");
	else
		read_last_pid(pl, &pl->last_pid);
	pl->ev_probe = event_new(d->base, -1, EV_PERSIST, probe_cb, pl);
	pl->ev_scan = event_new(d->base, -1, EV_PERSIST, scan_cb, pl);
	pl->ev_epoll = event_new(d->base, pl->epfd, EV_READ | EV_PERSIST,
	    epoll_cb, pl);
	pl->ev_slice = event_new(d->base, -1, 0, slice_cb, pl);
	pl->ev_retry = evtimer_new(d->base, retry_cb, pl);
	event_add(pl->ev_epoll, NULL);
	poller_reconfigure(pl);
	/* Probe first, scan second: what forks during the scan is probed. */
	if (poller_scan(pl) == -1) {
		poller_free(pl);
		return NULL;
	}
	if (pl->npend == 0)
		event_active(pl->ev_slice, EV_TIMEOUT, 0);
	return pl;
}

int
poller_probe_exit_info(void)
{
	pid_t	pid;
	int	pidfd, status, ok;

	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0)
		_exit(42);
	pidfd = sys_pidfd_open(pid);	/* a zombie child can still be opened */
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (pidfd == -1)
		return 0;
	ok = pidfd_exit_status(pidfd) == status;
	close(pidfd);
	return ok;
}

void
poller_rescan(struct poller *pl)
{
	event_active(pl->ev_scan, EV_TIMEOUT, 0);
}

void
poller_before_scans(struct poller *pl, void (*cb)(void *), void *arg)
{
	pl->scan_hook = cb;
	pl->scan_hook_arg = arg;
}

void
poller_retarget(struct poller *pl)
{
	struct daemon	*d = pl->d;
	struct proc	*p, *next;
	size_t		 i;
	int		 fd;

	/* The old namespace's processes are gone (their exits counted as they came). */
	for (p = ptable_first(d->pt); p != NULL; p = next) {
		next = ptable_next(p);
		proc_gone(pl, p);
	}
	for (i = pl->pendpos; i < pl->npend; i++)
		if (pl->pend[i].pidfd != -1)
			close(pl->pend[i].pidfd);
	pl->npend = pl->pendpos = 0;
	pl->nretry = 0;
	if ((fd = openat(d->procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		log_warn("the new target's procfs");
	else {
		close(pl->scanfd);
		pl->scanfd = fd;
	}
	poller_rescan(pl);
}

long
poller_pidfds(const struct poller *pl)
{
	return pl->npidfds;
}

void
poller_free(struct poller *pl)
{
	struct proc	*p;
	size_t		 i;

	if (pl == NULL)
		return;
	event_free(pl->ev_probe);
	event_free(pl->ev_scan);
	event_free(pl->ev_epoll);
	event_free(pl->ev_slice);
	event_free(pl->ev_retry);
	for (p = ptable_first(pl->d->pt); p != NULL; p = ptable_next(p))
		drop_pidfd(pl, p);
	for (i = pl->pendpos; i < pl->npend; i++)
		if (pl->pend[i].pidfd != -1)
			close(pl->pend[i].pidfd);
	free(pl->pend);
	if (pl->lastpid_fd != -1)
		close(pl->lastpid_fd);
	close(pl->scanfd);
	close(pl->epfd);
	free(pl);
}

/*
 * Sidecar event sources (perfev.c, fanexec.c) drive the table through what
 * follows: processes they report, the exits they see, and the order of work
 * that keeps each process counted once.
 */

int
poller_take_pidfd(struct poller *pl, pid_t pid)
{
	if (pl->npidfds >= pl->max_pidfds) {
		errno = EMFILE;
		return -1;
	}
	return sys_pidfd_open(pid);
}

void
poller_gone_unread(struct poller *pl, pid_t pid, pid_t ppid, const char *comm,
    int status)
{
	struct unread_exit	u;

	memset(&u, 0, sizeof(u));
	u.pid = pid;
	u.ppid = ppid;
	u.comm = comm != NULL && comm[0] != '\0' ? comm : NULL;
	u.status = status;
	pl->d->c.forks++;
	poller_exit_unread(pl, &u);
}

void
poller_discovered(struct poller *pl, pid_t pid, pid_t ppid, const char *comm,
    int pidfd)
{
	struct daemon	*d = pl->d;
	uint64_t	 forks = d->c.forks;

	poller_examine(pl, pid, pidfd);
	/*
	 * Not in the table and not counted: gone before its stat could be read.
	 * With a pidfd, poller_examine counted the exit with its code already.
	 */
	if (d->c.forks != forks || ptable_find(d->pt, pid) != NULL)
		return;
	if (pidfd != -1)
		d->c.forks++;
	else
		poller_gone_unread(pl, pid, ppid, comm, -1);
}

void
poller_exit_seen(struct poller *pl, struct proc *p)
{
	int	pidfd;

	if (p->pidfd != -1 || p->exited)
		return;		/* the pidfd tells, with the code */
	/* One over the budget until the reap: it fires at once if it exited. */
	if ((pidfd = sys_pidfd_open(p->pid)) != -1) {
		watch_pidfd(pl, p, pidfd);
		return;
	}
	proc_exited(pl, p);
	if (p->state != 'Z' && p->state != 'X')
		proc_gone(pl, p);
}

void
poller_reread_identity(struct poller *pl, struct proc *p)
{
	struct daemon	*d = pl->d;

	reread_identity(d, p, 0);
	if (d->groups != NULL)
		groups_assign(d->groups, d->pt, p, d->users, now_mono());
}

void
poller_set_probe(struct poller *pl, int on)
{
	struct timeval	tv;

	if (pl->agent)
		return;
	if (!on) {
		event_del(pl->ev_probe);
		if (pl->lastpid_fd != -1)
			close(pl->lastpid_fd);
		pl->lastpid_fd = -1;	/* and poller_reconfigure leaves it off */
		return;
	}
	if (pl->lastpid_fd != -1)
		return;
	if ((pl->lastpid_fd = openat(pl->d->procfd, "sys/kernel/ns_last_pid",
	    O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("ns_last_pid (new processes are found by scans only)");
		return;
	}
	read_last_pid(pl, &pl->last_pid);
	tv = tv_of(pl->d->conf->poll_interval);
	event_add(pl->ev_probe, &tv);
	poller_rescan(pl);	/* what was born while it was off */
}

static void
hooked_epoll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poller_hook	*h = arg;

	h->cb(h->arg);
	epoll_cb(fd, what, h->pl);
}

void
poller_before_exits(struct poller *pl, struct poller_hook *h)
{
	event_del(pl->ev_epoll);
	if (h != NULL) {
		h->pl = pl;
		event_assign(pl->ev_epoll, pl->d->base, pl->epfd,
		    EV_READ | EV_PERSIST, hooked_epoll_cb, h);
	} else
		event_assign(pl->ev_epoll, pl->d->base, pl->epfd,
		    EV_READ | EV_PERSIST, epoll_cb, pl);
	event_add(pl->ev_epoll, NULL);
}
