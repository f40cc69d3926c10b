/* Decoding captured proc connector messages and counting per-CPU sequence gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "cnproc.h"

static size_t
load(const char *name, unsigned char *buf, size_t cap)
{
	return load_fixture("netlink", name, buf, cap);
}

static void
decode(const char *name, struct cn_event *ev)
{
	unsigned char	buf[256];
	size_t		n = load(name, buf, sizeof(buf));

	assert_int_equal(cnproc_decode(buf, n, ev), 0);
}

static void
test_fork(void **state)
{
	struct cn_event	ev;

	(void)state;
	decode("fork", &ev);
	assert_int_equal(ev.type, CN_FORK);
	assert_int_equal(ev.pid, ev.tgid);
	assert_int_equal(ev.ppid, ev.ptgid);
	assert_true(ev.pid > 0 && ev.ppid > 0 && ev.pid != ev.ppid);
	assert_true(ev.timestamp_ns > 0);
}

static void
test_thread(void **state)
{
	struct cn_event	ev;

	(void)state;
	decode("fork_thread", &ev);
	assert_int_equal(ev.type, CN_FORK);
	assert_int_not_equal(ev.pid, ev.tgid);	/* a thread, not a process */
}

static void
test_exits(void **state)
{
	struct cn_event	fork, ev;

	(void)state;
	decode("fork", &fork);
	decode("exit_code3", &ev);
	assert_int_equal(ev.type, CN_EXIT);
	assert_int_equal(ev.pid, fork.pid);
	assert_int_equal(ev.exit_code, 3 << 8);
	assert_int_equal(ev.exit_signal, 17);
	assert_int_equal(ev.ppid, fork.ppid);
	decode("exit_sigterm", &ev);
	assert_int_equal(ev.type, CN_EXIT);
	assert_int_equal(ev.exit_code, 15);
}

static void
test_exec_comm(void **state)
{
	struct cn_event	ev;

	(void)state;
	decode("exec", &ev);
	assert_int_equal(ev.type, CN_EXEC);
	assert_int_equal(ev.pid, ev.tgid);
	decode("comm", &ev);
	assert_int_equal(ev.type, CN_COMM);
	assert_string_equal(ev.comm, "ren)amed\n");
}

static void
test_malformed(void **state)
{
	unsigned char	buf[256], bad[256];
	struct cn_event	ev;
	size_t		n = load("exit_code3", buf, sizeof(buf)), i;

	(void)state;
	/* Every truncation is refused, never read past. */
	for (i = 0; i < n; i++)
		assert_int_equal(cnproc_decode(buf, i, &ev), -1);
	memcpy(bad, buf, n);
	bad[16] ^= 1;			/* cn_msg.id.idx */
	assert_int_equal(cnproc_decode(bad, n, &ev), -1);
	memcpy(bad, buf, n);
	bad[0] = 0xff;			/* nlmsg_len beyond the buffer */
	assert_int_equal(cnproc_decode(bad, n, &ev), -1);
	memcpy(bad, buf, n);
	bad[32] = 8;			/* cn_msg.len too short for an EXIT body */
	bad[33] = 0;
	assert_int_equal(cnproc_decode(bad, n, &ev), -1);
	memset(bad, 0, sizeof(bad));
	assert_int_equal(cnproc_decode(bad, sizeof(bad), &ev), -1);
}

static void
test_seq_gaps(void **state)
{
	static const struct {
		unsigned	 cpu;
		uint32_t	 seq;
		uint64_t	 lost;
	} steps[] = {
		{ 0, 100, 0 },		/* first seen */
		{ 0, 101, 0 },
		{ 1, 7, 0 },
		{ 0, 105, 3 },		/* 102..104 lost */
		{ 1, 8, 0 },
		{ 1, 20, 11 },
		{ 0, 50, 0 },		/* backwards: a new subscription */
		{ 2, UINT32_MAX, 0 },
		{ 2, 1, 1 },		/* wrapped: seq 0 was lost */
		{ 5000, 1, 0 },		/* CPU number out of range: ignored */
	};
	struct cn_seq	*s = calloc(1, sizeof(*s));
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		assert_int_equal(cnproc_seq_gap(s, steps[i].cpu, steps[i].seq),
		    steps[i].lost);
	cnproc_seq_reset(s);
	assert_int_equal(cnproc_seq_gap(s, 0, 200), 0);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_exits),
		cmocka_unit_test(test_exec_comm),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_seq_gaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
