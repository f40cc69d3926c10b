/*
 * Groups: which group each process belongs to (first matching `group` rule,
 * else its comm, else "other"), and what a group must not forget when its
 * processes go: their CPU and io, exits, restarts, lifetimes, and the main
 * process.  Pure: structs in, structs out, no I/O.
 */
#ifndef PIDCAR_GROUPS_H
#define PIDCAR_GROUPS_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

#define GROUPS_OTHER		"other"	/* unmatched (group_by_comm no) and overflow */
#define GROUPS_NAME_MAX		128	/* bytes of a configured group name */
#define GROUPS_NBUCKETS		10	/* lifetime histogram, +Inf not counted */

struct config;
struct proc;
struct ptable;
struct users;
struct ts_record;

/* Upper bounds of the lifetime histogram's buckets in seconds, 1 ms to 1 day. */
extern const double groups_buckets[GROUPS_NBUCKETS];

/* CPU modes of the counters. */
enum { GROUPS_USER, GROUPS_SYSTEM, GROUPS_NMODES };

/*
 * One group.  Owned by struct groups and never freed while a process points
 * at it, so struct proc may keep its name and address.
 */
struct group {
	char		*name;		/* owned; valid UTF-8 */
	int		 configured;	/* named by a rule of the running config */
	long		 members;	/* processes in the table assigned here */
	long		 kid_refs;	/* proc_acct.kid_grp slots naming it: not evicted */
	/* Of processes that left the group (exited, or moved by a re-match). */
	unsigned long long gone_ticks[GROUPS_NMODES];
	unsigned long long gone_io[2];	/* read, write bytes */
	unsigned long long unseen_ticks[GROUPS_NMODES];	/* children never seen, in gone_ticks */
	unsigned long long us_carry[GROUPS_NMODES];	/* exact CPU short of a tick */
	uint64_t	 exits[EXIT_NOUTCOMES];
	uint64_t	 restarts;	/* processes that took the place of one that exited */
	uint64_t	 vacancies;	/* exits not followed by a restart yet */
	uint64_t	 lifetime_bucket[GROUPS_NBUCKETS];	/* not cumulative */
	uint64_t	 lifetime_count;
	double		 lifetime_sum;
	double		 idle_since;	/* monotonic seconds when members fell to 0 */
};

/* A group with the numbers of its live members added up, for renderers. */
struct group_view {
	const struct group *g;
	unsigned long long processes;
	unsigned long long threads;
	unsigned long long rss_bytes;
	unsigned long long vsize_bytes;
	unsigned long long fds;
	unsigned long long cpu_ticks[GROUPS_NMODES];	/* live + gone */
	unsigned long long io[2];	/* read, write bytes: live + gone */
	unsigned long long oldest_ticks;	/* start time, ticks since boot */
	int		 has_oldest;
};

/* The main process, modelled on s6-svstat: up, pid, since, last exit. */
struct main_status {
	const char	*group;		/* the configured group, NULL: PID 1 */
	int		 up;
	pid_t		 pid;		/* while up */
	unsigned long long start_ticks;	/* while up */
	uint64_t	 restarts;	/* a new main after the previous one exited */
	uint64_t	 exits;
	int		 exited;	/* last_status is meaningful */
	int		 last_status;	/* wait status, -1 unknown */
	double		 last_exit_at;	/* epoch seconds, 0 never */
};

/* How exited processes' CPU was known, for /api/v1/status. */
struct groups_stats {
	uint64_t	 final_cpu;	/* from the zombie's stat: exact to the tick */
	uint64_t	 sampled_cpu;	/* reaped first: the last refresh's numbers */
	unsigned long long unseen_ticks;	/* parents' cutime/cstime growth credited */
	uint64_t	 overflowed;	/* processes put in "other" by max_groups */
	uint64_t	 rematches;	/* processes moved to another group */
	uint64_t	 taskstats_cpu;	/* exits whose CPU came from taskstats (exact) */
	uint64_t	 unread_exits;	/* gone before read, no exit record: CPU via the parent */
};

/* Returns an empty set (clock ticks per second of stat's times); free with groups_free. */
struct groups	*groups_create(long clk_tck);
/* Frees every group; NULL is a no-op.  Processes must not point into it any more. */
void		 groups_free(struct groups *);
/*
 * Compiles conf's rules, replacing the running ones; groups and their counters
 * survive.  Returns 0, or -1 with a message in err (a regex the config parser
 * let through).  Call groups_rematch after it.
 */
int		 groups_configure(struct groups *, const struct config *,
		    char *err, size_t errlen);
/*
 * Puts p in its group now: on discovery, exec, comm or owner change.  A move
 * credits what p did so far to the old group.  users may be NULL.
 */
void		 groups_assign(struct groups *, struct ptable *, struct proc *,
		    const struct users *, double now);
/* Assigns every process of the table again (after a reload). */
void		 groups_rematch(struct groups *, struct ptable *,
		    const struct users *, double now);
/*
 * A fresh stat of p was stored in it: growth of its cutime/cstime that no
 * child pidcar saw explains is credited to p's group, after a grace period.
 */
void		 groups_sample(struct groups *, struct proc *, double now);
/*
 * p exited (p->exit_status, -1 unknown) after lifetime seconds (-1 unknown);
 * p->acct.final_cpu says its CPU is the zombie's last.  Counts it once.
 */
void		 groups_exited(struct groups *, struct ptable *, struct proc *,
		    double lifetime, double now_real);
/*
 * Taskstats' final CPU of p (microseconds): raises p's times to it, keeping
 * what is short of a clock tick for the group's next one.
 */
void		 groups_final_cpu(struct groups *, struct proc *p,
		    unsigned long long user_us, unsigned long long system_us);
/*
 * A process the table never held exited: counted in the group its comm (or
 * its parent par, when it did not exec) belongs to, with ts's CPU when known;
 * par may be NULL.
 */
void		 groups_exited_unread(struct groups *, struct ptable *,
		    struct proc *par, const char *comm, int status,
		    const struct ts_record *ts, double now);
/* p leaves the table: its CPU and io stay with the group. */
void		 groups_gone(struct groups *, struct ptable *, struct proc *, double now);
/* The group named so, or NULL. */
const struct group *groups_find(const struct groups *, const char *name);
size_t		 groups_count(const struct groups *);
/*
 * Sets *out to a new array (caller frees) of every group sorted by name, live
 * numbers summed from the table; returns its length.
 */
size_t		 groups_view(struct groups *, struct ptable *,
		    struct group_view **out);
const struct main_status *groups_main(const struct groups *);
const struct groups_stats *groups_stats(const struct groups *);
/* Copies s into dst as valid UTF-8 (bad bytes become U+FFFD); dst holds 3 bytes per byte of s + 1. */
void		 groups_repair_utf8(const char *s, char *dst, size_t dstlen);

#endif
