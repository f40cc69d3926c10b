/* Decoding captured taskstats exit records, and a live registration. */
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include <linux/netlink.h>

#include "taskstats.h"

static size_t
load(const char *name, unsigned char *buf, size_t cap)
{
	return load_fixture("netlink", name, buf, cap);
}

static void
decode(const char *name, struct ts_record *r)
{
	unsigned char	buf[2048];
	size_t		n = load(name, buf, sizeof(buf));

	assert_int_equal(taskstats_decode(buf, n, r), 0);
	assert_int_equal(r->version, 16);
}

static void
test_process_end(void **state)
{
	struct ts_record	r;

	(void)state;
	decode("ts_exit3_burn30", &r);
	assert_int_equal(r.pid, r.tgid);
	assert_true(r.group_end);
	assert_int_equal(r.exit_code, 3 << 8);
	assert_string_equal(r.comm, "tscap");
	/* 30 ms burned: ticks give 28-36 ms, the runtime clock at least 30 ms. */
	assert_true(r.utime_us + r.stime_us >= 28000);
	assert_true(r.utime_us + r.stime_us <= 40000);
	assert_true(r.run_virtual_ns >= 30000000ULL);
	assert_true(r.hiwater_rss_kb > 0);
	decode("ts_sigterm", &r);
	assert_true(r.group_end);
	assert_int_equal(r.exit_code, 15);
}

static void
test_threads(void **state)
{
	struct ts_record	th, end;

	(void)state;
	decode("ts_thread", &th);
	decode("ts_threaded_end", &end);
	assert_int_not_equal(th.pid, th.tgid);
	assert_int_equal(th.tgid, end.pid);
	assert_false(th.group_end);		/* a thread is not the process's end */
	assert_true(th.run_virtual_ns >= 12000000ULL);
	assert_true(end.group_end);
	assert_int_equal(end.exit_code, 5 << 8);
	assert_int_equal(end.ppid, th.ppid);
}

static void
test_malformed(void **state)
{
	unsigned char		buf[2048], bad[2048];
	struct ts_record	r;
	size_t			n = load("ts_exit3_burn30", buf, sizeof(buf)), i;
	uint16_t		len;

	(void)state;
	for (i = 0; i < n; i += 7)
		assert_int_equal(taskstats_decode(buf, i, &r), -1);
	/* Version 15 moved fields in the middle of the struct: refused. */
	memcpy(bad, buf, n);
	for (i = 0; i + 6 < n; i++) {
		memcpy(&len, bad + i, 2);
		if (len == 564 && bad[i + 2] == 3 && bad[i + 3] == 0) {	/* STATS */
			bad[i + 4] = 15;
			break;
		}
	}
	assert_true(i + 6 < n);
	assert_int_equal(taskstats_decode(bad, n, &r), -1);
	/* fuzz_netlink: nlmsg_len 0x80000000 passed libmnl's int compare. */
	memcpy(bad, buf, n);
	memcpy(bad, "\0\0\0\x80", 4);
	assert_int_equal(taskstats_decode(bad, n, &r), -1);
	memset(bad, 0, sizeof(bad));
	assert_int_equal(taskstats_decode(bad, sizeof(bad), &r), -1);
}

static void
test_live(void **state)
{
	struct ts_listener	*t;
	unsigned char		 buf[65536];
	pid_t			 child;
	int			 found = 0, st;

	(void)state;
	if (geteuid() != 0) {
		printf("skipped: registering needs CAP_NET_ADMIN\n");
		skip();
	}
	if ((t = taskstats_open(1 << 20)) == NULL) {
		printf("skipped: taskstats unavailable here\n");
		skip();
	}
	if ((child = fork()) == 0)
		_exit(42);
	waitpid(child, &st, 0);
	while (!found) {
		struct pollfd	p = { taskstats_fd(t), POLLIN, 0 };
		ssize_t		n;

		if (poll(&p, 1, 2000) <= 0)
			break;
		if ((n = recv(p.fd, buf, sizeof(buf), 0)) <= 0)
			break;
		for (struct nlmsghdr *nh = (void *)buf; NLMSG_OK(nh, (size_t)n);
		    nh = NLMSG_NEXT(nh, n)) {
			struct ts_record	r;

			if (taskstats_decode(nh, nh->nlmsg_len, &r) == 0 &&
			    r.pid == child) {
				assert_int_equal(r.exit_code, 42 << 8);
				assert_true(r.group_end);
				found = 1;
			}
		}
	}
	taskstats_close(t);
	assert_true(found);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_end),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
