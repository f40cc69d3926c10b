/*
 * Pure request routing: the path to an endpoint, the query string to a struct
 * query, and that query's filter, sort and limit over a snapshot of the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "events.h"
#include "ptable.h"
#include "regex_guard.h"
#include "route.h"
#include "users.h"
#include "xmalloc.h"

#define PATH_MAX_BYTES	1024
#define PID_LIMIT	4194304		/* PID_MAX_LIMIT on 64-bit (include/linux/threads.h) */
#define LIMIT_MAX	1000000
#define MATCH_MAX_BYTES	512
#define MATCH_MAX_COST	10000
#define QUOTE_MAX	40

static const struct {
	const char	*path;
	enum route	 route;
} routes[] = {
	{ "/",			ROUTE_ROOT },
	{ "/healthz",		ROUTE_HEALTHZ },
	{ "/readyz",		ROUTE_READYZ },
	{ "/api/v1/status",	ROUTE_STATUS },
	{ "/api/v1/processes",	ROUTE_PROCESSES },
	{ "/api/v1/tree",	ROUTE_TREE_JSON },
	{ "/ps",		ROUTE_PS },
	{ "/tree",		ROUTE_TREE_TEXT },
	{ "/metrics",		ROUTE_METRICS },
	{ "/api/v1/events",	ROUTE_EVENTS },
	{ "/api/v1/events/stream", ROUTE_EVENTS_STREAM },
};

#define PROCESS_PREFIX	"/api/v1/processes/"

enum param { P_SORT, P_ORDER, P_LIMIT, P_NAME, P_MATCH, P_USER, P_STATE, P_GROUP,
	P_SINCE, P_TYPE };

static const struct {
	const char	*key;
	const char	*accepts;
} params[] = {
	[P_SORT] =	{ "sort",	"pid, cpu, rss, start, name" },
	[P_ORDER] =	{ "order",	"asc, desc" },
	[P_LIMIT] =	{ "limit",	"an integer from 0 to 1000000" },
	[P_NAME] =	{ "name",	"a command name (comm) of 1 to 64 bytes" },
	[P_MATCH] =	{ "match",	"a POSIX extended regular expression of 1 to 512 bytes,"
			    " without back-references" },
	[P_USER] =	{ "user",	"a user name or uid of 1 to 64 bytes" },
	[P_STATE] =	{ "state",	"one of R S D Z T t X I P K W x" },
	[P_GROUP] =	{ "group",	"a group name of 1 to 128 bytes" },
	[P_SINCE] =	{ "since",	"an event sequence number from 0 to 10^18" },
	[P_TYPE] =	{ "type",	"a comma-separated list of fork, exec, exit, target" },
};

#define PROCESS_PARAMS	(1u << P_SORT | 1u << P_ORDER | 1u << P_LIMIT | 1u << P_NAME | \
	1u << P_MATCH | 1u << P_USER | 1u << P_STATE | 1u << P_GROUP)

static const char *sort_names[] = {
	[SORT_PID] = "pid", [SORT_CPU] = "cpu", [SORT_RSS] = "rss",
	[SORT_START] = "start", [SORT_NAME] = "name",
};

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Copies s for an error message: printable ASCII only, at most QUOTE_MAX bytes. */
static void
quote(const char *s, char *out, size_t outlen)
{
	size_t	i, j = 0;

	for (i = 0; s[i] != '\0' && j + 1 < outlen; i++) {
		if (i == QUOTE_MAX) {
			snprintf(out + j, outlen - j, "...");
			return;
		}
		out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	}
	out[j] = '\0';
}

static int
has_dot_segment(const char *path)
{
	const char	*seg = path + 1, *end;
	size_t		 n;

	for (;;) {
		end = strchr(seg, '/');
		n = end == NULL ? strlen(seg) : (size_t)(end - seg);
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 1;
		if (end == NULL)
			return 0;
		seg = end + 1;
	}
}

/* Canonical decimal only, so one process has one URL. */
static int
parse_pid(const char *s, pid_t *pid)
{
	size_t	n = strlen(s), i;
	long	v = 0;

	if (n == 0 || n > 7 || s[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > PID_LIMIT)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

int
route_parse(const char *path, struct route_match *m, char *err, size_t errlen)
{
	char		 q[QUOTE_MAX + 4];
	const char	*rest;
	size_t		 i;

	m->route = ROUTE_NONE;
	m->pid = 0;
	if (path == NULL || path[0] != '/') {
		snprintf(err, errlen, "no such path (see /)");
		return 404;
	}
	if (strnlen(path, PATH_MAX_BYTES + 1) > PATH_MAX_BYTES) {
		snprintf(err, errlen, "path longer than %d bytes", PATH_MAX_BYTES);
		return 414;
	}
	quote(path, q, sizeof(q));
	if (has_dot_segment(path)) {
		snprintf(err, errlen, "path '%s' has a '.' or '..' segment", q);
		return 400;
	}
	for (i = 0; i < nitems(routes); i++) {
		if (strcmp(path, routes[i].path) == 0) {
			m->route = routes[i].route;
			return 0;
		}
	}
	if (strncmp(path, PROCESS_PREFIX, strlen(PROCESS_PREFIX)) == 0) {
		rest = path + strlen(PROCESS_PREFIX);
		if (strchr(rest, '/') == NULL) {
			if (parse_pid(rest, &m->pid) == -1) {
				quote(rest, q, sizeof(q));
				snprintf(err, errlen, "bad process id '%s' in path (accepted:"
				    " a decimal PID from 1 to %d, no leading zeros)",
				    q, PID_LIMIT);
				return 400;
			}
			m->route = ROUTE_PROCESS;
			return 0;
		}
	}
	snprintf(err, errlen, "no such path '%s' (see /)", q);
	return 404;
}

void
query_init(struct query *q)
{
	memset(q, 0, sizeof(*q));
	q->sort = SORT_PID;
	q->limit = -1;
}

const char *
query_accepted(enum route r)
{
	if (r == ROUTE_PROCESSES || r == ROUTE_PS)
		return "sort, order, limit, name, match, user, state, group";
	if (r == ROUTE_EVENTS)
		return "since, limit, type";
	if (r == ROUTE_EVENTS_STREAM)
		return "since, type";
	return "";
}

/* The parameters route r takes, as a mask of 1 << enum param. */
static unsigned
route_params(enum route r)
{
	switch (r) {
	case ROUTE_PROCESSES:
	case ROUTE_PS:
		return PROCESS_PARAMS;
	case ROUTE_EVENTS:
		return 1u << P_SINCE | 1u << P_LIMIT | 1u << P_TYPE;
	case ROUTE_EVENTS_STREAM:
		return 1u << P_SINCE | 1u << P_TYPE;
	default:
		return 0;
	}
}

static int
set_match(struct query *q, const char *value, char *err, size_t errlen)
{
	char	msg[128];
	int	rc;

	if (strlen(value) > MATCH_MAX_BYTES) {
		snprintf(err, errlen, "parameter 'match' is longer than %d bytes (accepted: %s)",
		    MATCH_MAX_BYTES, params[P_MATCH].accepts);
		return 400;
	}
	switch (regex_guard(value, MATCH_MAX_COST)) {
	case REGEX_TOO_BIG:
		snprintf(err, errlen, "parameter 'match' is too complex: nested or large"
		    " repeats, or a repeat of what can match empty (accepted: %s)",
		    params[P_MATCH].accepts);
		return 400;
	case REGEX_BACKREF:
		snprintf(err, errlen, "parameter 'match' uses a back-reference (accepted: %s)",
		    params[P_MATCH].accepts);
		return 400;
	}
	if ((rc = regcomp(&q->match, value, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, &q->match, msg, sizeof(msg));
		regfree(&q->match);
		snprintf(err, errlen, "bad regular expression in parameter 'match': %s"
		    " (accepted: %s)", msg, params[P_MATCH].accepts);
		return 400;
	}
	q->has_match = 1;
	return 0;
}

static int
given(const struct query *q, enum param p)
{
	switch (p) {
	case P_SORT:	return q->sort_given;
	case P_ORDER:	return q->order_given;
	case P_LIMIT:	return q->limit >= 0;
	case P_NAME:	return q->name != NULL;
	case P_MATCH:	return q->has_match;
	case P_USER:	return q->user != NULL;
	case P_STATE:	return q->state != 0;
	case P_GROUP:	return q->group != NULL;
	case P_SINCE:	return q->since_given;
	case P_TYPE:	return q->types != 0;
	}
	return 0;
}

static int
set_value(struct query *q, enum param p, const char *value)
{
	size_t	len = strlen(value), i;
	long	v = 0;

	switch (p) {
	case P_SORT:
		for (i = 0; i < nitems(sort_names); i++) {
			if (strcmp(value, sort_names[i]) == 0) {
				q->sort = (enum sort_key)i;
				q->sort_given = 1;
				return 0;
			}
		}
		return -1;
	case P_ORDER:
		if (strcmp(value, "asc") != 0 && strcmp(value, "desc") != 0)
			return -1;
		q->desc = value[0] == 'd';
		q->order_given = 1;
		return 0;
	case P_LIMIT:
		if (len > 7)
			return -1;
		for (i = 0; i < len; i++) {
			if (value[i] < '0' || value[i] > '9')
				return -1;
			v = v * 10 + (value[i] - '0');
		}
		if (v > LIMIT_MAX)
			return -1;
		q->limit = v;
		return 0;
	case P_NAME:
		if (len > 64)
			return -1;
		q->name = xstrdup(value);
		return 0;
	case P_USER:
		if (len > 64)
			return -1;
		q->user = xstrdup(value);
		return 0;
	case P_STATE:
		if (len != 1 || strchr("RSDZTtXIPKWx", value[0]) == NULL)
			return -1;
		q->state = value[0];
		return 0;
	case P_GROUP:
		if (len > 128)
			return -1;
		q->group = xstrdup(value);
		return 0;
	case P_SINCE:
		if (len == 0 || len > 18)
			return -1;
		q->since = 0;
		for (i = 0; i < len; i++) {
			if (value[i] < '0' || value[i] > '9')
				return -1;
			q->since = q->since * 10 + (unsigned)(value[i] - '0');
		}
		q->since_given = 1;
		return 0;
	case P_TYPE:
		return events_parse_types(value, &q->types, NULL, 0);
	case P_MATCH:
		break;
	}
	return -1;
}

int
query_set(struct query *q, enum route r, const char *key, const char *value,
    char *err, size_t errlen)
{
	char	qk[QUOTE_MAX + 4], qv[QUOTE_MAX + 4];
	size_t	i;

	if (key == NULL)
		key = "";
	if (value == NULL)
		value = "";
	quote(key, qk, sizeof(qk));
	if (*query_accepted(r) == '\0') {
		snprintf(err, errlen, "unknown query parameter '%s'"
		    " (this endpoint takes no parameters)", qk);
		return 400;
	}
	for (i = 0; i < nitems(params); i++)
		if (strcmp(key, params[i].key) == 0)
			break;
	if (i == nitems(params) || (route_params(r) & (1u << i)) == 0) {
		snprintf(err, errlen, "unknown query parameter '%s' (accepted: %s)",
		    qk, query_accepted(r));
		return 400;
	}
	if (given(q, (enum param)i)) {
		snprintf(err, errlen, "parameter '%s' given twice", params[i].key);
		return 400;
	}
	if (*value == '\0') {
		snprintf(err, errlen, "empty value for parameter '%s' (accepted: %s)",
		    params[i].key, params[i].accepts);
		return 400;
	}
	if (i == P_MATCH)
		return set_match(q, value, err, errlen);
	if (set_value(q, (enum param)i, value) == -1) {
		quote(value, qv, sizeof(qv));
		snprintf(err, errlen, "bad value '%s' for parameter '%s' (accepted: %s)",
		    qv, params[i].key, params[i].accepts);
		return 400;
	}
	return 0;
}

void
query_free(struct query *q)
{
	if (q == NULL)
		return;
	free(q->name);
	free(q->user);
	free(q->group);
	if (q->has_match)
		regfree(&q->match);
	query_init(q);
}



static int
keep(const struct query *q, const struct users *users, const struct proc *p,
    struct buf *scratch)
{
	if (q->name != NULL && strcmp(p->comm, q->name) != 0)
		return 0;
	if (q->state != 0 && p->state != q->state)
		return 0;
	if (q->group != NULL && (p->group == NULL || strcmp(p->group, q->group) != 0))
		return 0;
	if (q->user != NULL && !users_match(users, p->uid, q->user))
		return 0;
	if (q->has_match &&
	    regexec(&q->match, ptable_cmdline_text(p, scratch), 0, NULL, 0) != 0)
		return 0;
	return 1;
}

struct sort_how {
	enum sort_key	 key;
	int		 desc;
};

#define CMP3(a, b)	((a) < (b) ? -1 : (a) > (b))

static int
proc_order(const void *va, const void *vb, void *arg)
{
	const struct proc	*a = *(struct proc *const *)va;
	const struct proc	*b = *(struct proc *const *)vb;
	const struct sort_how	*how = arg;
	int			 c = 0;

	switch (how->key) {
	case SORT_PID:
		break;
	case SORT_CPU:
		c = CMP3(a->utime + a->stime, b->utime + b->stime);
		break;
	case SORT_RSS:
		c = CMP3(a->rss_bytes, b->rss_bytes);
		break;
	case SORT_START:
		c = CMP3(a->start_ticks, b->start_ticks);
		break;
	case SORT_NAME:
		c = strcmp(a->comm, b->comm);
		c = CMP3(c, 0);
		break;
	}
	if (how->desc)
		c = -c;
	/* PIDs are unique, so this makes the order total and qsort's instability moot. */
	if (c == 0)
		c = CMP3(a->pid, b->pid);
	if (how->key == SORT_PID && how->desc)
		c = -c;
	return c;
}

size_t
query_apply(const struct query *q, const struct users *users, struct proc **v, size_t n)
{
	struct sort_how	 how;
	struct buf	 scratch;
	size_t		 i, kept = 0;

	buf_init(&scratch, 256);
	for (i = 0; i < n; i++)
		if (keep(q, users, v[i], &scratch))
			v[kept++] = v[i];
	buf_free(&scratch);

	how.key = q->sort;
	if (q->order_given)
		how.desc = q->desc;
	else
		how.desc = q->sort == SORT_CPU || q->sort == SORT_RSS;
	qsort_r(v, kept, sizeof(*v), proc_order, &how);
	if (q->limit >= 0 && (size_t)q->limit < kept)
		kept = (size_t)q->limit;
	return kept;
}
