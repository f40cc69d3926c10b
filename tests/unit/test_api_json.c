/* Unit tests of the JSON API bodies (daemon/api_json.c) over hand-built tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "daemon.h"
#include "groups.h"
#include "ptable.h"
#include "render.h"
#include "xmalloc.h"
#include "users.h"

#ifndef PIDCAR_VERSION
#define PIDCAR_VERSION	"0.0.0"
#endif

/* 2026-11-29T11:45:53Z */
#define EPOCH		1795952753ULL

struct fixture {
	struct daemon	d;
	struct config	conf;
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	f->conf.listen = "127.0.0.1:9723";
	f->conf.target = "self";
	f->conf.poll_interval = 0.05;
	f->conf.scan_interval = 2;
	f->conf.refresh_age = 1;
	f->conf.cmdline = 1;
	f->d.conf = &f->conf;
	f->d.pt = ptable_create();
	f->d.mode = "sidecar";
	f->d.source = "procfs_poll";
	f->d.clk_tck = 100;
	f->d.page_size = 4096;
	f->d.btime = EPOCH - 1000;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	users_free(f->d.users);
	ptable_free(f->d.pt);
	free(f);
	return 0;
}

static struct proc *
add(struct fixture *f, pid_t pid, pid_t ppid, const char *comm)
{
	struct proc	*p = ptable_add(f->d.pt, pid, 100000 + (unsigned)pid);

	assert_non_null(p);
	ptable_set_ppid(f->d.pt, p, ppid);
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->state = 'S';
	return p;
}

/* Parses text (which must be valid JSON), checks *len matches it and frees it. */
static json_t *
parse(char *text, const size_t *len)
{
	json_error_t	 err;
	json_t		*j;

	assert_non_null(text);
	assert_int_equal(*len, strlen(text));
	j = json_loads(text, 0, &err);
	if (j == NULL)
		fail_msg("invalid JSON (%s): %.200s", err.text, text);
	free(text);
	return j;
}

static void
test_process_full(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p = ptable_add(f->d.pt, 42, 100012);
	static const char users[] = "root:x:0:0:root:/root:/bin/sh\n";
	char		*s;
	size_t		 len;

	f->d.mode = "agent";
	f->d.users = users_parse(users, sizeof(users) - 1);
	ptable_set_ppid(f->d.pt, p, 1);
	p->host_pid = 4242;
	strcpy(p->comm, "sleep");
	ptable_set_exe(p, "/usr/bin/sleep");
	ptable_set_cmdline(p, "sleep\0" "10\0", 9);
	p->state = 'S';
	p->uid = p->gid = 0;
	p->threads = 3;
	p->utime = 250;
	p->stime = 125;
	p->cpu_percent = 12.5;
	p->rss_bytes = 40960;
	p->vsize_bytes = 1073741824;
	p->fds = 7;
	p->read_bytes = 100;
	p->write_bytes = 200;
	s = api_process_detail(&f->d, p, NULL, 0, &len);
	assert_string_equal(s, "{\"pid\":42,\"ppid\":1,\"host_pid\":4242,"
	    "\"id\":\"42-100012\",\"comm\":\"sleep\",\"exe\":\"/usr/bin/sleep\","
	    "\"cmdline\":[\"sleep\",\"10\"],\"state\":\"S\",\"uid\":0,\"gid\":0,"
	    "\"user\":\"root\",\"threads\":3,"
	    "\"start_time\":\"2026-11-29T11:45:53.120Z\","
	    "\"start_time_seconds\":1795952753.12,\"cpu_user_seconds\":2.5,"
	    "\"cpu_system_seconds\":1.25,\"cpu_percent\":12.5,\"rss_bytes\":40960,"
	    "\"vsize_bytes\":1073741824,\"fds\":7,\"read_bytes\":100,"
	    "\"write_bytes\":200,\"group\":\"sleep\",\"children\":[]}");
	assert_int_equal(len, strlen(s));
	free(s);
}

static void
test_process_unknowns(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p = ptable_add(f->d.pt, 7, 0);
	char		*s;
	size_t		 len;

	strcpy(p->comm, "kworker/0:1");
	p->state = 'I';
	p->host_pid = 99;			/* sidecar mode: never shown */
	ptable_set_cmdline(p, "secret\0", 7);
	f->conf.cmdline = 0;
	s = api_process_detail(&f->d, p, NULL, 0, &len);
	assert_string_equal(s, "{\"pid\":7,\"ppid\":0,\"host_pid\":null,"
	    "\"id\":\"7-0\",\"comm\":\"kworker/0:1\",\"exe\":null,\"cmdline\":null,"
	    "\"state\":\"I\",\"uid\":null,\"gid\":null,\"user\":null,\"threads\":null,"
	    "\"start_time\":\"2026-11-29T11:29:13.000Z\","
	    "\"start_time_seconds\":1795951753.0,\"cpu_user_seconds\":0.0,"
	    "\"cpu_system_seconds\":0.0,\"cpu_percent\":null,\"rss_bytes\":0,"
	    "\"vsize_bytes\":0,\"fds\":null,\"read_bytes\":null,"
	    "\"write_bytes\":null,\"group\":\"kworker/0:1\",\"children\":[]}");
	free(s);
}

/* One process rendered by api_process and parsed back (a new reference). */
static json_t *
proc_json(const struct daemon *d, const struct proc *p)
{
	struct buf	 b;
	json_error_t	 err;
	json_t		*j;

	buf_init(&b, 64);
	api_process(&b, d, p);
	j = json_loadb(b.data, b.len, 0, &err);
	if (j == NULL)
		fail_msg("api_process gave bad JSON: %s in %s", err.text, b.data);
	buf_free(&b);
	return j;
}

static void
test_user_fallback(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p = add(f, 5, 1, "x");
	static const char users[] = "root:x:0:0::/:/bin/sh\n";
	json_t		*j;

	p->uid = 1234;
	j = proc_json(&f->d, p);		/* no users table at all */
	assert_string_equal(json_string_value(json_object_get(j, "user")), "1234");
	assert_true(json_is_null(json_object_get(j, "gid")));
	json_decref(j);
	f->d.users = users_parse(users, sizeof(users) - 1);
	j = proc_json(&f->d, p);		/* a table without this uid */
	assert_string_equal(json_string_value(json_object_get(j, "user")), "1234");
	json_decref(j);
	p->uid = 0;
	j = proc_json(&f->d, p);
	assert_string_equal(json_string_value(json_object_get(j, "user")), "root");
	json_decref(j);
}

static void
test_cmdline_forms(void **state)
{
	static const struct {
		const char	*raw;
		size_t		 len;
		const char	*json;
	} cases[] = {
		{ "a\0b\0", 4, "[\"a\",\"b\"]" },
		{ "a\0b", 3, "[\"a\",\"b\"]" },		/* no final NUL */
		{ "a\0\0", 3, "[\"a\",\"\"]" },		/* an empty argument */
		{ "", 0, "[]" },			/* kernel threads */
		{ "nginx: worker process", 21, "[\"nginx: worker process\"]" },
	};
	struct fixture	*f = *state;
	struct proc	*p = add(f, 5, 1, "x");
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t	*j;
		char	*s;

		ptable_set_cmdline(p, cases[i].raw, cases[i].len);
		j = proc_json(&f->d, p);
		s = json_dumps(json_object_get(j, "cmdline"), JSON_COMPACT);
		assert_string_equal(s, cases[i].json);
		free(s);
		json_decref(j);
	}
}

static void
test_invalid_utf8(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p = add(f, 5, 1, "a\nb\"c\\d)e\xff\xfe");
	json_t		*j, *argv;
	char		*s;
	size_t		 len, i;

	/* Overlong '/', a UTF-16 surrogate and a code point past U+10FFFF. */
	ptable_set_exe(p, "/bin/\xc0\xafx\xed\xa0\x80y\xf4\x90\x80\x80z");
	/* Valid two- and four-byte sequences, then a truncated three-byte one. */
	ptable_set_cmdline(p, "caf\xc3\xa9\0\xf0\x9f\x98\x80\0\xe2\x82\0\x01\x7f", 16);
	s = api_process_detail(&f->d, p, NULL, 0, &len);
	assert_non_null(strstr(s, "\"comm\":\"a\\nb\\\"c\\\\d)e\xef\xbf\xbd\xef\xbf\xbd\""));
	for (i = 0; i < len; i++)
		assert_true((unsigned char)s[i] >= 0x20);
	j = parse(s, &len);
	assert_string_equal(json_string_value(json_object_get(j, "comm")),
	    "a\nb\"c\\d)e\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_object_get(j, "exe")),
	    "/bin/\xef\xbf\xbd\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
	argv = json_object_get(j, "cmdline");
	assert_int_equal(json_array_size(argv), 4);
	assert_string_equal(json_string_value(json_array_get(argv, 0)), "caf\xc3\xa9");
	assert_string_equal(json_string_value(json_array_get(argv, 1)), "\xf0\x9f\x98\x80");
	assert_string_equal(json_string_value(json_array_get(argv, 2)),
	    "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_array_get(argv, 3)), "\x01\x7f");
	assert_string_equal(json_string_value(json_object_get(j, "group")),
	    "a\nb\"c\\d)e\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(j);
}

static void
test_processes(void **state)
{
	struct fixture	*f = *state;
	struct proc	*v[2];
	json_t		*j, *a;
	char		*s;
	size_t		 len;

	v[0] = add(f, 1, 0, "init");
	v[1] = add(f, 30, 1, "sh");
	add(f, 31, 30, "sleep");
	j = parse(api_processes(&f->d, v, 2, 3, &len), &len);
	a = json_object_get(j, "processes");
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 1), "pid")), 30);
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
	assert_true(json_is_null(json_object_get(j, "refreshed_at")));
	json_decref(j);

	f->d.refreshed_at = (double)EPOCH + 0.5;
	s = api_processes(&f->d, v, 0, 3, &len);
	assert_string_equal(s, "{\"processes\":[],\"count\":0,\"total\":3,"
	    "\"refreshed_at\":\"2026-11-29T11:45:53.500Z\"}");
	free(s);
}

static void
test_process_detail_children(void **state)
{
	struct fixture	*f = *state;
	struct proc	*kids[2];
	json_t		*j, *c;
	size_t		 len;

	add(f, 1, 0, "init");
	kids[0] = add(f, 2, 1, "a");
	kids[1] = add(f, 9, 1, "b");
	j = parse(api_process_detail(&f->d, ptable_find(f->d.pt, 1), kids, 2, &len), &len);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 1);
	c = json_object_get(j, "children");
	assert_int_equal(json_array_size(c), 2);
	assert_int_equal(json_integer_value(json_array_get(c, 0)), 2);
	assert_int_equal(json_integer_value(json_array_get(c, 1)), 9);
	json_decref(j);
}

static json_int_t
pid_of(json_t *node)
{
	return json_integer_value(json_object_get(node, "pid"));
}

static void
test_tree_three_levels(void **state)
{
	struct fixture	*f = *state;
	json_t		*j, *roots, *init, *sh, *kids;
	size_t		 len;
	const char	*key, *last = NULL;
	json_t		*val;

	add(f, 1, 0, "init");
	add(f, 2, 1, "sh");
	add(f, 3, 2, "sleep");
	add(f, 4, 1, "cron");
	add(f, 10, 99, "orphan");		/* parent not in the table: a root */
	j = parse(api_tree(&f->d, &len), &len);
	roots = json_object_get(j, "roots");
	assert_int_equal(json_array_size(roots), 2);
	init = json_array_get(roots, 0);
	assert_int_equal(pid_of(init), 1);
	assert_string_equal(json_string_value(json_object_get(init, "comm")), "init");
	json_object_foreach(init, key, val)
		last = key;
	assert_string_equal(last, "children");
	kids = json_object_get(init, "children");
	assert_int_equal(json_array_size(kids), 2);
	sh = json_array_get(kids, 0);
	assert_int_equal(pid_of(sh), 2);
	assert_int_equal(pid_of(json_array_get(kids, 1)), 4);
	assert_int_equal(json_array_size(json_object_get(json_array_get(kids, 1), "children")), 0);
	kids = json_object_get(sh, "children");
	assert_int_equal(json_array_size(kids), 1);
	assert_int_equal(pid_of(json_array_get(kids, 0)), 3);
	assert_int_equal(json_array_size(json_object_get(json_array_get(kids, 0), "children")), 0);
	assert_int_equal(pid_of(json_array_get(roots, 1)), 10);
	assert_int_equal(json_array_size(json_object_get(json_array_get(roots, 1), "children")), 0);
	json_decref(j);
}

static void
test_tree_empty(void **state)
{
	struct fixture	*f = *state;
	size_t		 len;
	char		*s = api_tree(&f->d, &len);

	assert_string_equal(s, "{\"roots\":[]}");
	assert_int_equal(len, 12);
	free(s);
}

/* A fork chain deeper than jansson's parser allows (2048) and its dumper survives. */
static void
test_tree_deep_chain(void **state)
{
	struct fixture	*f = *state;
	const pid_t	 n = 100000;
	char		*s;
	size_t		 len, i, opens = 0;
	pid_t		 pid;

	for (pid = 1; pid <= n; pid++)
		add(f, pid, pid - 1, "sh");
	s = api_tree(&f->d, &len);
	assert_int_equal(len, strlen(s));
	/* A plain scan: strstr in a loop is quadratic under ASan's interceptor. */
	for (i = 0; i + 13 <= len; i++)
		opens += memcmp(s + i, ",\"children\":[", 13) == 0;
	assert_int_equal(opens, (size_t)n);
	assert_true(strncmp(s, "{\"roots\":[{\"pid\":1,\"ppid\":0,", 28) == 0);
	assert_non_null(strstr(s, "[{\"pid\":100000,\"ppid\":99999,"));
	/* Every node closes after its only child: "]}" n times, then the roots. */
	assert_true(len > 2 * (size_t)n + 2);
	for (i = len - 2 * (size_t)n - 2; i < len; i += 2)
		assert_true(s[i] == ']' && s[i + 1] == '}');
	assert_int_equal(s[len - 2 * n - 3], '[');
	free(s);
}

/* A chain jansson can still parse back, walked level by level. */
static void
test_tree_chain_parses(void **state)
{
	struct fixture	*f = *state;
	json_t		*j, *node;
	size_t		 len;
	pid_t		 pid;

	for (pid = 1; pid <= 900; pid++)
		add(f, pid, pid - 1, "sh");
	j = parse(api_tree(&f->d, &len), &len);
	node = json_array_get(json_object_get(j, "roots"), 0);
	for (pid = 1; pid < 900; pid++) {
		json_t	*kids = json_object_get(node, "children");

		assert_int_equal(pid_of(node), pid);
		assert_int_equal(json_array_size(kids), 1);
		node = json_array_get(kids, 0);
	}
	assert_int_equal(pid_of(node), 900);
	assert_int_equal(json_array_size(json_object_get(node, "children")), 0);
	json_decref(j);
}

/* Stale parents after PID reuse can form a cycle: each process still appears once. */
static void
test_tree_cycle(void **state)
{
	struct fixture	*f = *state;
	json_t		*j, *roots, *five, *kids;
	size_t		 len;

	add(f, 1, 0, "init");
	add(f, 5, 6, "a");
	add(f, 6, 5, "b");
	add(f, 7, 6, "c");
	j = parse(api_tree(&f->d, &len), &len);
	roots = json_object_get(j, "roots");
	assert_int_equal(json_array_size(roots), 2);
	assert_int_equal(pid_of(json_array_get(roots, 0)), 1);
	five = json_array_get(roots, 1);
	assert_int_equal(pid_of(five), 5);
	kids = json_object_get(five, "children");
	assert_int_equal(json_array_size(kids), 1);
	assert_int_equal(pid_of(json_array_get(kids, 0)), 6);
	kids = json_object_get(json_array_get(kids, 0), "children");
	assert_int_equal(json_array_size(kids), 1);		/* 7, not 5 again */
	assert_int_equal(pid_of(json_array_get(kids, 0)), 7);
	json_decref(j);
}

/* Effective capabilities according to /proc/self/status, independently of libcap. */
static size_t
capeff_count(void)
{
	FILE			*fp = fopen("/proc/self/status", "r");
	char			 line[256];
	unsigned long long	 mask = 0;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "CapEff: %llx", &mask) == 1)
			break;
	fclose(fp);
	return (size_t)__builtin_popcountll(mask);
}

static void
test_status(void **state)
{
	static const char *keys[] = {
		"version", "mode", "source", "target", "ready", "target_up",
		"started_at", "uptime_seconds", "pid", "processes", "capabilities",
		"kernel", "counters", "refresh", "config", "main", "groups",
		"accounting", NULL
	};
	struct fixture	*f = *state;
	json_t		*j, *o, *v;
	const char	*key;
	size_t		 len, i = 0;

	add(f, 1, 0, "init");
	add(f, 2, 1, "sh");
	f->d.ready = 1;
	f->d.started = (double)EPOCH;
	f->d.pidns_ino = 4026531836ULL;
	strcpy(f->d.feat.release, "6.1.0-test");
	f->d.feat.pidfd = 1;
	f->d.feat.ns_last_pid = 1;
	f->d.c.forks = 11;
	f->d.c.exits[EXIT_ZERO] = 1;
	f->d.c.exits[EXIT_NONZERO] = 2;
	f->d.c.exits[EXIT_SIGNALED] = 3;
	f->d.c.exits[EXIT_UNKNOWN] = 4;
	f->d.c.requests = 5;
	f->d.refresh_took = 0.25;
	j = parse(api_status(&f->d, &len), &len);
	json_object_foreach(j, key, v)
		assert_string_equal(key, keys[i++]);
	assert_null(keys[i]);
	assert_string_equal(json_string_value(json_object_get(j, "version")), PIDCAR_VERSION);
	assert_string_equal(json_string_value(json_object_get(j, "mode")), "sidecar");
	assert_string_equal(json_string_value(json_object_get(j, "source")), "procfs_poll");
	o = json_object_get(j, "target");
	assert_string_equal(json_string_value(json_object_get(o, "spec")), "self");
	assert_int_equal(json_integer_value(json_object_get(o, "pid_namespace")), 4026531836LL);
	assert_true(json_is_null(json_object_get(o, "host_pid_of_init")));
	assert_true(json_is_true(json_object_get(j, "ready")));
	assert_true(json_is_false(json_object_get(j, "target_up")));
	assert_string_equal(json_string_value(json_object_get(j, "started_at")),
	    "2026-11-29T11:45:53.000Z");
	assert_true(json_is_real(json_object_get(j, "uptime_seconds")));
	assert_true(json_is_null(json_object_get(j, "pid")));
	assert_int_equal(json_integer_value(json_object_get(j, "processes")), 2);
	assert_true(json_is_array(json_object_get(j, "capabilities")));
	assert_int_equal(json_array_size(json_object_get(j, "capabilities")), capeff_count());
	o = json_object_get(j, "kernel");
	assert_string_equal(json_string_value(json_object_get(o, "release")), "6.1.0-test");
	assert_true(json_is_true(json_object_get(o, "pidfd")));
	assert_true(json_is_false(json_object_get(o, "pidfd_info_exit")));
	assert_true(json_is_true(json_object_get(o, "ns_last_pid")));
	assert_true(json_is_false(json_object_get(o, "fd_count_stat")));
	o = json_object_get(j, "counters");
	assert_int_equal(json_integer_value(json_object_get(o, "forks")), 11);
	assert_int_equal(json_integer_value(json_object_get(o, "events_lost")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "requests")), 5);
	v = json_object_get(o, "exits");
	assert_int_equal(json_integer_value(json_object_get(v, "exited_zero")), 1);
	assert_int_equal(json_integer_value(json_object_get(v, "exited_nonzero")), 2);
	assert_int_equal(json_integer_value(json_object_get(v, "signaled")), 3);
	assert_int_equal(json_integer_value(json_object_get(v, "unknown")), 4);
	o = json_object_get(j, "refresh");
	assert_true(json_is_null(json_object_get(o, "refreshed_at")));
	assert_true(json_real_value(json_object_get(o, "took_seconds")) == 0.25);
	assert_true(json_real_value(json_object_get(o, "max_age_seconds")) == 1.0);
	o = json_object_get(j, "config");
	assert_string_equal(json_string_value(json_object_get(o, "listen")), "127.0.0.1:9723");
	assert_true(json_real_value(json_object_get(o, "poll_interval_seconds")) == 0.05);
	assert_true(json_real_value(json_object_get(o, "scan_interval_seconds")) == 2.0);
	assert_true(json_is_true(json_object_get(o, "cmdline")));
	assert_true(json_is_null(json_object_get(j, "main")));
	o = json_object_get(j, "accounting");
	assert_non_null(strstr(json_string_value(json_object_get(o,
	    "exit_status")), "field 52"));
	assert_true(json_real_value(json_object_get(o,
	    "lifetime_resolution_seconds")) == 0.01);
	json_decref(j);

	f->d.self_pid = 17;
	j = parse(api_status(&f->d, &len), &len);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 17);
	json_decref(j);
}

/* The main process in status, as s6-svstat shows a service; groups and accounting beside it. */
static void
test_status_main(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p;
	json_t		*j, *m, *e;
	size_t		 len;
	char		 err[128];

	f->conf.main_group = "app";
	f->conf.group_by_comm = 1;
	f->conf.max_groups = 10;
	f->d.groups = groups_create(100);
	assert_int_equal(groups_configure(f->d.groups, &f->conf, err,
	    sizeof(err)), 0);
	p = add(f, 5, 1, "app");
	groups_assign(f->d.groups, f->d.pt, p, NULL, 0);
	j = parse(api_status(&f->d, &len), &len);
	m = json_object_get(j, "main");
	assert_string_equal(json_string_value(json_object_get(m, "group")), "app");
	assert_string_equal(json_string_value(json_object_get(m, "selected_by")), "group");
	assert_true(json_is_true(json_object_get(m, "up")));
	assert_int_equal(json_integer_value(json_object_get(m, "pid")), 5);
	/* since = start: btime + 100005 ticks of 10 ms. */
	assert_string_equal(json_string_value(json_object_get(m, "since")),
	    "2026-11-29T11:45:53.050Z");
	assert_true(json_is_null(json_object_get(m, "last_exit")));
	json_decref(j);

	p->exited = 1;
	p->exit_status = 9;		/* SIGKILL */
	groups_exited(f->d.groups, f->d.pt, p, 2, (double)EPOCH + 7.5);
	j = parse(api_status(&f->d, &len), &len);
	m = json_object_get(j, "main");
	assert_true(json_is_false(json_object_get(m, "up")));
	assert_true(json_is_null(json_object_get(m, "pid")));
	assert_string_equal(json_string_value(json_object_get(m, "since")),
	    "2026-11-29T11:46:00.500Z");
	assert_int_equal(json_integer_value(json_object_get(m, "exits")), 1);
	assert_int_equal(json_integer_value(json_object_get(m, "restarts")), 0);
	e = json_object_get(m, "last_exit");
	assert_string_equal(json_string_value(json_object_get(e, "outcome")), "signaled");
	assert_string_equal(json_string_value(json_object_get(e, "signal")), "SIGKILL");
	assert_true(json_is_null(json_object_get(e, "exit_code")));
	assert_true(json_is_false(json_object_get(e, "core_dumped")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "groups"), "count")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "accounting"), "exits_with_sampled_cpu")), 1);
	json_decref(j);
	ptable_free(f->d.pt);
	f->d.pt = ptable_create();
	groups_free(f->d.groups);
	f->d.groups = NULL;
}

static void
test_error(void **state)
{
	json_t	*j;
	char	*s;
	size_t	 len;

	(void)state;
	s = api_error(404, "no process 4242 in the target namespace", &len);
	assert_string_equal(s, "{\"error\":{\"status\":404,"
	    "\"message\":\"no process 4242 in the target namespace\"}}");
	assert_int_equal(len, strlen(s));
	free(s);
	j = parse(api_error(400, "bad name \"\xff\"", &len), &len);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "error"),
	    "status")), 400);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"),
	    "message")), "bad name \"\xef\xbf\xbd\"");
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_process_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_unknowns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_detail_children, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_three_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_deep_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_chain_parses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_main, setup, teardown),
		cmocka_unit_test(test_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
