/*
 * Lifecycle events: a bounded ring of fork, exec and exit events (and the
 * target's own comings and goings), each with a sequence number that only
 * grows, for /api/v1/events and the Server-Sent Events stream.  Pure: no I/O;
 * the HTTP side registers a callback to hear about new events.
 */
#ifndef PIDCAR_EVENTS_H
#define PIDCAR_EVENTS_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

enum ev_type {
	EV_FORK,		/* a new process (agent: FORK; sidecar: discovered) */
	EV_EXEC,
	EV_EXIT,
	EV_TARGET,		/* the target went away or was attached again */
	EV_NTYPES
};
#define EV_TYPES_ALL	((1u << EV_NTYPES) - 1)

/* How an exit event's CPU times were known. */
enum ev_cpu { EV_CPU_NONE, EV_CPU_TASKSTATS, EV_CPU_FINAL, EV_CPU_SAMPLED };

struct pevent {
	uint64_t	 seq;		/* 1, 2, ...; set by events_add */
	enum ev_type	 type;
	double		 time;		/* epoch seconds */
	pid_t		 pid;		/* target namespace; 0 unknown */
	pid_t		 ppid;		/* 0 unknown */
	pid_t		 host_pid;	/* agent mode, else 0 */
	char		 comm[32];	/* raw bytes (TASK_COMM_LEN is 16), may be empty */
	char		*exe;		/* owned by the ring; NULL unknown */
	/* EV_EXIT */
	int		 status;	/* wait status, -1 unknown */
	double		 lifetime;	/* seconds, -1 unknown */
	enum ev_cpu	 cpu;
	double		 cpu_user;	/* seconds, when cpu != EV_CPU_NONE */
	double		 cpu_system;
	long long	 max_rss_bytes;	/* taskstats high-water mark, -1 unknown */
	/* EV_TARGET */
	const char	*what;		/* static: "gone", "attached" */
	char		*reason;	/* owned by the ring, like exe */
};

struct events;
struct proc;

/*
 * Fills *ev (every field; exe copied) for a process of the table: the exit
 * fields from p's status, its exit time (now_boot if unknown; CLOCK_BOOTTIME
 * seconds) and the best CPU times known.
 */
void		 events_from_proc(struct pevent *ev, enum ev_type, const struct proc *p,
		    long clk_tck, double now_real, double now_boot);
/* An empty event of this type at this time (unknown fields -1 or 0). */
void		 events_blank(struct pevent *ev, enum ev_type, double now_real);
/* Called after every events_add (the stream wakes its clients). */
typedef void	(*events_cb)(void *arg);

/* A ring of cap events; free with events_free. */
struct events	*events_create(size_t cap);
void		 events_free(struct events *);
/* Resizes the ring (after a reload), keeping the newest events. */
void		 events_resize(struct events *, size_t cap);
/* Sets the one listener (NULL: none). */
void		 events_listen(struct events *, events_cb, void *arg);
/*
 * Copies ev into the ring (taking ev->exe and ev->reason, which the caller
 * must not free),
 * numbers it and counts it.  Returns its seq.
 */
uint64_t	 events_add(struct events *, struct pevent *ev);
/* The seq the next event will get. */
uint64_t	 events_next(const struct events *);
/* The oldest seq still held (== events_next when empty). */
uint64_t	 events_oldest(const struct events *);
/* The event with this seq, or NULL when it fell out of the ring or is not yet. */
const struct pevent *events_get(const struct events *, uint64_t seq);
/* Events added of one type since start. */
uint64_t	 events_count(const struct events *, enum ev_type);
/* "fork", "exec", "exit", "target". */
const char	*events_type_name(enum ev_type);
/*
 * Parses a comma-separated list of type names into a mask; 0 or -1 with the
 * offending name in err.
 */
int		 events_parse_types(const char *s, unsigned *mask, char *err, size_t errlen);

#endif
