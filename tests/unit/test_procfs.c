/*
 * procfs: the parsers over captured and hostile fixtures in tests/data/proc,
 * then the readers against a fixture tree and against the live /proc.
 * Run from the repository root.
 */
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "procfs.h"

#define FIXTURES	"tests/data/proc"
#define SLEEPER		"--procfs-test-sleeper"
#define BIGARG		100000

static int	  test_argc;
static char	**test_argv;

/* Reads a fixture into a buffer of exactly its size, so ASan sees any overread. */
static char *
fixture(const char *name, size_t *len)
{
	char		 path[256];
	struct stat	 st;
	char		*buf;
	int		 fd;

	snprintf(path, sizeof(path), FIXTURES "/%s", name);
	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	*len = (size_t)st.st_size;
	buf = malloc(*len == 0 ? 1 : *len);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, *len), (ssize_t)*len);
	close(fd);
	return buf;
}

/* An exact-size heap copy of a literal (without its NUL). */
static char *
copy(const char *s, size_t len)
{
	char	*buf = malloc(len == 0 ? 1 : len);

	assert_non_null(buf);
	memcpy(buf, s, len);
	return buf;
}

static int
open_proc(void)
{
	int	fd;

	if ((fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fail_msg("/proc: %s", strerror(errno));
	return fd;
}

struct stat_case {
	const char		*file;
	int			 ret;
	pid_t			 pid;
	const char		*comm;
	char			 state;
	pid_t			 ppid;
	unsigned long long	 utime, stime, cutime, cstime;
	long			 threads;
	unsigned long long	 starttime, vsize;
	long long		 rss;
	int			 exit_code;
};

static const struct stat_case stat_cases[] = {
	{ "stat-numbered", 0, 4242, "numbered", 'S', 4, 14, 15, 16, 17, 20,
	    22, 23, 24, 52 },
	{ "stat-cat", 0, 6579, "cat", 'R', 6535, 0, 0, 0, 0, 1, 44955,
	    3133440, 382, 0 },
	{ "stat-kthread", 0, 2, "kthreadd", 'S', 0, 0, 0, 0, 0, 1, 13, 0, 0, 0 },
	{ "stat-zombie", 0, 6776, "exits-3", 'Z', 6735, 0, 0, 0, 0, 1, 46029,
	    0, 0, 3 << 8 },
	{ "stat-threads", 0, 6886, "threads", 'R', 6845, 0, 0, 0, 0, 4, 46322,
	    243834880, 2773, 0 },
	{ "stat-space", 0, 6538, "a b", 'R', 6535, 6, 3, 3, 6, 1, 44933,
	    17285120, 3455, 0 },
	{ "stat-parens", 0, 6538, "x) (y", 'R', 6535, 6, 3, 3, 6, 1, 44933,
	    17285120, 3455, 0 },
	{ "stat-newline", 0, 6538, "evil)\n) S 1", 'R', 6535, 6, 3, 3, 6, 1,
	    44933, 17285120, 3455, 0 },
	{ "stat-rparen", 0, 6538, ")", 'R', 6535, 6, 3, 3, 6, 1, 44933,
	    17285120, 3455, 0 },
	{ "stat-lparen", 0, 6538, "(", 'R', 6535, 6, 3, 3, 6, 1, 44933,
	    17285120, 3455, 0 },
	{ "stat-empty-comm", 0, 6538, "", 'R', 6535, 6, 3, 3, 6, 1, 44933,
	    17285120, 3455, 0 },
	{ "stat-long-comm", 0, 6579,
	    "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww+qqqqqqqqqqqqqqqqqqqqqq",
	    'R', 6535, 0, 0, 0, 0, 1, 44955, 3133440, 382, 0 },
	{ "stat-old", 0, 6579, "cat", 'R', 6535, 0, 0, 0, 0, 1, 44955,
	    3133440, 382, -1 },
	{ "stat-future", 0, 6579, "cat", 'R', 6535, 0, 0, 0, 0, 1, 44955,
	    3133440, 382, 0 },
	{ "stat-nonl", 0, 6579, "cat", 'R', 6535, 0, 0, 0, 0, 1, 44955,
	    3133440, 382, 0 },
	{ "stat-max", 0, 6579, "cat", 'R', 6535, ULLONG_MAX, 0, 0, 0, 1, 44955,
	    3133440, 382, 0 },
	{ "stat-neg-rss", 0, 6579, "cat", 'R', 6535, 0, 0, 0, 0, 1, 44955,
	    3133440, -3, 0 },
	{ "stat-min-exit", 0, 6579, "cat", 'R', 6535, 0, 0, 0, 0, 1, 44955,
	    3133440, 382, INT_MIN },
	{ "stat-huge-exit", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-neg-threads", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-neg-ppid", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-huge-ppid", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-cut-mid", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-cut-comm", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-cut-state", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-empty", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-nonnumeric", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-dash", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-huge", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-neg-utime", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-huge-pid", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-no-rparen", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-no-state", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-trailing", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "stat-nul", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "procstat-real", -1, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
};

static void
check_stat(const struct stat_case *c, const struct proc_stat *st)
{
	assert_int_equal(st->pid, c->pid);
	assert_string_equal(st->comm, c->comm);
	assert_int_equal(st->state, c->state);
	assert_int_equal(st->ppid, c->ppid);
	assert_true(st->utime == c->utime);
	assert_true(st->stime == c->stime);
	assert_true(st->cutime == c->cutime);
	assert_true(st->cstime == c->cstime);
	assert_int_equal(st->num_threads, c->threads);
	assert_true(st->starttime == c->starttime);
	assert_true(st->vsize == c->vsize);
	assert_int_equal(st->rss_pages, c->rss);
	assert_int_equal(st->exit_code, c->exit_code);
}

static void
test_parse_stat(void **state)
{
	const struct stat_case	*c;
	struct proc_stat	 st;
	size_t			 i, len;
	char			*buf;

	(void)state;
	for (i = 0; i < sizeof(stat_cases) / sizeof(stat_cases[0]); i++) {
		c = &stat_cases[i];
		print_message("stat fixture %s\n", c->file);
		buf = fixture(c->file, &len);
		assert_int_equal(procfs_parse_stat(buf, len, &st), c->ret);
		if (c->ret == 0)
			check_stat(c, &st);
		free(buf);
	}
}

/* Every prefix of a real stat line: no overread, and no half-parsed success. */
static void
test_parse_stat_prefixes(void **state)
{
	struct proc_stat	 st;
	size_t			 cut, len, nok = 0;
	char			*whole, *buf;

	(void)state;
	whole = fixture("stat-newline", &len);
	for (cut = 0; cut <= len; cut++) {
		buf = copy(whole, cut);
		if (procfs_parse_stat(buf, cut, &st) == 0) {
			nok++;
			assert_int_equal(st.pid, 6538);
			assert_string_equal(st.comm, "evil)\n) S 1");
			assert_int_equal(st.rss_pages, 3455);
		}
		free(buf);
	}
	/*
	 * Only cuts at field 44 or later parse: they look like an older kernel's
	 * shorter line.  105 is what an independent count over this file gives.
	 */
	assert_int_equal(nok, 105);
	free(whole);
}

struct io_case {
	const char	*file;
	int		 ret;
	long long	 read_bytes, write_bytes, rchar, wchar;
};

static const struct io_case io_cases[] = {
	{ "io-cat", 0, 0, 0, 6976, 0 },
	{ "io-no-write", 0, 0, -1, 6976, 0 },
	{ "io-max", 0, 0, 0, 6976, LLONG_MAX },
	{ "io-huge", -1, 0, 0, 0, 0 },
	{ "io-garbage", -1, 0, 0, 0, 0 },
	{ "io-empty", -1, 0, 0, 0, 0 },
	{ "stat-cat", -1, 0, 0, 0, 0 },
};

static void
test_parse_io(void **state)
{
	const struct io_case	*c;
	struct proc_io		 io;
	size_t			 i, len;
	char			*buf;

	(void)state;
	for (i = 0; i < sizeof(io_cases) / sizeof(io_cases[0]); i++) {
		c = &io_cases[i];
		print_message("io fixture %s\n", c->file);
		buf = fixture(c->file, &len);
		assert_int_equal(procfs_parse_io(buf, len, &io), c->ret);
		if (c->ret == 0) {
			assert_int_equal(io.read_bytes, c->read_bytes);
			assert_int_equal(io.write_bytes, c->write_bytes);
			assert_int_equal(io.rchar, c->rchar);
			assert_int_equal(io.wchar, c->wchar);
		}
		free(buf);
	}
}

struct status_case {
	const char	*file;
	int		 ret;
	long long	 uid[4], gid[4];
	long		 threads;
	pid_t		 ppid;
	char		 state;
};

static const struct status_case status_cases[] = {
	{ "status-cat", 0, { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, 1, 6727, 'R' },
	{ "status-threads", 0, { 1000, 1001, 1002, 1001 },
	    { 2000, 2001, 2002, 2001 }, 4, 6845, 'R' },
	{ "status-no-uid", 0, { -1, -1, -1, -1 }, { 0, 0, 0, 0 }, 1, 6727, 'R' },
	{ "status-minimal", 0, { -1, -1, -1, -1 }, { -1, -1, -1, -1 }, -1, -1,
	    'Z' },
	{ "status-bad-uid", -1, { 0 }, { 0 }, 0, 0, 0 },
	{ "status-short-gid", -1, { 0 }, { 0 }, 0, 0, 0 },
	{ "status-huge-uid", -1, { 0 }, { 0 }, 0, 0, 0 },
	{ "status-empty", -1, { 0 }, { 0 }, 0, 0, 0 },
	{ "io-cat", -1, { 0 }, { 0 }, 0, 0, 0 },
};

static void
test_parse_status(void **state)
{
	const struct status_case	*c;
	struct proc_status		 ps;
	size_t				 i, len;
	char				*buf;
	int				 k;

	(void)state;
	for (i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		c = &status_cases[i];
		print_message("status fixture %s\n", c->file);
		buf = fixture(c->file, &len);
		assert_int_equal(procfs_parse_status(buf, len, &ps), c->ret);
		if (c->ret == 0) {
			for (k = 0; k < 4; k++) {
				assert_int_equal(ps.uid[k], c->uid[k]);
				assert_int_equal(ps.gid[k], c->gid[k]);
			}
			assert_int_equal(ps.threads, c->threads);
			assert_int_equal(ps.ppid, c->ppid);
			assert_int_equal(ps.state, c->state);
		}
		free(buf);
	}
}

static void
test_parse_btime(void **state)
{
	static const struct {
		const char		*file;
		int			 ret;
		unsigned long long	 btime;
	} cases[] = {
		{ "procstat-real", 0, 1795952707ULL },
		{ "procstat-nobtime", -1, 0 },
		{ "procstat-badbtime", -1, 0 },
		{ "stat-empty", -1, 0 },
	};
	unsigned long long	 bt;
	size_t			 i, len;
	char			*buf;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf = fixture(cases[i].file, &len);
		bt = 0;
		assert_int_equal(procfs_parse_btime(buf, len, &bt), cases[i].ret);
		if (cases[i].ret == 0)
			assert_true(bt == cases[i].btime);
		free(buf);
	}
}

static void
test_parse_pid(void **state)
{
	static const struct {
		const char	*in;
		int		 ret;
		pid_t		 pid;
	} cases[] = {
		{ "12345\n", 0, 12345 },
		{ "12345", 0, 12345 },
		{ "0\n", 0, 0 },
		{ "2147483647\n", 0, INT_MAX },
		{ "2147483648\n", -1, 0 },
		{ "99999999999999999999999\n", -1, 0 },
		{ "", -1, 0 },
		{ "\n", -1, 0 },
		{ "-1\n", -1, 0 },
		{ " 1\n", -1, 0 },
		{ "12a\n", -1, 0 },
		{ "1\n\n", -1, 0 },
	};
	size_t	 i, len;
	pid_t	 pid;
	char	*buf;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf = copy(cases[i].in, strlen(cases[i].in));
		pid = -7;
		assert_int_equal(procfs_parse_pid(buf, strlen(cases[i].in), &pid),
		    cases[i].ret);
		assert_int_equal(pid, cases[i].ret == 0 ? cases[i].pid : -7);
		free(buf);
	}
	buf = fixture("ns_last_pid", &len);
	assert_int_equal(procfs_parse_pid(buf, len, &pid), 0);
	assert_int_equal(pid, 6586);
	free(buf);
}

static void
test_cmdline_argc(void **state)
{
	static const struct {
		const char	*in;
		size_t		 len;
		size_t		 argc;
	} cases[] = {
		{ "", 0, 0 },
		{ "\0", 1, 1 },
		{ "sleep\0" "10\0", 9, 2 },
		{ "sleep\0" "10", 8, 2 },
		{ "a\0\0b\0", 5, 3 },
		{ "nginx: worker process", 21, 1 },
	};
	size_t	 i, len;
	char	*buf;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf = copy(cases[i].in, cases[i].len);
		assert_int_equal(procfs_cmdline_argc(buf, cases[i].len),
		    cases[i].argc);
		free(buf);
	}
	/* python3 -c CODE --flag 'an arg with spaces' '' last */
	buf = fixture("cmdline-python", &len);
	assert_int_equal(procfs_cmdline_argc(buf, len), 7);
	free(buf);
}

/* The readers are relative to any directory fd: here a fixture tree. */
static void
test_readers_fixture_tree(void **state)
{
	struct proc_stat	 st;
	struct proc_status	 ps;
	struct proc_io		 io;
	char			*s;
	size_t			 len;
	int			 dfd;

	(void)state;
	dfd = open(FIXTURES, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd != -1);
	assert_int_equal(procfs_read_stat(dfd, 4242, &st), 0);
	assert_int_equal(st.pid, 4242);
	assert_int_equal(st.starttime, 22);
	assert_int_equal(procfs_read_status(dfd, 4242, &ps), 0);
	assert_int_equal(ps.uid[1], 1001);
	assert_int_equal(ps.threads, 4);
	assert_int_equal(procfs_read_io(dfd, 4242, &io), 0);
	assert_int_equal(io.rchar, 6976);
	assert_int_equal(procfs_read_cmdline(dfd, 4242, &s, &len), 0);
	assert_int_equal(len, 152);
	assert_int_equal(s[len], '\0');
	assert_int_equal(procfs_cmdline_argc(s, len), 7);
	assert_string_equal(s + len - 5, "last");
	free(s);
	assert_int_equal(procfs_read_exe(dfd, 4242, &s), 0);
	assert_string_equal(s, "/usr/local/bin/old-daemon (deleted)");
	free(s);
	/* 758 bytes: past the first guess, so the buffer had to grow. */
	assert_int_equal(procfs_read_exe(dfd, 4244, &s), 0);
	assert_int_equal(strlen(s), 758);
	assert_string_equal(s + 749, "/d149/bin");
	free(s);
	assert_int_equal(procfs_read_file(dfd, "4242/stat", &s, &len), 0);
	assert_int_equal(len, strlen(s));
	assert_int_equal(strncmp(s, "4242 (numbered) S 4 5 ", 22), 0);
	free(s);

	errno = 0;
	assert_int_equal(procfs_read_stat(dfd, 4243, &st), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(procfs_read_status(dfd, 4243, &ps), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(procfs_read_io(dfd, 4243, &io), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(procfs_read_stat(dfd, 4244, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(PROCFS_VANISHED(errno));
	close(dfd);
}

/* A status bigger than the static buffer fails loudly instead of parsing a prefix. */
static void
test_reader_too_big(void **state)
{
	char			 dir[] = "/tmp/procfs-test.XXXXXX", path[64];
	struct proc_status	 ps;
	char			*big;
	int			 dfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/9", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/9/status", dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) != -1);
	big = malloc(70000);
	memset(big, 'x', 70000);
	memcpy(big, "Uid:\t1\t1\t1\t1\nGroups:\t", 21);
	assert_int_equal(write(fd, big, 70000), 70000);
	close(fd);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	errno = 0;
	assert_int_equal(procfs_read_status(dfd, 9, &ps), -1);
	assert_int_equal(errno, EFBIG);
	close(dfd);
	free(big);
	unlink(path);
	snprintf(path, sizeof(path), "%s/9", dir);
	rmdir(path);
	rmdir(dir);
}

static void
test_live_self(void **state)
{
	struct proc_stat	 st;
	struct proc_status	 ps;
	struct proc_io		 io;
	struct stat		 a, b;
	char			*s;
	size_t			 len;
	int			 pfd = open_proc();

	(void)state;
	assert_int_equal(procfs_read_stat(pfd, getpid(), &st), 0);
	assert_int_equal(st.pid, getpid());
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.exit_code, 0);
	assert_true(st.vsize > 0 && st.rss_pages > 0);
	assert_int_equal(procfs_read_status(pfd, getpid(), &ps), 0);
	assert_int_equal(ps.uid[1], geteuid());
	assert_int_equal(ps.gid[1], getegid());
	assert_int_equal(ps.ppid, getppid());
	assert_int_equal(ps.threads, st.num_threads);
	assert_int_equal(procfs_read_io(pfd, getpid(), &io), 0);
	assert_true(io.rchar > 0);

	assert_int_equal(procfs_read_cmdline(pfd, getpid(), &s, &len), 0);
	assert_int_equal(procfs_cmdline_argc(s, len), test_argc);
	assert_string_equal(s, test_argv[0]);
	free(s);

	assert_int_equal(procfs_read_exe(pfd, getpid(), &s), 0);
	assert_int_equal(s[0], '/');
	assert_int_equal(stat(s, &a), 0);
	assert_int_equal(stat(test_argv[0], &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	free(s);
	close(pfd);
}

static void
test_live_fds_owner(void **state)
{
	long long	 before, after, uid, gid;
	int		 pfd = open_proc(), a, b, c;

	(void)state;
	assert_int_equal(procfs_count_fds(pfd, getpid(), &before), 0);
	assert_true(before >= 4);	/* stdin, stdout, stderr and pfd */
	a = dup(0);
	b = dup(0);
	c = dup(0);
	assert_int_equal(procfs_count_fds(pfd, getpid(), &after), 0);
	assert_int_equal(after, before + 3);
	close(a);
	close(b);
	close(c);
	assert_int_equal(procfs_count_fds(pfd, getpid(), &after), 0);
	assert_int_equal(after, before);

	assert_int_equal(procfs_owner(pfd, getpid(), &uid, &gid), 0);
	assert_int_equal(uid, geteuid());
	assert_int_equal(gid, getegid());
	close(pfd);
}

static void
test_live_system_files(void **state)
{
	unsigned long long	 btime;
	struct sysinfo		 si;
	pid_t			 child, last;
	char			*s;
	size_t			 len;
	int			 pfd = open_proc();

	(void)state;
	assert_int_equal(procfs_read_file(pfd, "stat", &s, &len), 0);
	assert_int_equal(procfs_parse_btime(s, len, &btime), 0);
	free(s);
	assert_int_equal(sysinfo(&si), 0);
	/* boot time + uptime is now, give or take the second boundaries. */
	assert_true(llabs((long long)(btime + (unsigned long long)si.uptime) -
	    (long long)time(NULL)) <= 2);

	if ((child = fork()) == 0)
		_exit(0);
	assert_true(child > 0);
	assert_int_equal(procfs_read_file(pfd, "sys/kernel/ns_last_pid", &s,
	    &len), 0);
	assert_int_equal(procfs_parse_pid(s, len, &last), 0);
	assert_true(last >= child);
	free(s);
	assert_int_equal(waitpid(child, NULL, 0), child);
	close(pfd);
}

/* Every reader on pid p fails, with "vanished" when expect is ENOENT. */
static void
check_all_fail(int pfd, pid_t p, int expect)
{
	struct proc_stat	 st;
	struct proc_status	 ps;
	struct proc_io		 io;
	long long		 x, y;
	char			*s;
	size_t			 len;

	errno = 0;
	assert_int_equal(procfs_read_stat(pfd, p, &st), -1);
	assert_int_equal(errno, expect);
	errno = 0;
	assert_int_equal(procfs_read_status(pfd, p, &ps), -1);
	assert_int_equal(errno, expect);
	errno = 0;
	assert_int_equal(procfs_read_io(pfd, p, &io), -1);
	assert_int_equal(errno, expect);
	errno = 0;
	assert_int_equal(procfs_read_cmdline(pfd, p, &s, &len), -1);
	assert_int_equal(errno, expect);
	errno = 0;
	assert_int_equal(procfs_read_exe(pfd, p, &s), -1);
	assert_int_equal(errno, expect);
	errno = 0;
	assert_int_equal(procfs_count_fds(pfd, p, &x), -1);
	assert_int_equal(errno, expect);
	errno = 0;
	assert_int_equal(procfs_owner(pfd, p, &x, &y), -1);
	assert_int_equal(errno, expect);
}

static void
test_live_missing(void **state)
{
	pid_t	 pid_max;
	char	*s;
	size_t	 len;
	int	 pfd = open_proc();

	(void)state;
	/* pid_max itself is never handed out, so no process can have it. */
	assert_int_equal(procfs_read_file(pfd, "sys/kernel/pid_max", &s, &len),
	    0);
	assert_int_equal(procfs_parse_pid(s, len, &pid_max), 0);
	free(s);
	check_all_fail(pfd, pid_max, ENOENT);
	assert_true(PROCFS_VANISHED(ENOENT));
	check_all_fail(pfd, 0, EINVAL);
	check_all_fail(pfd, -1, EINVAL);
	errno = 0;
	assert_int_equal(procfs_read_file(pfd, "no/such/file", &s, &len), -1);
	assert_int_equal(errno, ENOENT);
	close(pfd);
}

/* A zombie still has a stat with its wait status in field 52; once reaped, ENOENT. */
static void
test_live_zombie(void **state)
{
	struct proc_stat	st;
	siginfo_t		si;
	pid_t			child;
	int			pfd = open_proc();

	(void)state;
	if ((child = fork()) == 0)
		_exit(3);
	assert_true(child > 0);
	assert_int_equal(waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(procfs_read_stat(pfd, child, &st), 0);
	assert_int_equal(st.pid, child);
	assert_int_equal(st.ppid, getpid());
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.exit_code, 3 << 8);
	assert_int_equal(waitpid(child, NULL, 0), child);
	check_all_fail(pfd, child, ENOENT);
	close(pfd);
}

/*
 * Starts this binary again as a sleeper with extra arguments.  The pipe's
 * write end is close-on-exec, so EOF on it means the exec has happened.
 */
static pid_t
spawn_sleeper(char **args)
{
	pid_t	child;
	int	p[2], err = 0;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	if ((child = fork()) == 0) {
		execv("/proc/self/exe", args);
		err = errno;
		(void)write(p[1], &err, sizeof(err));
		_exit(127);
	}
	assert_true(child > 0);
	close(p[1]);
	assert_int_equal(read(p[0], &err, sizeof(err)), 0);
	close(p[0]);
	return child;
}

static void
reap(pid_t child)
{
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, NULL, 0), child);
}

/* A 300 KB command line comes back whole, past any one read's page. */
static void
test_live_big_cmdline(void **state)
{
	char	*args[6], *s;
	size_t	 len, want = 0;
	pid_t	 child;
	int	 i, pfd = open_proc();

	(void)state;
	args[0] = test_argv[0];
	args[1] = SLEEPER;
	for (i = 2; i < 5; i++) {
		args[i] = malloc(BIGARG + 1);
		memset(args[i], 'a' + i, BIGARG);
		args[i][BIGARG] = '\0';
	}
	args[5] = NULL;
	for (i = 0; i < 5; i++)
		want += strlen(args[i]) + 1;
	child = spawn_sleeper(args);
	assert_int_equal(procfs_read_cmdline(pfd, child, &s, &len), 0);
	assert_int_equal(len, want);
	assert_int_equal(procfs_cmdline_argc(s, len), 5);
	assert_string_equal(s + strlen(args[0]) + 1, SLEEPER);
	assert_memory_equal(s + len - BIGARG - 1, args[4], BIGARG + 1);
	assert_int_equal(s[len], '\0');
	free(s);
	reap(child);
	for (i = 2; i < 5; i++)
		free(args[i]);
	close(pfd);
}

/* A process with no fds at all: st_size says 0 and the counting fallback agrees. */
static void
test_live_zero_fds(void **state)
{
	long long	n = -1;
	pid_t		child;
	char		c;
	int		p[2], pfd = open_proc();

	(void)state;
	assert_int_equal(pipe(p), 0);
	if ((child = fork()) == 0) {
		close_range(0, ~0U, 0);
		for (;;)
			pause();
	}
	assert_true(child > 0);
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 0);
	close(p[0]);
	assert_int_equal(procfs_count_fds(pfd, child, &n), 0);
	assert_int_equal(n, 0);
	reap(child);
	close(pfd);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_stat_prefixes),
		cmocka_unit_test(test_parse_io),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_parse_btime),
		cmocka_unit_test(test_parse_pid),
		cmocka_unit_test(test_cmdline_argc),
		cmocka_unit_test(test_readers_fixture_tree),
		cmocka_unit_test(test_reader_too_big),
		cmocka_unit_test(test_live_self),
		cmocka_unit_test(test_live_fds_owner),
		cmocka_unit_test(test_live_system_files),
		cmocka_unit_test(test_live_missing),
		cmocka_unit_test(test_live_zombie),
		cmocka_unit_test(test_live_big_cmdline),
		cmocka_unit_test(test_live_zero_fds),
	};

	if (argc > 1 && strcmp(argv[1], SLEEPER) == 0) {
		for (;;)
			pause();
	}
	test_argc = argc;
	test_argv = argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
