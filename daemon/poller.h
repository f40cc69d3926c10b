/*
 * Sidecar discovery (procfs_poll): finds the processes of pidcar's own PID
 * namespace without re-reading them, and learns their exits from pidfds.
 */
#ifndef PIDCAR_POLLER_H
#define PIDCAR_POLLER_H

struct daemon;
struct proc;
struct ts_record;

/* The exit of a process the table never held (gone before it was read). */
struct unread_exit {
	pid_t			 pid;		/* target namespace, 0 unknown */
	pid_t			 host_pid;	/* agent mode, else 0 */
	pid_t			 ppid;		/* target namespace, 0 unknown */
	pid_t			 parent_host;	/* agent mode: the parent's host PID */
	const char		*comm;		/* NULL unknown */
	int			 status;	/* wait status, -1 unknown */
	const struct ts_record	*ts;		/* agent mode: its exit record, or NULL */
};

/*
 * Starts probing ns_last_pid, a first full scan (sliced) and the pidfd epoll
 * set on d->base.  d->ready becomes 1 when the first scan is in the table.
 * Returns the poller (free with poller_free), or NULL with a message logged.
 */
struct poller	*poller_start(struct daemon *d);
/* Re-reads the intervals from d->conf (after a reload). */
void		 poller_reconfigure(struct poller *);
/* Asks for a full /proc diff soon (e.g. after something looked inconsistent). */
void		 poller_rescan(struct poller *);
/*
 * The target was attached again (a restarted container): forgets the old
 * namespace's processes and scans d->procfd, the new one's procfs.
 */
void		 poller_retarget(struct poller *);
/* Runs cb(arg) before every full scan (agent mode drains the connector). */
void		 poller_before_scans(struct poller *, void (*cb)(void *), void *arg);
/* Processes watched through a pidfd right now. */
long		 poller_pidfds(const struct poller *);
/* Whether PIDFD_GET_INFO gives exit codes after the reap (6.15+), tried on a child. */
int		 poller_probe_exit_info(void);
/* Stops every event, closes every pidfd; NULL is a no-op. */
void		 poller_free(struct poller *);

/*
 * Reads every command line again with d->conf's cmdline and redaction (after a
 * reload: new rules apply to running processes too; cmdline no forgets them).
 */
void		 poller_reread_cmdlines(struct daemon *);
/*
 * Agent mode (agent.c drives these from connector events).  poller_born reads
 * a new process of the target (namespace PID) and returns it, or NULL when it
 * is gone already; poller_exit records a decoded EXIT (a zombie stays listed);
 * poller_count_exit counts the exit of one that was never read;
 * poller_changed re-reads after EXEC (exec 1), COMM, UID or GID.
 */
struct proc	*poller_born(struct poller *, pid_t);
/*
 * Like poller_born, for a child of par (in the table): one stat read, and
 * what a fork copies taken from the parent while it has not exec'd.
 */
struct proc	*poller_born_from(struct poller *, pid_t, const struct proc *par);
void		 poller_exit(struct poller *, struct proc *, int wstatus,
		    const struct ts_record *);
void		 poller_count_exit(struct poller *, int wstatus);
/* Counts, credits (taskstats' CPU to its group) and emits an unread exit. */
void		 poller_exit_unread(struct poller *, const struct unread_exit *);
/* Adds a lifecycle event (enum ev_type) of p to the ring. */
void		 poller_emit(struct poller *, int type, const struct proc *);
void		 poller_changed(struct poller *, struct proc *, int exec);
/* Reads the fast-changing stats of one process (stat, io, fds); 0 or -1 with errno. */
int		 poller_read_stats(struct daemon *, struct proc *, double now);

/*
 * Sidecar event sources (perfev.c, fanexec.c).  poller_take_pidfd opens a
 * pidfd within the budget (-1: ESRCH gone, EINVAL a thread, EMFILE over the
 * budget).  poller_discovered reads a process an event reported (takes pidfd,
 * or -1) and counts it once, also when it is gone already;
 * poller_gone_unread counts a fork and an exit of status (or -1) for one that
 * was gone before it could be opened.  poller_exit_seen is told the process
 * exited (a process without a pidfd learns its end from it).
 * poller_reread_identity reads exe and cmdline again (after an exec).
 * poller_set_probe turns the ns_last_pid probe off (0) or on (1, with a scan).
 */
int		 poller_take_pidfd(struct poller *, pid_t);
void		 poller_discovered(struct poller *, pid_t, pid_t ppid,
		    const char *comm, int pidfd);
void		 poller_gone_unread(struct poller *, pid_t, pid_t ppid,
		    const char *comm, int status);
void		 poller_exit_seen(struct poller *, struct proc *);
void		 poller_reread_identity(struct poller *, struct proc *);
void		 poller_set_probe(struct poller *, int on);
/*
 * Runs cb(arg) before every batch of pidfd exits, so a source drains what it
 * has queued before a process can leave the table: a process some scan found
 * first is then still there when its FORK record is read.  h is the caller's
 * and must outlive the hook; NULL removes it.
 */
struct poller_hook {
	void		(*cb)(void *);
	void		*arg;
	struct poller	*pl;		/* set by poller_before_exits */
};
void		 poller_before_exits(struct poller *, struct poller_hook *);

#endif
