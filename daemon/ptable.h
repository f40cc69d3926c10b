/* The process table: every process of the target namespace, keyed by namespace PID. */
#ifndef PIDCAR_PTABLE_H
#define PIDCAR_PTABLE_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include <bsd/sys/tree.h>

struct group;

/* What groups.c has credited for one process: ticks and bytes. */
struct proc_acct {
	unsigned long long base_ticks[2];	/* utime, stime when it joined its group */
	unsigned long long base_io[2];	/* read, write bytes then */
	unsigned long long cut_seen[2];	/* cutime, cstime at the last sample */
	unsigned long long cut_pending[2];	/* CPU of seen children not in cut_seen yet */
	unsigned long long cut_fresh[2];	/* cut growth nothing explained, newest */
	unsigned long long cut_held[2];	/* older, credited after a grace period */
	double		 held_since;	/* monotonic */
	double		 exit_boot;	/* CLOCK_BOOTTIME seconds at the exit, 0 not yet */
	int		 sampled;	/* cut_seen is set */
	int		 final_cpu;	/* utime/stime are the zombie's last */
	int		 exit_done;	/* groups_exited ran */
	/*
	 * Groups of its children reaped lately, weighted by their CPU: the part
	 * of its cutime growth no child explains (CPU after their last sample or
	 * exit record) is theirs, shared out by these weights.
	 */
	struct group	*kid_grp[2];
	unsigned long long kid_w[2];
	int		 ts_cpu;	/* ts_us holds taskstats' final CPU */
	unsigned long long ts_us[2];	/* user, system microseconds at the exit */
	long long	 ts_rss_kb;	/* taskstats' RSS high-water mark, -1 unknown */
};

/*
 * One process.  Identity is (pid, start_ticks): PIDs are reused, the start time
 * in clock ticks since boot is not (kernel.md §0.9).  Numbers that could not be
 * read are -1; strings that could not be read are NULL.
 */
struct proc {
	RB_ENTRY(proc)	 entry;
	RB_ENTRY(proc)	 hentry;	/* by host_pid, when it is set */
	RB_ENTRY(proc)	 centry;	/* by (ppid, pid): children without a scan */
	pid_t		 pid;		/* in the target namespace */
	pid_t		 ppid;		/* in the target namespace, 0 for a root; set
					   through ptable_set_ppid */
	pid_t		 host_pid;	/* agent mode; 0 in sidecar mode */
	unsigned long long start_ticks;	/* stat field 22 */
	char		 id[48];	/* "pid-start_ticks", stable */
	char		 comm[64];	/* raw bytes as the kernel gave them */
	char		 state;		/* kernel letter: R S D Z T t X I ... */
	long long	 uid;		/* effective, -1 unknown */
	long long	 gid;
	long		 threads;
	char		*exe;		/* owned; NULL when unreadable */
	char		*cmdline;	/* owned; NUL-separated args, NULL unread */
	size_t		 cmdline_len;	/* bytes in cmdline, with the NULs */
	unsigned long long utime;	/* clock ticks */
	unsigned long long stime;
	double		 cpu_percent;	/* over the last two refreshes; -1 none yet */
	unsigned long long rss_bytes;
	unsigned long long vsize_bytes;
	long long	 fds;		/* -1 unreadable */
	long long	 read_bytes;	/* -1 unreadable */
	long long	 write_bytes;
	const char	*group;		/* comm until assigned, then grp->name */
	struct group	*grp;		/* groups.c owns it and keeps it while we point at it */
	unsigned long long cutime;	/* stat 16, 17: CPU of waited-for children */
	unsigned long long cstime;
	struct proc_acct acct;

	/* Bookkeeping for the shell (poller, refresh). */
	int		 pidfd;		/* -1 when not held */
	int		 exited;	/* seen as exited (zombie or gone) */
	int		 exit_counted;	/* its outcome is in the counters */
	int		 exit_status;	/* wait status, -1 unknown */
	unsigned	 scan_gen;	/* last getdents diff that saw it */
	unsigned	 refresh_gen;	/* last stats refresh that read it */
	double		 sampled_at;	/* monotonic seconds of the last sample */
	unsigned long long sampled_cpu;	/* utime+stime then */
};

RB_HEAD(proc_tree, proc);
RB_PROTOTYPE(proc_tree, proc, entry, proc_cmp)
RB_HEAD(proc_htree, proc);
RB_PROTOTYPE(proc_htree, proc, hentry, proc_hcmp)
RB_HEAD(proc_ctree, proc);
RB_PROTOTYPE(proc_ctree, proc, centry, proc_ccmp)

struct ptable;

/* Returns a new empty table; free with ptable_free. */
struct ptable	*ptable_create(void);
/* Frees the table and every proc in it (closing no fds: the owner does). */
void		 ptable_free(struct ptable *);
/* Returns the process with this namespace PID, or NULL. */
struct proc	*ptable_find(struct ptable *, pid_t);
/* Adds a new process (unknown fields -1/NULL); returns it, owned by the table. */
struct proc	*ptable_add(struct ptable *, pid_t, unsigned long long start_ticks);
/* Records p's host PID (agent mode) and indexes it; 0 forgets it. */
void		 ptable_set_host(struct ptable *, struct proc *, pid_t host_pid);
/* Returns the process with this host PID, or NULL. */
struct proc	*ptable_find_host(struct ptable *, pid_t host_pid);
/* Sets p's parent, keeping the children index. */
void		 ptable_set_ppid(struct ptable *, struct proc *, pid_t ppid);
/* The children of ppid in PID order (ptable_next_child); NULL when none. */
struct proc	*ptable_first_child(struct ptable *, pid_t ppid);
struct proc	*ptable_next_child(struct proc *);
/* Removes and frees one process. */
void		 ptable_remove(struct ptable *, struct proc *);
size_t		 ptable_count(const struct ptable *);
/* In PID order; NULL at the end. */
struct proc	*ptable_first(struct ptable *);
struct proc	*ptable_next(struct proc *);
/* Sets *out to a new array (caller frees it, not the procs) in PID order; returns its length. */
size_t		 ptable_snapshot(struct ptable *, struct proc ***out);
/* Replaces p's cmdline with a copy of len bytes (NUL-separated); NULL forgets it. */
void		 ptable_set_cmdline(struct proc *, const char *, size_t);
/* Replaces p's exe with a copy (NULL allowed). */
void		 ptable_set_exe(struct proc *, const char *);
struct buf;
/*
 * The command line with its NUL separators as spaces (in scratch), or comm
 * when there is none (kernel threads, zombies): what match= and the group
 * rules' cmdline= see.
 */
const char	*ptable_cmdline_text(const struct proc *, struct buf *scratch);



/*
 * A parent/child view of a snapshot, for the tree renderers.  A process whose
 * parent is not in the table is a root.  Indices refer to v; -1 ends a list.
 */
struct ptree {
	struct proc	**v;		/* owned: PID order */
	size_t		  n;
	long		 *first_child;
	long		 *next_sibling;
	long		 *roots;	/* nroots entries */
	size_t		  nroots;
};

/* Builds the tree of the whole table into *t; free with ptree_free. */
void	ptree_build(struct ptable *, struct ptree *t);
void	ptree_free(struct ptree *);
/* Index of the process with this pid in t->v, or -1. */
long	ptree_index(const struct ptree *, pid_t);
#endif
