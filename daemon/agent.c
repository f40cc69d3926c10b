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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>

#include <bsd/sys/tree.h>
#include <event2/event.h>

#include "agent.h"
#include "cnproc.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "poller.h"
#include "ptable.h"
#include "target.h"
#include "taskstats.h"
#include "xmalloc.h"

#define RCVBUF		(8 << 20)	/* a 1 s stall of an exec storm fits (§7) */
#define ACK_MS		250
#define CHECK_SECONDS	5		/* silent this long: prove the stream */
#define BATCH_SECONDS	0.005
#define TS_KEEP_SECONDS	2.0		/* an exit record waits this long for its EXIT */
#define TS_MAX_RECS	65536
/*
 * A FORK is read from /proc this long after it arrives: most of a fork
 * storm's children are gone by then and cost no read at all (their EXIT and
 * exit record say everything), and an exec right after the fork is read once.
 */
#define NEWBORN_WAIT	0.003
#define EXEC_WAIT	0.001		/* the same after an EXEC */
#define GATHER_SECONDS	0.001
#define GATHER_RATE	2000		/* events a second that make a storm */
#define GATHER_WINDOW	0.01
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
	pid_t			 parent;	/* host PID of its parent (tgid) */
	int			 execs;		/* EXECs before it was read */
	int			 ids;		/* UID/GID events before it was read */
	double			 at;		/* monotonic, when its FORK was handled */
	int			 has_ts;
	struct ts_record	 ts;
};
RB_HEAD(newborns, newborn);
RB_PROTOTYPE(newborns, newborn, entry, newborn_cmp)

/*
 * Taskstats exit records of the target's processes, by host tgid, until the
 * connector's EXIT of the process joins them.  The kernel sends the record
 * before the EXIT (do_exit: taskstats_exit, then proc_exit_connector), so
 * draining this socket first finds it.  Threads' records add up into their
 * process's.
 */
struct exitrec {
	RB_ENTRY(exitrec)	 entry;
	pid_t			 tgid;
	int			 leader;	/* the process's own record arrived */
	double			 at;		/* monotonic */
	struct ts_record	 r;		/* sums over its threads */
};
RB_HEAD(exitrecs, exitrec);
RB_PROTOTYPE(exitrecs, exitrec, entry, exitrec_cmp)

struct agent {
	struct daemon		*d;
	struct poller		*pl;
	const struct target	*t;
	int			 fd;
	enum cn_sub		 sub;
	struct cn_seq		*seq;
	struct newborns		 born;
	size_t			 nborn;
	struct ts_listener	*ts;		/* NULL: no taskstats */
	struct exitrecs		 recs;	/* drained with the connector: no wakeup of its own */
	size_t			 nrecs;
	double			 expired_at;
	struct event		*ev_read;
	struct event		*ev_check;
	struct event		*ev_born;	/* reads the newborns NEWBORN_WAIT old */
	struct event		*ev_gather;	/* reads the socket while events keep coming */
	double			 window_at;	/* the storm detector's 10 ms window */
	uint64_t		 window_events;
	uint64_t		 nevents;
	uint64_t		 nevents_at_check;
	pid_t			 check_pid;	/* our self-check child, or 0 */
	int			 check_seen;
	char			 buf[1 << 16];
	char			 tsbuf[1 << 16];
};

static int
newborn_cmp(struct newborn *a, struct newborn *b)
{
	return a->host < b->host ? -1 : a->host > b->host;
}
RB_GENERATE(newborns, newborn, entry, newborn_cmp)

static int
exitrec_cmp(struct exitrec *a, struct exitrec *b)
{
	return a->tgid < b->tgid ? -1 : a->tgid > b->tgid;
}
RB_GENERATE(exitrecs, exitrec, entry, exitrec_cmp)

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

/*
 * Keeps one taskstats record.  Every one, not only the target's: a process
 * born and gone within one batch has its record drained before its FORK is
 * decoded.  Records no EXIT claims expire (expire_records).
 */
static void
keep_record(struct agent *a, const struct ts_record *r, double now)
{
	struct exitrec	*x, key;

	key.tgid = r->tgid;
	if ((x = RB_FIND(exitrecs, &a->recs, &key)) == NULL) {
		x = xcalloc(1, sizeof(*x));
		x->tgid = r->tgid;
		x->r.hiwater_rss_kb = 0;
		RB_INSERT(exitrecs, &a->recs, x);
		a->nrecs++;
	}
	x->at = now;
	x->r.utime_us += r->utime_us;
	x->r.stime_us += r->stime_us;
	x->r.run_virtual_ns += r->run_virtual_ns;
	x->r.user_us += r->user_us;
	x->r.system_us += r->system_us;
	if (r->hiwater_rss_kb > x->r.hiwater_rss_kb)
		x->r.hiwater_rss_kb = r->hiwater_rss_kb;
	x->r.read_bytes += r->read_bytes;
	x->r.write_bytes += r->write_bytes;
	if (r->pid == r->tgid) {
		x->leader = 1;
		x->r.pid = r->pid;
		x->r.tgid = r->tgid;
		x->r.ppid = r->ppid;
		x->r.exit_code = r->exit_code;
		x->r.etime_us = r->etime_us;
		memcpy(x->r.comm, r->comm, sizeof(x->r.comm));
	}
}

/* Reads every queued exit record (the kernel sent them before the EXITs). */
static void
drain_taskstats(struct agent *a)
{
	struct ts_record r;
	double		 now = now_mono();
	ssize_t		 n;
	int		 fd;

	if (a->ts == NULL)
		return;
	fd = taskstats_fd(a->ts);
	while ((n = recv(fd, a->tsbuf, sizeof(a->tsbuf), MSG_DONTWAIT)) != 0) {
		const struct nlmsghdr	*nh;
		size_t			 off = 0;

		if (n == -1) {
			if (errno == ENOBUFS) {
				a->d->c.ts_lost++;
				continue;
			}
			break;
		}
		while (off + sizeof(*nh) <= (size_t)n) {
			nh = (const struct nlmsghdr *)(void *)(a->tsbuf + off);
			if (nh->nlmsg_len < sizeof(*nh) ||
			    off + nh->nlmsg_len > (size_t)n)
				break;
			if (taskstats_decode(nh, nh->nlmsg_len, &r) == 0)
				keep_record(a, &r, now);
			off += NLMSG_ALIGN(nh->nlmsg_len);
		}
	}
}

/* Takes the process's exit record (NULL when none came), for out. */
static int
take_record(struct agent *a, pid_t tgid, struct ts_record *out)
{
	struct exitrec	*x, key;

	if (a->ts == NULL)
		return 0;
	key.tgid = tgid;
	if ((x = RB_FIND(exitrecs, &a->recs, &key)) == NULL || !x->leader) {
		/* Its EXIT came after the batch's first drain: so did the record. */
		drain_taskstats(a);
		if ((x = RB_FIND(exitrecs, &a->recs, &key)) == NULL ||
		    !x->leader) {
			a->d->c.ts_missing++;
			return 0;
		}
	}
	*out = x->r;
	RB_REMOVE(exitrecs, &a->recs, x);
	a->nrecs--;
	free(x);
	a->d->c.ts_joined++;
	return 1;
}

/*
 * Records no EXIT claimed: other namespaces', threads' of live processes, a
 * missed EXIT.  Past TS_MAX_RECS (a host-wide exit storm) only the newest
 * tenth of a second is kept.
 */
static void
expire_records(struct agent *a, double now, int all)
{
	struct exitrec	*x, *next;
	double		 keep = a->nrecs > TS_MAX_RECS ? 0.1 : TS_KEEP_SECONDS;

	RB_FOREACH_SAFE(x, exitrecs, &a->recs, next) {
		if (!all && now - x->at < keep)
			continue;
		RB_REMOVE(exitrecs, &a->recs, x);
		a->nrecs--;
		free(x);
	}
}

/*
 * Whether host process ptgid makes its children in the target: a setns()
 * entrant (nsenter, docker exec) is outside, its pid_for_children inside.
 */
static int
forks_into_target(struct agent *a, pid_t ptgid)
{
	char		path[64];
	struct stat	st;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid_for_children", (int)ptgid);
	return stat(path, &st) == 0 && (unsigned long long)st.st_ino ==
	    a->d->pidns_ino;
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
		if (!in_target(a, ev->ptgid) && !forks_into_target(a, ev->ptgid))
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
	nb->at = now_mono();
	nb->parent = ev->ptgid;
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
		nb->has_ts = take_record(a, ev->pid, &nb->ts);
		return;
	}
	if ((p = ptable_find_host(a->d->pt, ev->pid)) != NULL) {
		struct ts_record	r;

		poller_exit(a->pl, p, ev->exit_code,
		    take_record(a, ev->pid, &r) ? &r : NULL);
	}
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
		if (ev->pid != ev->tgid)
			break;
		if ((p = ptable_find_host(a->d->pt, ev->pid)) == NULL) {
			struct newborn	*nb, key;

			/* Not read yet: its read shows the new program; count the exec now. */
			key.host = ev->pid;
			if ((nb = RB_FIND(newborns, &a->born, &key)) != NULL &&
			    (ev->type == CN_UID || ev->type == CN_GID))
				nb->ids = 1;	/* its owner is not its parent's */
			if (ev->type == CN_EXEC && nb != NULL) {
				a->d->c.execs++;
				nb->execs++;
				/* A program to show: read it sooner, once its exec is done. */
				nb->at = now_mono() - NEWBORN_WAIT + EXEC_WAIT;
			}
			break;
		}
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
	struct timeval	 tv = { 0, 0 };
	double		 now = now_mono(), soonest = NEWBORN_WAIT;

	RB_FOREACH_SAFE(nb, newborns, &a->born, next) {
		if (!nb->exited && now - nb->at < NEWBORN_WAIT) {
			if (nb->at + NEWBORN_WAIT - now < soonest)
				soonest = nb->at + NEWBORN_WAIT - now;
			tv.tv_usec = (suseconds_t)(soonest * 1e6) + 1;
			continue;
		}
		if (!nb->exited) {
			if (nb->nspid > 0 && (p = poller_born_from(a->pl,
			    nb->nspid, nb->ids ? NULL : ptable_find_host(a->d->pt,
			    nb->parent))) != NULL) {
				ptable_set_host(a->d->pt, p, nb->host);
				poller_emit(a->pl, EV_FORK, p);
				if (nb->execs > 0)
					poller_emit(a->pl, EV_EXEC, p);
				nb->age = -1;
			} else if (++nb->age < 64)
				/* Gone before it was read: its EXIT is on the way. */
				continue;
		}
		RB_REMOVE(newborns, &a->born, nb);
		a->nborn--;
		if (nb->exited) {
			struct unread_exit	u;

			memset(&u, 0, sizeof(u));
			u.pid = nb->nspid;
			u.host_pid = nb->host;
			u.parent_host = nb->parent;
			u.status = nb->status;
			u.ts = nb->has_ts ? &nb->ts : NULL;
			poller_exit_unread(a->pl, &u);
		}
		free(nb);
	}
	if (tv.tv_usec > 0)
		evtimer_add(a->ev_born, &tv);	/* (again: the soonest wins) */
}

static void
born_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	read_newborns(arg);
}

/* Reads what the connector has queued (up to BATCH_SECONDS); returns the events. */
static uint64_t
read_batch(struct agent *a)
{
	double		 start = now_mono();
	uint64_t	 before = a->nevents;
	ssize_t		 n;
	int		 fd = a->fd;

	/* Exit records first: each EXIT below finds its own already queued. */
	drain_taskstats(a);
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
	if (a->nrecs > 1024 && now_mono() - a->expired_at > 0.5) {
		a->expired_at = now_mono();
		expire_records(a, a->expired_at, 0);
	}
	return a->nevents - before;
}

/*
 * Events are read as they come, so that a process entering by setns is
 * mapped while it still exists; but while they come faster than GATHER_RATE
 * a second (a storm), the socket is read every GATHER_SECONDS instead: one
 * wakeup per batch, not per event (the receive buffer holds a second of it).
 */
static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;
	struct timeval	 tv = { 0, (suseconds_t)(GATHER_SECONDS * 1e6) };
	double		 now;

	(void)fd;
	(void)what;
	a->window_events += read_batch(a);
	if ((now = now_mono()) - a->window_at >= GATHER_WINDOW) {
		a->window_at = now;
		a->window_events = 0;
	}
	if (a->window_events < GATHER_RATE * GATHER_WINDOW)
		return;
	event_del(a->ev_read);
	evtimer_add(a->ev_gather, &tv);
}

static void
gather_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent	*a = arg;
	struct timeval	 tv = { 0, (suseconds_t)(GATHER_SECONDS * 1e6) };

	(void)fd;
	(void)what;
	if (read_batch(a) > GATHER_RATE * GATHER_SECONDS / 2)
		evtimer_add(a->ev_gather, &tv);
	else {
		a->window_events = 0;
		event_add(a->ev_read, NULL);	/* calm again: back to waiting */
	}
}

/* Before a /proc scan: everything the kernel has queued. */
static void
drain_all(void *arg)
{
	struct agent	*a = arg;

	/* One batch (up to BATCH_SECONDS): a backlog longer than that resyncs anyway. */
	read_batch(a);
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
	expire_records(a, now_mono(), 0);
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
    int fd, enum cn_sub sub, struct ts_listener *ts)
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
	RB_INIT(&a->recs);
	a->ts = ts;
	a->ev_read = event_new(d->base, fd, EV_READ | EV_PERSIST, read_cb, a);
	a->ev_check = event_new(d->base, -1, EV_PERSIST, check_cb, a);
	a->ev_born = evtimer_new(d->base, born_cb, a);
	a->ev_gather = evtimer_new(d->base, gather_cb, a);
	event_add(a->ev_read, NULL);
	event_add(a->ev_check, &tv);
	poller_before_scans(pl, drain_all, a);
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
	poller_before_scans(a->pl, NULL, NULL);
	event_free(a->ev_read);
	event_free(a->ev_check);
	event_free(a->ev_born);
	event_free(a->ev_gather);
	cnproc_close(a->fd, a->sub);
	if (a->check_pid > 0)
		waitpid(a->check_pid, &status, 0);
	forget_newborns(a);
	expire_records(a, 0, 1);
	taskstats_close(a->ts);
	free(a->seq);
	free(a);
}
