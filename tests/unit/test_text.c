/* Unit tests of text.c: the /ps table and the /tree drawing, hostile names included. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "config.h"
#include "daemon.h"
#include "ptable.h"
#include "render.h"
#include "users.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define TCK		100
#define CMD(s)		s, sizeof(s)

struct fixture {
	struct daemon	 d;
	struct config	 conf;
	time_t		 now;
};

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
    "alice:x:1000:1000::/home/alice:/bin/sh\n"
    "\x1b[2J:x:1002:1002::/:/bin/sh\n"
    "averyveryveryverylongusernamethatgoesonandon:x:1003:1003::/:/bin/sh\n";

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	f->now = time(NULL);
	f->conf.cmdline = 1;
	f->d.conf = &f->conf;
	f->d.pt = ptable_create();
	f->d.users = users_parse(passwd, strlen(passwd));
	f->d.clk_tck = TCK;
	/* Booted three years ago, so starts can be today, this year or before. */
	f->d.btime = (unsigned long long)f->now - 3ULL * 366 * 86400;
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

/* Ticks since boot for a process that started at epoch t. */
static unsigned long long
ticks_at(const struct fixture *f, time_t t)
{
	return ((unsigned long long)t - f->d.btime) * TCK;
}

static struct proc *
mk(struct fixture *f, pid_t pid, pid_t ppid, const char *comm, const char *cmd, size_t cmdlen)
{
	struct proc	*p = ptable_add(f->d.pt, pid, ticks_at(f, f->now));

	p->ppid = ppid;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->state = 'S';
	p->uid = 0;
	p->threads = 1;
	p->cpu_percent = 0;
	if (cmd != NULL)
		ptable_set_cmdline(p, cmd, cmdlen);
	return p;
}

static char *
ps_all(struct fixture *f, size_t *len)
{
	struct proc	**v;
	size_t		  n;
	char		 *s;

	n = ptable_snapshot(f->d.pt, &v);
	s = text_ps(&f->d, v, n, len);
	free(v);
	return s;
}

static char *
hhmm(time_t t)
{
	static char	 s[8];
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%H:%M", &tm);
	return s;
}

static void
test_ps_exact(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p;
	char		*s, want[1024];
	size_t		 len;

	p = mk(f, 1, 0, "init", CMD("/sbin/init\0splash"));
	p->rss_bytes = 12897485;		/* 12.3 MiB */
	p->utime = 3725 * TCK - 7;
	p->stime = 7;				/* 1 h 2 min 5 s in all */
	p = mk(f, 4242, 1, "worker", CMD("/usr/bin/worker\0--fast"));
	p->uid = 1000;
	p->state = 'R';
	p->threads = 12;
	p->cpu_percent = 153.26;
	p->rss_bytes = 524288;
	p->utime = (2ULL * 86400 + 3 * 3600 + 4 * 60 + 5) * TCK;

	s = ps_all(f, &len);
	snprintf(want, sizeof(want),
	    " PID PPID USER  S THR  %%CPU   RSS       TIME START COMMAND\n"
	    "   1    0 root  S   1   0.0 12.3M   01:02:05 %s /sbin/init splash\n"
	    "4242    1 alice R  12 153.3  512K 2-03:04:05 %s /usr/bin/worker --fast\n",
	    hhmm(f->now), hhmm(f->now));
	assert_string_equal(s, want);
	assert_int_equal(len, strlen(want));
	free(s);

	/* With command lines hidden, COMMAND is comm alone. */
	f->conf.cmdline = 0;
	s = ps_all(f, &len);
	assert_non_null(strstr(s, " init\n"));
	assert_non_null(strstr(s, " worker\n"));
	assert_null(strstr(s, "splash"));
	assert_null(strstr(s, "--fast"));
	free(s);
}

static void
test_ps_empty(void **state)
{
	struct fixture	*f = *state;
	size_t		 len;
	char		*s = text_ps(&f->d, NULL, 0, &len);

	assert_string_equal(s, "PID PPID USER S THR %CPU RSS TIME START COMMAND\n");
	assert_int_equal(len, strlen(s));
	free(s);
}

/* Splits line `line` (0: header) of s on spaces into at most max fields. */
static size_t
fields(const char *s, int line, char out[][128], size_t max)
{
	const char	*p = s, *e;
	size_t		 n = 0, l;

	while (line-- > 0)
		p = strchr(p, '\n') + 1;
	e = strchr(p, '\n');
	while (p < e && n < max) {
		while (*p == ' ')
			p++;
		l = strcspn(p, " \n");
		snprintf(out[n++], 128, "%.*s", (int)l, p);
		p += l;
	}
	return n;
}

static void
test_ps_columns(void **state)
{
	static const struct {
		unsigned long long	 rss, utime;
		double			 cpu;
		long			 threads;
		const char		*want_rss, *want_time, *want_cpu, *want_thr;
	} cases[] = {
		{ 0, 0, 0, 1, "0", "00:00:00", "0.0", "1" },
		{ 1000, 99, 0.04, 2, "1000B", "00:00:00", "0.0", "2" },
		{ 4096, 59 * TCK, 0.05001, 3, "4.0K", "00:00:59", "0.1", "3" },
		{ 524288, 86399ULL * TCK, 99.99, 4, "512K", "23:59:59", "100.0", "4" },
		{ 1048575, 86400ULL * TCK, -1, -1, "1.0M", "1-00:00:00", "-", "-" },
		{ 12897485, 3725ULL * TCK, 400, 1000, "12.3M", "01:02:05", "400.0", "1000" },
		{ 104857600, 100ULL * 86400 * TCK, 1, 1, "100M", "100-00:00:00", "1.0", "1" },
		{ 104815657, 1, 1, 1, "100M", "00:00:00", "1.0", "1" },
		{ 1610612736, 1, 1, 1, "1.5G", "00:00:00", "1.0", "1" },
		{ ULLONG_MAX, ULLONG_MAX, 1, 1, "-", "-", "1.0", "1" },
	};
	struct fixture	*f = *state;
	struct proc	*p;
	char		*s, fl[12][128];
	size_t		 i, len;

	for (i = 0; i < nitems(cases); i++) {
		p = mk(f, 100, 1, "x", CMD("x"));
		p->rss_bytes = cases[i].rss;
		p->utime = cases[i].utime;
		p->cpu_percent = cases[i].cpu;
		p->threads = cases[i].threads;
		s = ps_all(f, &len);
		assert_int_equal(fields(s, 1, fl, 12), 10);
		if (strcmp(fl[6], cases[i].want_rss) != 0 || strcmp(fl[7], cases[i].want_time) != 0 ||
		    strcmp(fl[5], cases[i].want_cpu) != 0 || strcmp(fl[4], cases[i].want_thr) != 0)
			fail_msg("case %zu: got rss %s time %s cpu %s thr %s", i, fl[6], fl[7],
			    fl[5], fl[4]);
		free(s);
		ptable_remove(f->d.pt, p);
	}
}

static void
test_ps_start(void **state)
{
	static const char	*mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct fixture		*f = *state;
	struct proc		*p;
	struct tm		 tn, tp;
	time_t			 past;
	char			*s, fl[12][128], want[16];
	size_t			 len;

	/* Earlier this year (or, on the 1st of January, last year). */
	past = f->now - 86400;
	gmtime_r(&f->now, &tn);
	gmtime_r(&past, &tp);
	if (tp.tm_year == tn.tm_year)
		snprintf(want, sizeof(want), "%s %02d", mon[tp.tm_mon], tp.tm_mday);
	else
		snprintf(want, sizeof(want), "%d", tp.tm_year + 1900);
	p = mk(f, 5, 1, "x", CMD("x"));
	p->start_ticks = ticks_at(f, past);
	s = ps_all(f, &len);
	fields(s, 1, fl, 12);
	if (tp.tm_year == tn.tm_year)
		assert_string_equal(fl[8], mon[tp.tm_mon]);	/* "Mon DD" is two words */
	assert_non_null(strstr(s, want));
	free(s);

	/* Two years ago: the year alone, like ps. */
	past = f->now - 2 * 366 * 86400;
	gmtime_r(&past, &tp);
	p->start_ticks = ticks_at(f, past);
	s = ps_all(f, &len);
	fields(s, 1, fl, 12);
	snprintf(want, sizeof(want), "%d", tp.tm_year + 1900);
	assert_string_equal(fl[8], want);
	free(s);

	/* An unknown boot time gives no start at all rather than 1970. */
	f->d.btime = 0;
	s = ps_all(f, &len);
	fields(s, 1, fl, 12);
	assert_string_equal(fl[8], "-");
	free(s);
}

static int
count_lines(const char *s)
{
	int	n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* Byte offset of COMMAND (the header) or of the tenth field of each line. */
static void
assert_aligned(const char *s)
{
	const char	*line = s, *nl;
	size_t		 col = strstr(s, "COMMAND") - s, off;
	int		 f;

	for (line = strchr(s, '\n') + 1; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		off = 0;
		for (f = 0; f < 9; f++) {
			while (line[off] == ' ')
				off++;
			while (line[off] != ' ')
				off++;
		}
		/* START "Mon DD" has one space inside; these rows all started today. */
		if (off + 1 != col)
			fail_msg("COMMAND at %zu, not %zu, in: %.*s", off + 1, col,
			    (int)(nl - line), line);
	}
}

static void
test_ps_hostile(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p;
	char		*s, fl[12][128];
	size_t		 len;

	mk(f, 1, 0, "init", CMD("/sbin/init"));
	/* comm from prctl(PR_SET_NAME) may hold any byte but NUL. */
	p = mk(f, 66, 1, "evil\n)x 1 0", NULL, 0);
	p->uid = 1002;				/* users.c refuses a name with an escape */
	p = mk(f, 67, 1, "ok", CMD("sh\0-c\0echo hi\n  68     1 root  S   1   0.0 0   00:00:00 00:00 fake"));
	p->uid = 1003;				/* a 44-byte user name */
	p = mk(f, 68, 1, "esc", CMD("\x1b]0;pwned\x07\x1b[31mred\r\t\x7f"));
	p->uid = -1;
	p = mk(f, 69, 1, "utf", CMD("caf\xc3\xa9\0\xff\xfe\0\xc2\x9b" "2J\0\xe2\x80\xae" "gpj.exe\0\xed\xa0\x80"));
	p->uid = 4242;

	s = ps_all(f, &len);
	assert_int_equal(count_lines(s), 6);
	assert_int_equal(strlen(s), len);
	assert_non_null(strstr(s, " [evil?)x 1 0]\n"));
	assert_non_null(strstr(s, " sh -c echo hi?  68     1 root  S   1   0.0 0   00:00:00 00:00 fake\n"));
	assert_non_null(strstr(s, " ?]0;pwned??[31mred???\n"));
	assert_non_null(strstr(s, " caf\xc3\xa9 ?? ??2J ???gpj.exe ???\n"));
	assert_null(strchr(s, '\x1b'));
	assert_null(strchr(s, '\r'));
	fields(s, 2, fl, 12);
	assert_string_equal(fl[2], "1002");
	fields(s, 3, fl, 12);
	assert_string_equal(fl[2], "averyveryveryverylongusernametha+");
	fields(s, 4, fl, 12);
	assert_string_equal(fl[2], "-");
	fields(s, 5, fl, 12);
	assert_string_equal(fl[2], "4242");
	assert_aligned(s);
	free(s);
}

static void
test_ps_long_command(void **state)
{
	struct fixture	*f = *state;
	char		*cmd, *s, *line;
	size_t		 len, n = 100000;

	cmd = malloc(n);
	memset(cmd, 'a', n);
	cmd[n - 1] = '\0';
	mk(f, 3, 1, "big", cmd, n);
	free(cmd);
	s = ps_all(f, &len);
	line = strchr(s, '\n') + 1;
	assert_true(strlen(line) < 4096 + 100);
	assert_non_null(strstr(line, "aaaa...\n"));
	free(s);
}

static void
test_ps_no_users(void **state)
{
	struct fixture	*f = *state;
	char		*s, fl[12][128];
	size_t		 len;

	users_free(f->d.users);
	f->d.users = NULL;
	mk(f, 1, 0, "init", CMD("/sbin/init"));
	s = ps_all(f, &len);
	fields(s, 1, fl, 12);
	assert_string_equal(fl[2], "0");
	free(s);
}

static void
test_tree_nesting(void **state)
{
	struct fixture	*f = *state;
	char		*s;
	size_t		 len;
	const char	*want =
	    "init(1)  /sbin/init\n"
	    "├─sshd(10)  sshd: /usr/sbin/sshd -D\n"
	    "│ ├─bash(20)  -bash\n"
	    "│ └─bash(21)\n"
	    "└─cron(11)  cron -f\n"
	    "orphan(5)  orphan --x\n"
	    "kworker/0:1(7)\n"
	    "sleep(500)  sleep 100\n"
	    "└─evil?)x(501)\n";

	/* Added out of order: the tree must come out in PID order anyway. */
	mk(f, 500, 499, "sleep", CMD("sleep\0" "100"));
	mk(f, 21, 10, "bash", NULL, 0);
	mk(f, 11, 1, "cron", CMD("cron\0-f"));
	mk(f, 20, 10, "bash", CMD("-bash"));
	mk(f, 10, 1, "sshd", CMD("sshd: /usr/sbin/sshd -D"));
	mk(f, 1, 0, "init", CMD("/sbin/init"));
	mk(f, 5, 3, "orphan", CMD("orphan\0--x"));
	mk(f, 7, 2, "kworker/0:1", "", 0);
	mk(f, 501, 500, "evil\n)x", NULL, 0);
	s = text_tree(&f->d, &len);
	assert_string_equal(s, want);
	assert_int_equal(len, strlen(want));
	free(s);

	f->conf.cmdline = 0;
	s = text_tree(&f->d, &len);
	assert_string_equal(s,
	    "init(1)\n├─sshd(10)\n│ ├─bash(20)\n│ └─bash(21)\n└─cron(11)\n"
	    "orphan(5)\nkworker/0:1(7)\nsleep(500)\n└─evil?)x(501)\n");
	free(s);
}

static void
test_tree_bars(void **state)
{
	struct fixture	*f = *state;
	char		*s;
	size_t		 len;

	/* A bar continues under a node only while that node has later siblings. */
	mk(f, 1, 0, "a", NULL, 0);
	mk(f, 2, 1, "b", NULL, 0);
	mk(f, 3, 2, "c", NULL, 0);
	mk(f, 4, 3, "d", NULL, 0);
	mk(f, 5, 2, "e", NULL, 0);
	mk(f, 6, 1, "f", NULL, 0);
	mk(f, 7, 6, "g", NULL, 0);
	mk(f, 8, 7, "h", NULL, 0);
	mk(f, 9, 8, "i", NULL, 0);
	mk(f, 10, 7, "j", NULL, 0);
	s = text_tree(&f->d, &len);
	assert_string_equal(s,
	    "a(1)\n"
	    "├─b(2)\n"
	    "│ ├─c(3)\n"
	    "│ │ └─d(4)\n"
	    "│ └─e(5)\n"
	    "└─f(6)\n"
	    "  └─g(7)\n"
	    "    ├─h(8)\n"
	    "    │ └─i(9)\n"
	    "    └─j(10)\n");
	free(s);
}

static void
test_tree_deep_chain(void **state)
{
	struct fixture	*f = *state;
	char		*s, *last;
	size_t		 len, i, n = 20000;

	for (i = 1; i <= n; i++)
		mk(f, (pid_t)i, (pid_t)i - 1, "sh", NULL, 0);
	s = text_tree(&f->d, &len);
	assert_int_equal(count_lines(s), (int)n);
	/* Indentation stops at 100 levels; deeper lines say their depth. */
	assert_true(len < n * (100 * 4 + 40));
	last = s + len - 1;
	while (last > s && last[-1] != '\n')
		last--;
	assert_non_null(strstr(last, "[19999]└─sh(20000)\n"));
	free(s);
}

static void
test_tree_cycle(void **state)
{
	struct fixture	*f = *state;
	char		*s;
	size_t		 len;

	/* Each other's parent: a PID reused between two reads can do this. */
	mk(f, 1, 0, "init", NULL, 0);
	mk(f, 7, 8, "a", NULL, 0);
	mk(f, 8, 7, "b", NULL, 0);
	mk(f, 9, 8, "c", NULL, 0);
	mk(f, 12, 12, "self", NULL, 0);
	s = text_tree(&f->d, &len);
	assert_string_equal(s,
	    "init(1)\n"
	    "self(12)\n"
	    "a(7)\n"
	    "└─b(8)\n"
	    "  └─c(9)\n");
	free(s);
}

static void
test_tree_empty(void **state)
{
	struct fixture	*f = *state;
	size_t		 len = 99;
	char		*s = text_tree(&f->d, &len);

	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ps_exact),
		T(test_ps_empty),
		T(test_ps_columns),
		T(test_ps_start),
		T(test_ps_hostile),
		T(test_ps_long_command),
		T(test_ps_no_users),
		T(test_tree_nesting),
		T(test_tree_bars),
		T(test_tree_deep_chain),
		T(test_tree_cycle),
		T(test_tree_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
