/* Decoding captured perf side-band records, and reading them out of a ring that wraps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "perfev.h"

static size_t
load(const char *name, unsigned char *buf, size_t cap)
{
	return load_fixture("perf", name, buf, cap);
}

static void
decode(const char *name, struct perf_rec *r)
{
	unsigned char	buf[256];
	size_t		n = load(name, buf, sizeof(buf));

	assert_int_equal(perfev_decode(buf, n, r), 0);
}

static void
test_fork_exit(void **state)
{
	struct perf_rec	f, e;

	(void)state;
	decode("fork", &f);
	assert_int_equal(f.type, PERF_REC_FORK);
	assert_int_equal(f.pid, 2);		/* namespace PIDs: perfcap is PID 1 */
	assert_int_equal(f.tid, 2);
	assert_int_equal(f.ppid, 1);
	assert_int_equal(f.ptid, 1);
	assert_true(f.time > 0);
	decode("exit", &e);
	assert_int_equal(e.type, PERF_REC_EXIT);
	assert_int_equal(e.pid, f.pid);
	assert_int_equal(e.tid, f.pid);
	assert_int_equal(e.ppid, 1);
	assert_true(e.time > f.time);
	decode("exit_sigterm", &e);
	assert_int_equal(e.type, PERF_REC_EXIT);
	assert_true(e.pid > f.pid);
}

static void
test_outsider_and_thread(void **state)
{
	struct perf_rec	r;

	(void)state;
	decode("fork_outsider", &r);
	assert_int_equal(r.type, PERF_REC_FORK);
	assert_int_equal(r.pid, 0);		/* not in the reader's namespace */
	assert_int_equal(r.tid, 0);
	assert_int_equal(r.ppid, 0);
	decode("fork_thread", &r);
	assert_int_equal(r.type, PERF_REC_FORK);
	assert_int_equal(r.pid, 1);
	assert_int_not_equal(r.tid, r.pid);	/* a thread, not a process */
}

static void
test_comm(void **state)
{
	struct perf_rec	r;

	(void)state;
	decode("comm_rename", &r);
	assert_int_equal(r.type, PERF_REC_COMM);
	assert_int_equal(r.exec, 0);
	assert_string_equal(r.comm, "ren)amed\n");
	assert_int_equal(r.pid, r.tid);
	decode("comm_exec", &r);
	assert_int_equal(r.type, PERF_REC_COMM);
	assert_int_equal(r.exec, 1);
	assert_string_equal(r.comm, "true");
	assert_int_equal(r.pid, 3);
}

static void
test_lost(void **state)
{
	struct perf_rec	r;

	(void)state;
	decode("lost", &r);
	assert_int_equal(r.type, PERF_REC_LOST);
	assert_true(r.lost > 100 && r.lost < 1000);	/* 300 forks: ~600 records */
}

static void
test_malformed(void **state)
{
	unsigned char	buf[256];
	struct perf_rec	r;
	size_t		n = load("fork", buf, sizeof(buf));
	uint16_t	size;

	(void)state;
	assert_int_equal(perfev_decode(buf, n - 1, &r), -1);	/* cut short */
	assert_int_equal(perfev_decode(buf, 7, &r), -1);
	size = 12;						/* too small for a FORK */
	memcpy(buf + 6, &size, sizeof(size));
	assert_int_equal(perfev_decode(buf, n, &r), -1);
	size = 4;						/* smaller than a header */
	memcpy(buf + 6, &size, sizeof(size));
	assert_int_equal(perfev_decode(buf, n, &r), -1);
	n = load("comm_exec", buf, sizeof(buf));
	size = 16;						/* no room for a comm */
	memcpy(buf + 6, &size, sizeof(size));
	assert_int_equal(perfev_decode(buf, n, &r), -1);
	buf[0] = 99;						/* unknown type */
	assert_int_equal(perfev_decode(buf, 16, &r), 0);
	assert_int_equal(r.type, PERF_REC_OTHER);
}

/* Every captured record, written into a 64-byte ring at every start offset. */
static void
test_ring_wraps(void **state)
{
	static const char *const names[] = { "fork", "comm_exec", "exit",
	    "lost", "comm_rename" };
	unsigned char	rec[5][64], ring[64], out[64];
	size_t		len[5], i, k;
	uint64_t	start;

	(void)state;
	for (i = 0; i < 5; i++)
		len[i] = load(names[i], rec[i], sizeof(rec[i]));
	for (start = 0; start < 256; start += 8) {
		for (i = 0; i < 5; i++) {
			uint64_t	tail = start, head = start + len[i];
			struct perf_rec	r;

			memset(ring, 0xee, sizeof(ring));
			for (k = 0; k < len[i]; k++)
				ring[(tail + k) % sizeof(ring)] = rec[i][k];
			memset(out, 0, sizeof(out));
			assert_int_equal(perfev_ring_copy(ring, sizeof(ring), head,
			    tail, out, sizeof(out)), len[i]);
			assert_memory_equal(out, rec[i], len[i]);
			assert_int_equal(perfev_decode(out, len[i], &r), 0);
			/* Not all of it written yet: nothing to read. */
			assert_int_equal(perfev_ring_copy(ring, sizeof(ring),
			    head - 1, tail, out, sizeof(out)), 0);
			assert_int_equal(perfev_ring_copy(ring, sizeof(ring),
			    tail + 4, tail, out, sizeof(out)), 0);
		}
	}
}

static void
test_ring_edges(void **state)
{
	unsigned char	ring[64], out[64];
	size_t		n = load("fork", ring, sizeof(ring));

	(void)state;
	assert_int_equal(n, 32);
	/* Empty, not a power of two, more than the ring holds. */
	assert_int_equal(perfev_ring_copy(ring, 64, 0, 0, out, sizeof(out)), 0);
	assert_int_equal(perfev_ring_copy(ring, 48, 32, 0, out, sizeof(out)), 0);
	assert_int_equal(perfev_ring_copy(ring, 64, 100, 0, out, sizeof(out)), 0);
	/* A record bigger than the buffer: skipped whole, header copied. */
	memset(out, 0, sizeof(out));
	assert_int_equal(perfev_ring_copy(ring, 64, 32, 0, out, 16), 32);
	assert_memory_equal(out, ring, 8);
	/* A header claiming a size of zero would loop for ever. */
	memset(ring + 6, 0, 2);
	assert_int_equal(perfev_ring_copy(ring, 64, 32, 0, out, sizeof(out)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_exit),
		cmocka_unit_test(test_outsider_and_thread),
		cmocka_unit_test(test_comm),
		cmocka_unit_test(test_lost),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ring_wraps),
		cmocka_unit_test(test_ring_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
