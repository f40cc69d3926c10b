/*
 * Agent mode (source proc_connector): pidcar in the initial namespaces learns
 * every fork, exec and exit of the target from the proc connector, maps global
 * PIDs to the target's at FORK time, and keeps the table through the poller's
 * table functions.
 */
#ifndef PIDCAR_AGENT_H
#define PIDCAR_AGENT_H

#include "cnproc.h"

struct daemon;
struct poller;
struct target;
struct ts_listener;

/*
 * Whether pidcar runs in the initial PID and user namespaces (fixed inode
 * numbers, include/linux/proc_ns.h): only there does the connector serve it.
 */
int		 agent_initial_namespaces(void);
/*
 * Opens the connector for agent mode: -1 (errno) when pidcar is not in the
 * initial namespaces or no ACK came; *sub says how it subscribed.
 */
int		 agent_open(enum cn_sub *sub);
/*
 * Starts reading fd (taken over) on d->base; ts (taken over, may be NULL)
 * gives the exit records joined to its EXITs.
 */
struct agent	*agent_start(struct daemon *, struct poller *, const struct target *,
		    int fd, enum cn_sub sub, struct ts_listener *ts);
/* What the subscription is ("filtered", "legacy"), for the status. */
const char	*agent_subscription(const struct agent *);
/* Unsubscribes (PROC_CN_MCAST_IGNORE) and frees; NULL is a no-op. */
void		 agent_free(struct agent *);

#endif
