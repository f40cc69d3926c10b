/* Unit tests of route.c: paths, query parameters, and the filter/sort/limit they ask for. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ptable.h"
#include "route.h"
#include "users.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char	*path;
	int		 status;
	enum route	 route;
	pid_t		 pid;
	const char	*err;		/* substring of the message, for 400s */
} path_cases[] = {
	{ "/",				0, ROUTE_ROOT, 0, NULL },
	{ "/healthz",			0, ROUTE_HEALTHZ, 0, NULL },
	{ "/readyz",			0, ROUTE_READYZ, 0, NULL },
	{ "/api/v1/status",		0, ROUTE_STATUS, 0, NULL },
	{ "/api/v1/processes",		0, ROUTE_PROCESSES, 0, NULL },
	{ "/api/v1/processes/1",	0, ROUTE_PROCESS, 1, NULL },
	{ "/api/v1/processes/7",	0, ROUTE_PROCESS, 7, NULL },
	{ "/api/v1/processes/4242",	0, ROUTE_PROCESS, 4242, NULL },
	{ "/api/v1/processes/4194304",	0, ROUTE_PROCESS, 4194304, NULL },
	{ "/api/v1/tree",		0, ROUTE_TREE_JSON, 0, NULL },
	{ "/ps",			0, ROUTE_PS, 0, NULL },
	{ "/tree",			0, ROUTE_TREE_TEXT, 0, NULL },
	{ "/metrics",			0, ROUTE_METRICS, 0, NULL },

	{ "/healthz/",			404, ROUTE_NONE, 0, NULL },
	{ "/ps/",			404, ROUTE_NONE, 0, NULL },
	{ "/api/v1/processes/1/",	404, ROUTE_NONE, 0, NULL },
	{ "/api/v1/processes/1/x",	404, ROUTE_NONE, 0, NULL },
	{ "/api/v1/processes/12abc/x",	404, ROUTE_NONE, 0, NULL },
	{ "/api/v1/processes//1",	404, ROUTE_NONE, 0, NULL },
	{ "//",				404, ROUTE_NONE, 0, NULL },
	{ "//healthz",			404, ROUTE_NONE, 0, NULL },
	{ "/api//v1/status",		404, ROUTE_NONE, 0, NULL },
	{ "/api/v1",			404, ROUTE_NONE, 0, NULL },
	{ "/api/v1/",			404, ROUTE_NONE, 0, NULL },
	{ "/api/v1/events",		0, ROUTE_EVENTS, 0, NULL },
	{ "/api/v1/events/stream",	0, ROUTE_EVENTS_STREAM, 0, NULL },
	{ "/api/v1/events/",		404, ROUTE_NONE, 0, NULL },
	{ "/api/v1/events/streams",	404, ROUTE_NONE, 0, NULL },
	{ "/HEALTHZ",			404, ROUTE_NONE, 0, NULL },
	{ "/healthz?x=1",		404, ROUTE_NONE, 0, NULL },
	{ "/nope",			404, ROUTE_NONE, 0, NULL },
	{ "healthz",			404, ROUTE_NONE, 0, NULL },
	{ "",				404, ROUTE_NONE, 0, NULL },
	{ "*",				404, ROUTE_NONE, 0, NULL },
	{ "/...",			404, ROUTE_NONE, 0, NULL },

	{ "/api/v1/processes/12abc",	400, ROUTE_NONE, 0, "bad process id '12abc' in path" },
	{ "/api/v1/processes/",		400, ROUTE_NONE, 0, "bad process id '' in path" },
	{ "/api/v1/processes/0",	400, ROUTE_NONE, 0, "bad process id '0'" },
	{ "/api/v1/processes/-1",	400, ROUTE_NONE, 0, "bad process id '-1'" },
	{ "/api/v1/processes/+5",	400, ROUTE_NONE, 0, "bad process id '+5'" },
	{ "/api/v1/processes/0x10",	400, ROUTE_NONE, 0, "bad process id '0x10'" },
	{ "/api/v1/processes/007",	400, ROUTE_NONE, 0, "bad process id '007'" },
	{ "/api/v1/processes/ 1",	400, ROUTE_NONE, 0, "bad process id ' 1'" },
	{ "/api/v1/processes/1 ",	400, ROUTE_NONE, 0, "bad process id '1 '" },
	{ "/api/v1/processes/1.0",	400, ROUTE_NONE, 0, "bad process id '1.0'" },
	{ "/api/v1/processes/4194305",	400, ROUTE_NONE, 0, "bad process id '4194305'" },
	{ "/api/v1/processes/99999999999999999999", 400, ROUTE_NONE, 0, "bad process id" },
	{ "/api/v1/processes/4294967297", 400, ROUTE_NONE, 0, "bad process id" },
	{ "/api/v1/processes/1\n2",	400, ROUTE_NONE, 0, "bad process id '1?2'" },

	{ "/./healthz",			400, ROUTE_NONE, 0, "'.' or '..' segment" },
	{ "/api/v1/../v1/status",	400, ROUTE_NONE, 0, "'.' or '..' segment" },
	{ "/..",			400, ROUTE_NONE, 0, "'.' or '..' segment" },
	{ "/healthz/.",			400, ROUTE_NONE, 0, "'.' or '..' segment" },
	{ "/api/v1/processes/.",	400, ROUTE_NONE, 0, "'.' or '..' segment" },
	{ "/api/v1/processes/..",	400, ROUTE_NONE, 0, "'.' or '..' segment" },
};

static void
test_route_paths(void **state)
{
	struct route_match	 m;
	char			 err[256];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < nitems(path_cases); i++) {
		m.route = ROUTE_METRICS;
		m.pid = -7;
		err[0] = '\0';
		rc = route_parse(path_cases[i].path, &m, err, sizeof(err));
		if (rc != path_cases[i].status || m.route != path_cases[i].route ||
		    m.pid != path_cases[i].pid)
			fail_msg("'%s': got %d route %d pid %d, want %d route %d pid %d (%s)",
			    path_cases[i].path, rc, m.route, (int)m.pid, path_cases[i].status,
			    path_cases[i].route, (int)path_cases[i].pid, err);
		if (path_cases[i].err != NULL && strstr(err, path_cases[i].err) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", path_cases[i].path, err,
			    path_cases[i].err);
		if (rc == 400 && strstr(path_cases[i].err, "process id") != NULL)
			assert_non_null(strstr(err, "accepted: a decimal PID from 1 to 4194304"));
		if (rc != 0 && strchr(err, '\n') != NULL)
			fail_msg("'%s': message has a newline: %s", path_cases[i].path, err);
	}
}

static void
test_route_overlong(void **state)
{
	struct route_match	 m;
	char			 path[1100], err[256];
	int			 rc;

	(void)state;
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[1024] = '\0';
	rc = route_parse(path, &m, err, sizeof(err));
	assert_int_equal(rc, 404);	/* 1024 bytes: long, but allowed to be unknown */
	assert_null(strstr(err, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	path[1024] = 'a';
	path[1025] = '\0';
	rc = route_parse(path, &m, err, sizeof(err));
	assert_int_equal(rc, 414);
	assert_int_equal(m.route, ROUTE_NONE);
	assert_non_null(strstr(err, "longer than 1024 bytes"));

	/* A tiny error buffer is never overrun. */
	rc = route_parse("/api/v1/processes/x", &m, err, 8);
	assert_int_equal(rc, 400);
	assert_int_equal(strlen(err), 7);
}

struct qcase {
	enum route	 route;
	const char	*key, *value;
	int		 status;
	const char	*err;		/* substring expected in the message */
};

static const struct qcase query_cases[] = {
	{ ROUTE_PROCESSES, "sort", "pid", 0, NULL },
	{ ROUTE_PROCESSES, "sort", "cpu", 0, NULL },
	{ ROUTE_PROCESSES, "sort", "rss", 0, NULL },
	{ ROUTE_PROCESSES, "sort", "start", 0, NULL },
	{ ROUTE_PS, "sort", "name", 0, NULL },
	{ ROUTE_PROCESSES, "order", "asc", 0, NULL },
	{ ROUTE_PS, "order", "desc", 0, NULL },
	{ ROUTE_PROCESSES, "limit", "0", 0, NULL },
	{ ROUTE_PROCESSES, "limit", "10", 0, NULL },
	{ ROUTE_PROCESSES, "limit", "1000000", 0, NULL },
	{ ROUTE_PROCESSES, "name", "bash", 0, NULL },
	{ ROUTE_PROCESSES, "name", "0123456789012345678901234567890123456789012345678901234567890123", 0, NULL },
	{ ROUTE_PROCESSES, "match", "^/usr/bin/(python|perl)[0-9.]* .*--serve", 0, NULL },
	{ ROUTE_PROCESSES, "match", "[[:alpha:]]{3}[]{}]", 0, NULL },
	{ ROUTE_PROCESSES, "match", "a{,5}", 0, NULL },
	{ ROUTE_PROCESSES, "match", "(a{100}){100}", 0, NULL },
	{ ROUTE_PROCESSES, "user", "root", 0, NULL },
	{ ROUTE_PROCESSES, "user", "1000", 0, NULL },
	{ ROUTE_PROCESSES, "state", "R", 0, NULL },
	{ ROUTE_PROCESSES, "state", "t", 0, NULL },
	{ ROUTE_PROCESSES, "state", "x", 0, NULL },
	{ ROUTE_PROCESSES, "group", "web", 0, NULL },

	{ ROUTE_PROCESSES, "sort", "memory", 400,
	    "bad value 'memory' for parameter 'sort' (accepted: pid, cpu, rss, start, name)" },
	{ ROUTE_PROCESSES, "sort", "PID", 400, "parameter 'sort'" },
	{ ROUTE_PROCESSES, "order", "descending", 400,
	    "bad value 'descending' for parameter 'order' (accepted: asc, desc)" },
	{ ROUTE_PROCESSES, "limit", "-1", 400, "parameter 'limit'" },
	{ ROUTE_PROCESSES, "limit", "+1", 400, "parameter 'limit'" },
	{ ROUTE_PROCESSES, "limit", "1e3", 400, "parameter 'limit'" },
	{ ROUTE_PROCESSES, "limit", " 5", 400, "parameter 'limit'" },
	{ ROUTE_PROCESSES, "limit", "1000001", 400,
	    "parameter 'limit' (accepted: an integer from 0 to 1000000)" },
	{ ROUTE_PROCESSES, "limit", "99999999999999999999999", 400, "parameter 'limit'" },
	{ ROUTE_PROCESSES, "name", "01234567890123456789012345678901234567890123456789012345678901234", 400,
	    "parameter 'name'" },
	{ ROUTE_PROCESSES, "match", "(a", 400, "parameter 'match': Unmatched ( or \\(" },
	{ ROUTE_PROCESSES, "match", "a**{", 400, "parameter 'match'" },
	{ ROUTE_PROCESSES, "match", "((a{255}){255}){255}", 400, "'match' is too complex" },
	{ ROUTE_PROCESSES, "match", "(a{100}){101}", 400, "'match' is too complex" },
	{ ROUTE_PROCESSES, "match", "(a{,255}){,255}", 400, "'match' is too complex" },
	{ ROUTE_PROCESSES, "match", "((((((x{9}){9}){9}){9}){9}){9})", 400, "'match' is too complex" },
	/* fuzz_route: x+ is xx* to regcomp, so stacked '+' doubled it to gigabytes. */
	{ ROUTE_PROCESSES, "match", "(a)++++++++++++++++++++++++++++++", 400, "'match' is too complex" },
	{ ROUTE_PROCESSES, "match", "z()()++++++++++++++++++++++++++++++", 400, "'match' is too complex" },
	{ ROUTE_PROCESSES, "match", "[a-z]+=[0-9]+,[a-z]+", 0, NULL },
	{ ROUTE_PROCESSES, "match", "(a)\\1", 400, "'match' uses a back-reference" },
	{ ROUTE_PROCESSES, "user", "01234567890123456789012345678901234567890123456789012345678901234", 400,
	    "parameter 'user'" },
	{ ROUTE_PROCESSES, "state", "RS", 400,
	    "bad value 'RS' for parameter 'state' (accepted: one of R S D Z T t X I P K W x)" },
	{ ROUTE_PROCESSES, "state", "r", 400, "parameter 'state'" },
	{ ROUTE_PROCESSES, "state", "Q", 400, "parameter 'state'" },
	{ ROUTE_PROCESSES, "sort", "", 400, "empty value for parameter 'sort'" },
	{ ROUTE_PROCESSES, "order", "", 400, "empty value for parameter 'order'" },
	{ ROUTE_PROCESSES, "limit", "", 400, "empty value for parameter 'limit'" },
	{ ROUTE_PROCESSES, "name", "", 400, "empty value for parameter 'name'" },
	{ ROUTE_PROCESSES, "match", "", 400, "empty value for parameter 'match'" },
	{ ROUTE_PROCESSES, "user", "", 400, "empty value for parameter 'user'" },
	{ ROUTE_PROCESSES, "state", NULL, 400, "empty value for parameter 'state'" },
	{ ROUTE_PS, "group", "", 400, "empty value for parameter 'group'" },

	{ ROUTE_PROCESSES, "foo", "1", 400, "unknown query parameter 'foo' (accepted: sort,"
	    " order, limit, name, match, user, state, group)" },
	{ ROUTE_PS, "Sort", "pid", 400, "unknown query parameter 'Sort' (accepted: " },
	{ ROUTE_PS, "", "pid", 400, "unknown query parameter ''" },
	{ ROUTE_PS, "x\ny", "1", 400, "unknown query parameter 'x?y'" },
	{ ROUTE_PROCESS, "sort", "pid", 400,
	    "unknown query parameter 'sort' (this endpoint takes no parameters)" },
	{ ROUTE_TREE_JSON, "limit", "1", 400, "(this endpoint takes no parameters)" },
	{ ROUTE_TREE_TEXT, "foo", "1", 400, "(this endpoint takes no parameters)" },
	{ ROUTE_METRICS, "name", "x", 400, "(this endpoint takes no parameters)" },
	{ ROUTE_STATUS, "a", NULL, 400, "(this endpoint takes no parameters)" },
	{ ROUTE_HEALTHZ, "a", "b", 400, "(this endpoint takes no parameters)" },
};

static void
test_query_params(void **state)
{
	struct query	 q;
	char		 err[512];
	size_t		 i;
	int		 rc;

	(void)state;
	for (i = 0; i < nitems(query_cases); i++) {
		const struct qcase	*c = &query_cases[i];

		query_init(&q);
		err[0] = '\0';
		rc = query_set(&q, c->route, c->key, c->value, err, sizeof(err));
		if (rc != c->status)
			fail_msg("%s=%s: got %d (%s), want %d", c->key, c->value, rc, err, c->status);
		if (c->err != NULL && strstr(err, c->err) == NULL)
			fail_msg("%s=%s: message '%s' lacks '%s'", c->key, c->value, err, c->err);
		query_free(&q);
	}
}

static void
test_query_stored(void **state)
{
	struct query	 q;
	char		 err[256];

	(void)state;
	query_init(&q);
	assert_int_equal(q.sort, SORT_PID);
	assert_int_equal(q.limit, -1);
	assert_int_equal(query_set(&q, ROUTE_PS, "order", "desc", err, sizeof(err)), 0);
	assert_int_equal(query_set(&q, ROUTE_PS, "sort", "rss", err, sizeof(err)), 0);
	assert_int_equal(query_set(&q, ROUTE_PS, "limit", "25", err, sizeof(err)), 0);
	assert_int_equal(query_set(&q, ROUTE_PS, "name", "nginx", err, sizeof(err)), 0);
	assert_int_equal(query_set(&q, ROUTE_PS, "user", "www-data", err, sizeof(err)), 0);
	assert_int_equal(query_set(&q, ROUTE_PS, "state", "D", err, sizeof(err)), 0);
	assert_int_equal(query_set(&q, ROUTE_PS, "group", "web", err, sizeof(err)), 0);
	assert_int_equal(query_set(&q, ROUTE_PS, "match", "worker", err, sizeof(err)), 0);
	assert_int_equal(q.sort, SORT_RSS);
	assert_true(q.desc && q.order_given);
	assert_int_equal(q.limit, 25);
	assert_string_equal(q.name, "nginx");
	assert_string_equal(q.user, "www-data");
	assert_int_equal(q.state, 'D');
	assert_string_equal(q.group, "web");
	assert_true(q.has_match);
	query_free(&q);
	assert_null(q.name);
	assert_false(q.has_match);
	query_free(&q);		/* twice is harmless */
	query_free(NULL);
}

static void
test_query_twice(void **state)
{
	static const struct { const char *key, *v1, *v2; } twice[] = {
		{ "sort", "pid", "cpu" }, { "sort", "pid", "pid" }, { "order", "asc", "desc" },
		{ "limit", "1", "2" }, { "limit", "0", "0" }, { "name", "a", "b" },
		{ "match", "a", "b" }, { "user", "a", "b" }, { "state", "R", "S" },
		{ "group", "a", "b" },
	};
	struct query	 q;
	char		 err[256], want[64];
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(twice); i++) {
		query_init(&q);
		assert_int_equal(query_set(&q, ROUTE_PROCESSES, twice[i].key, twice[i].v1,
		    err, sizeof(err)), 0);
		assert_int_equal(query_set(&q, ROUTE_PROCESSES, twice[i].key, twice[i].v2,
		    err, sizeof(err)), 400);
		snprintf(want, sizeof(want), "parameter '%s' given twice", twice[i].key);
		assert_string_equal(err, want);
		query_free(&q);		/* no leak of the first value under ASan */
	}
}

static void
test_query_accepted(void **state)
{
	(void)state;
	assert_string_equal(query_accepted(ROUTE_PROCESSES),
	    "sort, order, limit, name, match, user, state, group");
	assert_string_equal(query_accepted(ROUTE_PS), query_accepted(ROUTE_PROCESSES));
	assert_string_equal(query_accepted(ROUTE_PROCESS), "");
	assert_string_equal(query_accepted(ROUTE_ROOT), "");
	assert_string_equal(query_accepted(ROUTE_METRICS), "");
	assert_string_equal(query_accepted(ROUTE_NONE), "");
}

/* The compile-time guard must be cheap: a bomb is refused before regcomp runs. */
static void
test_query_match_bomb_fast(void **state)
{
	struct query	 q;
	struct timespec	 a, b;
	char		 err[256];

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	query_init(&q);
	assert_int_equal(query_set(&q, ROUTE_PROCESSES, "match",
	    "(((a{255}){255}){255}){255}", err, sizeof(err)), 400);
	query_free(&q);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 100);
}

struct fixture {
	struct ptable	*pt;
	struct users	*users;
	struct proc	**v;
	size_t		 n;
};

static struct proc *
mk(struct ptable *pt, pid_t pid, const char *comm, long long uid, char st,
    unsigned long long cpu, unsigned long long rss, unsigned long long start,
    const char *cmd, size_t cmdlen)
{
	struct proc	*p = ptable_add(pt, pid, start);

	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->uid = uid;
	p->state = st;
	p->utime = cpu / 2;
	p->stime = cpu - cpu / 2;
	p->rss_bytes = rss;
	if (cmd != NULL)
		ptable_set_cmdline(p, cmd, cmdlen);
	return p;
}

#define CMD(s)	s, sizeof(s)

static int
setup(void **state)
{
	static const char	 passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
	    "alice:x:1000:1000::/home/alice:/bin/sh\n";
	struct fixture		*f = calloc(1, sizeof(*f));
	struct proc		*p;

	f->pt = ptable_create();
	f->users = users_parse(passwd, strlen(passwd));
	mk(f->pt, 1, "init", 0, 'S', 150, 4 << 20, 1, CMD("/sbin/init\0splash"));
	mk(f->pt, 2, "kthreadd", 0, 'S', 0, 0, 2, "", 0);
	p = mk(f->pt, 10, "sshd", 0, 'S', 300, 8 << 20, 100, CMD("sshd: /usr/sbin/sshd -D"));
	p->group = "ssh";
	mk(f->pt, 20, "bash", 1000, 'R', 300, 2 << 20, 200, CMD("-bash"));
	mk(f->pt, 21, "bash", 1000, 'Z', 5, 1 << 20, 300, NULL, 0);
	mk(f->pt, 30, "python3", 1001, 'S', 1000, 20 << 20, 250,
	    CMD("python3\0-m\0http.server"));
	mk(f->pt, 31, "mystery", -1, 'S', 1, 3, 260, NULL, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	users_free(f->users);
	ptable_free(f->pt);
	free(f);
	return 0;
}

static const struct {
	const char	*query;		/* key=value&..., no escaping */
	int		 with_users;
	const char	*want;		/* PIDs in order */
} apply_cases[] = {
	{ "",				1, "1 2 10 20 21 30 31" },
	{ "sort=pid",			1, "1 2 10 20 21 30 31" },
	{ "sort=pid&order=desc",	1, "31 30 21 20 10 2 1" },
	{ "sort=cpu",			1, "30 10 20 1 21 31 2" },
	{ "sort=cpu&order=asc",		1, "2 31 21 1 10 20 30" },
	{ "order=asc&sort=cpu",		1, "2 31 21 1 10 20 30" },
	{ "order=desc&sort=cpu",	1, "30 10 20 1 21 31 2" },
	{ "sort=rss",			1, "30 10 1 20 21 31 2" },
	{ "sort=rss&order=asc",		1, "2 31 21 20 1 10 30" },
	{ "sort=start",			1, "1 2 10 20 30 31 21" },
	{ "sort=start&order=desc",	1, "21 31 30 20 10 2 1" },
	{ "sort=name",			1, "20 21 1 2 31 30 10" },
	{ "sort=name&order=desc",	1, "10 30 31 2 1 20 21" },
	{ "name=bash",			1, "20 21" },
	{ "name=bas",			1, "" },
	{ "match=^sshd:",		1, "10" },
	{ "match=http\\.server$",	1, "30" },
	{ "match=^python3 -m http",	1, "30" },
	{ "match=kthread",		1, "2" },
	{ "match=^bash$",		1, "21" },
	{ "match=init splash$",		1, "1" },
	{ "match=.",			1, "1 2 10 20 21 30 31" },
	{ "user=root",			1, "1 2 10" },
	{ "user=0",			1, "1 2 10" },
	{ "user=alice",			1, "20 21" },
	{ "user=1000",			1, "20 21" },
	{ "user=1001",			1, "30" },
	{ "user=nobody",		1, "" },
	{ "user=-1",			1, "" },
	{ "user=root",			0, "" },
	{ "user=0",			0, "1 2 10" },
	{ "state=Z",			1, "21" },
	{ "state=R",			1, "20" },
	{ "state=D",			1, "" },
	{ "group=ssh",			1, "10" },
	{ "group=bash",			1, "20 21" },
	{ "limit=2",			1, "1 2" },
	{ "limit=0",			1, "" },
	{ "limit=100",			1, "1 2 10 20 21 30 31" },
	{ "sort=cpu&limit=1",		1, "30" },
	{ "limit=1&sort=cpu",		1, "30" },
	{ "user=alice&sort=start&order=desc", 1, "21 20" },
	{ "state=S&user=root&sort=rss&limit=2", 1, "10 1" },
};

static void
test_query_apply(void **state)
{
	struct fixture	*f = *state;
	struct query	 q;
	struct proc	**v;
	char		 err[256], got[256], *s, *kv, *save = NULL, *eq;
	size_t		 i, j, n, kept, len;

	for (i = 0; i < nitems(apply_cases); i++) {
		query_init(&q);
		s = strdup(apply_cases[i].query);
		for (kv = strtok_r(s, "&", &save); kv != NULL; kv = strtok_r(NULL, "&", &save)) {
			eq = strchr(kv, '=');
			*eq = '\0';
			if (query_set(&q, ROUTE_PROCESSES, kv, eq + 1, err, sizeof(err)) != 0)
				fail_msg("%s: %s", apply_cases[i].query, err);
		}
		free(s);
		n = ptable_snapshot(f->pt, &v);
		kept = query_apply(&q, apply_cases[i].with_users ? f->users : NULL, v, n);
		got[0] = '\0';
		for (j = 0; j < kept; j++) {
			len = strlen(got);
			snprintf(got + len, sizeof(got) - len, "%s%d", j ? " " : "", (int)v[j]->pid);
		}
		if (strcmp(got, apply_cases[i].want) != 0)
			fail_msg("%s (users %d): got '%s', want '%s'", apply_cases[i].query,
			    apply_cases[i].with_users, got, apply_cases[i].want);
		free(v);
		query_free(&q);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_paths),
		cmocka_unit_test(test_route_overlong),
		cmocka_unit_test(test_query_params),
		cmocka_unit_test(test_query_stored),
		cmocka_unit_test(test_query_twice),
		cmocka_unit_test(test_query_accepted),
		cmocka_unit_test(test_query_match_bomb_fast),
		cmocka_unit_test_setup_teardown(test_query_apply, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
