/* Pure HTTP path and query-string parsing, and the process filter and sort they ask for. */
#ifndef PIDCAR_ROUTE_H
#define PIDCAR_ROUTE_H

#include <sys/types.h>
#include <regex.h>
#include <stddef.h>

struct proc;
struct users;

enum route {
	ROUTE_NONE,		/* no such path: 404 */
	ROUTE_ROOT,		/* / */
	ROUTE_HEALTHZ,		/* /healthz */
	ROUTE_READYZ,		/* /readyz */
	ROUTE_STATUS,		/* /api/v1/status */
	ROUTE_PROCESSES,	/* /api/v1/processes */
	ROUTE_PROCESS,		/* /api/v1/processes/{pid} */
	ROUTE_TREE_JSON,	/* /api/v1/tree */
	ROUTE_PS,		/* /ps */
	ROUTE_TREE_TEXT,	/* /tree */
	ROUTE_METRICS,		/* /metrics */
	ROUTE_EVENTS,		/* /api/v1/events */
	ROUTE_EVENTS_STREAM	/* /api/v1/events/stream */
};

struct route_match {
	enum route	 route;
	pid_t		 pid;		/* ROUTE_PROCESS */
};

/*
 * Matches an already percent-decoded path.  Returns 0 with *m set, 404 for an
 * unknown path, 400 for a malformed PID segment ("12abc", "0", overflow) or
 * a "." or ".." segment, or 414 for a path over 1024 bytes, with a message in err.
 */
int	route_parse(const char *path, struct route_match *m, char *err, size_t errlen);

enum sort_key { SORT_PID, SORT_CPU, SORT_RSS, SORT_START, SORT_NAME };

struct query {
	enum sort_key	 sort;
	int		 sort_given;	/* to refuse a second sort= */
	int		 desc;		/* 1: descending */
	int		 order_given;
	long		 limit;		/* -1: no limit */
	char		*name;		/* comm, exact */
	char		*user;		/* name or number */
	char		 state;		/* kernel letter, 0: any */
	char		*group;
	int		 has_match;
	regex_t		 match;		/* POSIX ERE over the space-joined cmdline */
	unsigned long long since;	/* events: first seq wanted */
	int		 since_given;
	unsigned	 types;		/* events: mask of 1 << enum ev_type, 0 all */
};

void	query_init(struct query *);
/*
 * Validates and stores one query parameter for route r.  Returns 0, or 400 with
 * err naming the parameter and what it accepts (unknown parameters are 400 too).
 */
int	query_set(struct query *, enum route r, const char *key, const char *value,
	    char *err, size_t errlen);
void	query_free(struct query *);
/*
 * Keeps the processes of v[0..n) that pass the filters, sorts them and applies
 * the limit, in place.  Returns the new count.  users may be NULL.
 */
size_t	query_apply(const struct query *, const struct users *, struct proc **v, size_t n);
/* Names the accepted parameters of a route, for error messages ("" when none). */
const char *query_accepted(enum route r);

#endif
