/*
 * Sidecar discovery (procfs_poll): finds the processes of pidcar's own PID
 * namespace without re-reading them, and learns their exits from pidfds.
 */
#ifndef PIDCAR_POLLER_H
#define PIDCAR_POLLER_H

struct daemon;
struct proc;

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
void		 poller_exit(struct poller *, struct proc *, int wstatus);
void		 poller_count_exit(struct poller *, int wstatus);
void		 poller_changed(struct poller *, struct proc *, int exec);
/* Reads the fast-changing stats of one process (stat, io, fds); 0 or -1 with errno. */
int		 poller_read_stats(struct daemon *, struct proc *, double now);

#endif
