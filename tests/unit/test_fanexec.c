/* Decoding captured fanotify FAN_OPEN_EXEC event buffers. */
#include <sys/fanotify.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanexec.h"

static size_t
load(const char *name, unsigned char *buf, size_t cap)
{
	char	 path[256];
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "tests/data/fanotify/%s.bin", name);
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* Decodes a whole buffer: events, and how many have a pid of our namespace. */
static int
decode_all(const unsigned char *buf, size_t n, struct fan_event *evs, int cap)
{
	size_t	off = 0;
	int	k = 0, r;

	while ((r = fanexec_next(buf, n, &off, &evs[k < cap ? k : cap - 1])) == 1)
		k++;
	assert_int_equal(r, 0);
	assert_int_equal(off, n);
	return k;
}

static void
test_exec_true(void **state)
{
	unsigned char		buf[4096];
	struct fan_event	ev[256];
	size_t			n = load("exec_true", buf, sizeof(buf));
	int			k, i;

	(void)state;
	k = decode_all(buf, n, ev, 256);
	assert_int_equal(k, (int)(n / FAN_EVENT_METADATA_LEN));
	/* The binary, then its ELF interpreter: both of pid 2 of our namespace. */
	for (i = 0; i < 2; i++) {
		assert_int_equal(ev[i].pid, 2);
		assert_true(ev[i].mask & FAN_OPEN_EXEC);
		assert_true(ev[i].fd >= 0);
		assert_int_equal(ev[i].overflow, 0);
	}
	for (i = 2; i < k; i++)
		assert_int_equal(ev[i].pid, 0);	/* the busy machine's own execs */
}

static void
test_outsider(void **state)
{
	unsigned char		buf[4096];
	struct fan_event	ev[256];
	size_t			n = load("outsider", buf, sizeof(buf));
	int			k, i;

	(void)state;
	k = decode_all(buf, n, ev, 256);
	assert_true(k >= 2);
	for (i = 0; i < k; i++) {
		assert_int_equal(ev[i].pid, 0);
		assert_true(ev[i].mask & FAN_OPEN_EXEC);
	}
}

static void
test_fd_error(void **state)
{
	unsigned char		buf[4096];
	struct fan_event	ev[256];
	size_t			n = load("fd_error", buf, sizeof(buf));

	(void)state;
	assert_true(decode_all(buf, n, ev, 256) >= 2);
	/* FAN_REPORT_FD_ERROR: no free fd, yet the event and its pid came. */
	assert_int_equal(ev[0].pid, 3);
	assert_int_equal(ev[0].fd, -EMFILE);
	assert_int_equal(ev[1].pid, 3);
	assert_int_equal(ev[1].fd, -EMFILE);
}

static void
test_malformed(void **state)
{
	unsigned char			buf[4096];
	struct fanotify_event_metadata	m;
	struct fan_event		ev;
	size_t				n = load("exec_true", buf, sizeof(buf)), off;

	(void)state;
	off = 0;
	assert_int_equal(fanexec_next(buf, FAN_EVENT_METADATA_LEN - 1, &off, &ev), -1);
	memcpy(&m, buf, sizeof(m));
	m.vers = FANOTIFY_METADATA_VERSION + 1;
	memcpy(buf, &m, sizeof(m));
	off = 0;
	assert_int_equal(fanexec_next(buf, n, &off, &ev), -1);
	m.vers = FANOTIFY_METADATA_VERSION;
	m.event_len = m.metadata_len - 1;
	memcpy(buf, &m, sizeof(m));
	off = 0;
	assert_int_equal(fanexec_next(buf, n, &off, &ev), -1);
	m.event_len = (uint32_t)n + 8;			/* past the buffer */
	memcpy(buf, &m, sizeof(m));
	off = 0;
	assert_int_equal(fanexec_next(buf, n, &off, &ev), -1);
	/* An overflow event, as the kernel writes it when the queue is full. */
	m.event_len = m.metadata_len;
	m.mask = FAN_Q_OVERFLOW;
	m.fd = FAN_NOFD;
	m.pid = 0;
	memcpy(buf, &m, sizeof(m));
	off = 0;
	assert_int_equal(fanexec_next(buf, n, &off, &ev), 1);
	assert_int_equal(ev.overflow, 1);
	assert_int_equal(ev.fd, FAN_NOFD);
	assert_int_equal(off, FAN_EVENT_METADATA_LEN);
}

static void
test_interp(void **state)
{
	static const struct {
		const char	*path;
		int		 interp;
	} cases[] = {
		{ "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 1 },
		{ "/lib/ld-musl-x86_64.so.1", 1 },
		{ "/lib/ld.so.1", 1 },
		{ "ld-linux.so.2", 1 },
		{ "/usr/bin/true", 0 },
		{ "/usr/bin/ldd", 0 },
		{ "/opt/old-ld-tool", 0 },
		{ "/usr/bin/bash", 0 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(fanexec_is_interp(cases[i].path), cases[i].interp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_true),
		cmocka_unit_test(test_outsider),
		cmocka_unit_test(test_fd_error),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_interp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
