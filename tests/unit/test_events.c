/*
 * Unit tests of the event ring (events.c), its JSON (api_json.c), the events
 * query parameters (route.c), taskstats' CPU split and the exact crediting of
 * short-lived processes' CPU to groups (groups.c).
 */
#include <sys/wait.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "daemon.h"
#include "events.h"
#include "groups.h"
#include "ptable.h"
#include "render.h"
#include "route.h"
#include "taskstats.h"
#include "xmalloc.h"

static uint64_t
add(struct events *e, enum ev_type t, pid_t pid, const char *exe)
{
	struct pevent	ev;

	events_blank(&ev, t, 1e9);
	ev.pid = pid;
	ev.exe = exe != NULL ? xstrdup(exe) : NULL;
	return events_add(e, &ev);
}

static void
test_ring_wraps_and_counts(void **state)
{
	struct events	*e = events_create(4);
	uint64_t	 s;
	int		 i;

	(void)state;
	assert_int_equal(events_next(e), 1);
	assert_int_equal(events_oldest(e), 1);
	assert_null(events_get(e, 1));
	for (i = 1; i <= 10; i++) {
		s = add(e, i % 2 ? EV_FORK : EV_EXIT, i, "/bin/x");
		assert_int_equal(s, (uint64_t)i);
	}
	/* The newest four stay; the rest fell out. */
	assert_int_equal(events_oldest(e), 7);
	assert_int_equal(events_next(e), 11);
	assert_null(events_get(e, 6));
	assert_null(events_get(e, 11));
	for (s = 7; s <= 10; s++) {
		assert_non_null(events_get(e, s));
		assert_int_equal(events_get(e, s)->pid, (pid_t)s);
		assert_int_equal(events_get(e, s)->seq, s);
	}
	assert_int_equal(events_count(e, EV_FORK), 5);
	assert_int_equal(events_count(e, EV_EXIT), 5);
	assert_int_equal(events_count(e, EV_EXEC), 0);
	/* Smaller keeps the newest, bigger keeps all; seqs never change. */
	events_resize(e, 2);
	assert_int_equal(events_oldest(e), 9);
	assert_int_equal(events_get(e, 10)->pid, 10);
	events_resize(e, 100);
	assert_int_equal(events_oldest(e), 9);
	assert_int_equal(add(e, EV_EXEC, 11, NULL), 11);
	assert_int_equal(events_get(e, 9)->pid, 9);
	assert_string_equal(events_get(e, 9)->exe, "/bin/x");
	events_free(e);
}

static int	woken;

static void
wake(void *arg)
{
	(void)arg;
	woken++;
}

static void
test_listener_and_types(void **state)
{
	struct events	*e = events_create(8);
	unsigned	 mask;
	char		 err[256];

	(void)state;
	events_listen(e, wake, NULL);
	add(e, EV_FORK, 1, NULL);
	add(e, EV_TARGET, 0, NULL);
	assert_int_equal(woken, 2);
	events_free(e);

	assert_int_equal(events_parse_types("exit", &mask, err, sizeof(err)), 0);
	assert_int_equal(mask, 1u << EV_EXIT);
	assert_int_equal(events_parse_types("fork,exec,exit,target", &mask, err,
	    sizeof(err)), 0);
	assert_int_equal(mask, EV_TYPES_ALL);
	assert_int_equal(events_parse_types("fork,", &mask, err, sizeof(err)), -1);
	assert_int_equal(events_parse_types("forks", &mask, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'forks'"));
	assert_int_equal(events_parse_types("", &mask, NULL, 0), -1);
}

static void
test_event_json(void **state)
{
	struct pevent	ev;
	struct buf	b;

	(void)state;
	events_blank(&ev, EV_EXIT, 1764400000.25);
	ev.seq = 42;
	ev.pid = 7;
	ev.ppid = 1;
	ev.host_pid = 4242;
	strcpy(ev.comm, "we\"ird\n");
	ev.exe = "/bin/sh";
	ev.status = (3 << 8);		/* exit 3 */
	ev.lifetime = 0.5;
	ev.cpu = EV_CPU_TASKSTATS;
	ev.cpu_user = 0.004;
	ev.cpu_system = 0;
	ev.max_rss_bytes = 1048576;
	buf_init(&b, 64);
	api_event(&b, &ev);
	buf_putc(&b, '\0');
	assert_string_equal(b.data, "{\"seq\":42,\"type\":\"exit\","
	    "\"time\":\"2025-11-29T07:06:40.250Z\",\"pid\":7,\"ppid\":1,"
	    "\"host_pid\":4242,\"comm\":\"we\\\"ird\\n\",\"exe\":\"/bin/sh\","
	    "\"outcome\":\"exited_nonzero\",\"exit_code\":3,\"signal\":null,"
	    "\"signal_number\":null,\"core_dumped\":null,\"lifetime_seconds\":0.5,"
	    "\"cpu_user_seconds\":0.004,\"cpu_system_seconds\":0.0,"
	    "\"cpu_source\":\"taskstats\",\"max_rss_bytes\":1048576}");

	/* SIGSEGV with a core; nothing else known. */
	b.len = 0;
	events_blank(&ev, EV_EXIT, 1764400000.25);
	ev.seq = 43;
	ev.status = 11 | 0x80;
	api_event(&b, &ev);
	buf_putc(&b, '\0');
	assert_non_null(strstr(b.data, "\"pid\":null,\"ppid\":null,\"host_pid\":null,"
	    "\"comm\":null,\"exe\":null,\"outcome\":\"signaled\",\"exit_code\":null,"
	    "\"signal\":\"SIGSEGV\",\"signal_number\":11,\"core_dumped\":true,"
	    "\"lifetime_seconds\":null,\"cpu_user_seconds\":null,"
	    "\"cpu_system_seconds\":null,\"cpu_source\":null,\"max_rss_bytes\":null}"));

	b.len = 0;
	events_blank(&ev, EV_TARGET, 1764400000.25);
	ev.seq = 44;
	ev.what = "gone";
	ev.reason = "its PID 1 exited";
	api_event(&b, &ev);
	buf_putc(&b, '\0');
	assert_string_equal(b.data, "{\"seq\":44,\"type\":\"target\",\"time\":"
	    "\"2025-11-29T07:06:40.250Z\",\"what\":\"gone\",\"reason\":"
	    "\"its PID 1 exited\"}");
	buf_free(&b);
}

static void
test_events_page(void **state)
{
	struct events	*e = events_create(4);
	char		*s;
	size_t		 len;
	int		 i;

	(void)state;
	for (i = 1; i <= 6; i++)
		add(e, i % 2 ? EV_FORK : EV_EXIT, i, NULL);
	/* 1 and 2 fell out: a client asking from 1 missed two. */
	s = api_events(e, 1, 2, 0, &len);
	assert_non_null(strstr(s, "\"count\":2,\"next\":5,\"missed\":2,\"oldest\":3}"));
	assert_non_null(strstr(s, "\"seq\":3,") && strstr(s, "\"seq\":4,") ?
	    s : NULL);
	free(s);
	/* Only exits, from 5: 6; next is past the end. */
	s = api_events(e, 5, -1, 1u << EV_EXIT, &len);
	assert_non_null(strstr(s, "\"seq\":6,"));
	assert_null(strstr(s, "\"seq\":5,"));
	assert_non_null(strstr(s, "\"count\":1,\"next\":7,\"missed\":0"));
	free(s);
	/* Beyond the end: nothing, and next stays put. */
	s = api_events(e, 9, -1, 0, &len);
	assert_non_null(strstr(s, "{\"events\":[],\"count\":0,\"next\":7"));
	free(s);
	events_free(e);
}

static void
test_route_events(void **state)
{
	struct route_match	m;
	struct query		q;
	char			err[512];

	(void)state;
	assert_int_equal(route_parse("/api/v1/events", &m, err, sizeof(err)), 0);
	assert_int_equal(m.route, ROUTE_EVENTS);
	assert_int_equal(route_parse("/api/v1/events/stream", &m, err,
	    sizeof(err)), 0);
	assert_int_equal(m.route, ROUTE_EVENTS_STREAM);
	query_init(&q);
	assert_int_equal(query_set(&q, ROUTE_EVENTS, "since", "123", err,
	    sizeof(err)), 0);
	assert_int_equal(q.since, 123);
	assert_int_equal(query_set(&q, ROUTE_EVENTS, "type", "exit,fork", err,
	    sizeof(err)), 0);
	assert_int_equal(q.types, 1u << EV_EXIT | 1u << EV_FORK);
	assert_int_equal(query_set(&q, ROUTE_EVENTS, "limit", "5", err,
	    sizeof(err)), 0);
	assert_int_equal(query_set(&q, ROUTE_EVENTS, "since", "1", err,
	    sizeof(err)), 400);
	assert_non_null(strstr(err, "twice"));
	query_free(&q);
	query_init(&q);
	assert_int_equal(query_set(&q, ROUTE_EVENTS, "sort", "pid", err,
	    sizeof(err)), 400);
	assert_non_null(strstr(err, "since, limit, type"));
	assert_int_equal(query_set(&q, ROUTE_EVENTS_STREAM, "limit", "5", err,
	    sizeof(err)), 400);
	assert_int_equal(query_set(&q, ROUTE_EVENTS, "type", "exits", err,
	    sizeof(err)), 400);
	assert_non_null(strstr(err, "fork, exec, exit, target"));
	assert_int_equal(query_set(&q, ROUTE_EVENTS, "since", "12a", err,
	    sizeof(err)), 400);
	assert_int_equal(query_set(&q, ROUTE_EVENTS, "since",
	    "9999999999999999999", err, sizeof(err)), 400);
	/* A process query does not take since. */
	assert_int_equal(query_set(&q, ROUTE_PROCESSES, "since", "1", err,
	    sizeof(err)), 400);
	query_free(&q);
}

static void
test_taskstats_split(void **state)
{
	struct ts_record	r;

	(void)state;
	memset(&r, 0, sizeof(r));
	/* No run time recorded: the tick samples. */
	r.utime_us = 4000;
	r.stime_us = 8000;
	taskstats_split(&r);
	assert_int_equal(r.user_us, 4000);
	assert_int_equal(r.system_us, 8000);
	/* Run time split 1:2 like cputime_adjust. */
	r.run_virtual_ns = 15000000;
	taskstats_split(&r);
	assert_int_equal(r.user_us + r.system_us, 15000);
	assert_int_equal(r.system_us, 10000);
	/* One side without ticks gets nothing. */
	r.utime_us = 0;
	taskstats_split(&r);
	assert_int_equal(r.user_us, 0);
	assert_int_equal(r.system_us, 15000);
	r.utime_us = 0;
	r.stime_us = 0;
	taskstats_split(&r);
	assert_int_equal(r.user_us, 15000);
	assert_int_equal(r.system_us, 0);
}

/* Groups by comm, 100 ticks a second, no rules. */
static struct groups *
by_comm(void)
{
	struct config	 conf;
	struct groups	*gs = groups_create(100);
	char		 err[256];

	memset(&conf, 0, sizeof(conf));
	conf.group_by_comm = 1;
	conf.max_groups = 100;
	assert_int_equal(groups_configure(gs, &conf, err, sizeof(err)), 0);
	return gs;
}

/* A thousand processes of 4.3 ms each: the group holds 4.3 s, to the tick. */
static void
test_unread_exits_add_up_exactly(void **state)
{
	struct groups		*gs = by_comm();
	struct ptable		*pt = ptable_create();
	struct proc		*par;
	struct ts_record	 r;
	const struct group	*g;
	int			 i;

	(void)state;
	par = ptable_add(pt, 10, 100);
	strcpy(par->comm, "server");
	groups_assign(gs, pt, par, NULL, 0);
	memset(&r, 0, sizeof(r));
	strcpy(r.comm, "worker");
	r.user_us = 1300;
	r.system_us = 3000;
	r.etime_us = 5000;
	for (i = 0; i < 1000; i++)
		groups_exited_unread(gs, pt, par, r.comm, 0, &r, 0);
	assert_non_null(g = groups_find(gs, "worker"));
	assert_int_equal(g->gone_ticks[GROUPS_USER], 130);
	assert_int_equal(g->gone_ticks[GROUPS_SYSTEM], 300);
	assert_int_equal(g->exits[EXIT_ZERO], 1000);
	assert_int_equal(g->lifetime_count, 1000);
	/* The parent's cutime will grow by it: explained, not credited twice. */
	assert_int_equal(par->acct.cut_pending[GROUPS_USER], 130);
	assert_int_equal(par->acct.cut_pending[GROUPS_SYSTEM], 300);
	/* A fork that did not exec is its parent's group. */
	strcpy(r.comm, "server");
	groups_exited_unread(gs, pt, par, r.comm, 1 << 8, &r, 0);
	assert_int_equal(par->grp->exits[EXIT_NONZERO], 1);
	ptable_remove(pt, par);
	ptable_free(pt);
	groups_free(gs);
}

/* Exit records raise a process's CPU, never lower it, and keep the rest. */
static void
test_final_cpu_only_upwards(void **state)
{
	struct groups		*gs = by_comm();
	struct ptable		*pt = ptable_create();
	struct proc		*p;

	(void)state;
	p = ptable_add(pt, 5, 100);
	strcpy(p->comm, "job");
	p->utime = 3;			/* 30 ms sampled */
	groups_assign(gs, pt, p, NULL, 0);
	groups_final_cpu(gs, p, 25000, 45000);
	assert_int_equal(p->utime, 3);	/* the sample was higher */
	assert_int_equal(p->stime, 4);	/* 45 ms: 4 ticks, 5 ms carried */
	assert_int_equal(p->grp->us_carry[GROUPS_SYSTEM], 5000);
	ptable_remove(pt, p);
	ptable_free(pt);
	groups_free(gs);
}

/*
 * A parent's cutime growth no child's own numbers explain (their CPU below a
 * tick, the exit path after an exit record) goes to the groups of the
 * children it reaped, by their weight, not to the parent's group.
 */
static void
test_unexplained_growth_goes_to_the_children(void **state)
{
	struct groups		*gs = by_comm();
	struct ptable		*pt = ptable_create();
	struct proc		*par, *kid;
	const struct group	*g;
	int			 i;

	(void)state;
	par = ptable_add(pt, 10, 100);
	strcpy(par->comm, "server");
	groups_assign(gs, pt, par, NULL, 0);
	groups_sample(gs, par, 0);		/* cut_seen = 0 */
	for (i = 0; i < 50; i++) {
		kid = ptable_add(pt, 100 + i, 200);
		ptable_set_ppid(pt, kid, 10);
		strcpy(kid->comm, "worker");
		groups_assign(gs, pt, kid, NULL, 1);
		groups_gone(gs, pt, kid, 1);	/* 0 ticks each, as stat says */
		ptable_remove(pt, kid);
	}
	par->cutime = 20;			/* 50 x 4 ms */
	par->cstime = 5;
	groups_sample(gs, par, 2);		/* fresh */
	groups_sample(gs, par, 3);		/* held, then credited after the grace */
	groups_sample(gs, par, 4);
	assert_non_null(g = groups_find(gs, "worker"));
	assert_int_equal(g->gone_ticks[GROUPS_USER], 20);
	assert_int_equal(g->gone_ticks[GROUPS_SYSTEM], 5);
	assert_int_equal(par->grp->gone_ticks[GROUPS_USER], 0);
	/* Later growth with no child noted since stays the parent's. */
	par->cutime = 30;
	groups_sample(gs, par, 5);
	groups_sample(gs, par, 6);
	groups_sample(gs, par, 7);
	assert_int_equal(g->gone_ticks[GROUPS_USER], 20);
	assert_int_equal(par->grp->gone_ticks[GROUPS_USER], 10);
	assert_int_equal(g->kid_refs, 0);
	ptable_remove(pt, par);
	ptable_free(pt);
	groups_free(gs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_wraps_and_counts),
		cmocka_unit_test(test_listener_and_types),
		cmocka_unit_test(test_event_json),
		cmocka_unit_test(test_events_page),
		cmocka_unit_test(test_route_events),
		cmocka_unit_test(test_taskstats_split),
		cmocka_unit_test(test_unread_exits_add_up_exactly),
		cmocka_unit_test(test_final_cpu_only_upwards),
		cmocka_unit_test(test_unexplained_growth_goes_to_the_children),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
