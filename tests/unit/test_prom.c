/* Unit tests of the Prometheus renderer (daemon/prom.c), checked against a golden file and promtool. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "ptable.h"
#include "render.h"
#include "xmalloc.h"

#ifndef PIDCAR_VERSION
#define PIDCAR_VERSION	"0.0.0"
#endif

#define GOLDEN		"tests/data/metrics/small.prom"
#define PROMTOOL	"/usr/bin/promtool"

struct fixture {
	struct daemon	d;
	struct config	conf;
	struct buf	out;
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	f->conf.target = "self";
	f->d.conf = &f->conf;
	f->d.pt = ptable_create();
	f->d.mode = "sidecar";
	f->d.source = "procfs_poll";
	f->d.clk_tck = 100;
	f->d.page_size = 4096;
	buf_init(&f->out, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	buf_free(&f->out);
	ptable_free(f->d.pt);
	free(f);
	return 0;
}

static struct proc *
add(struct fixture *f, pid_t pid, const char *comm, char st, long threads,
    unsigned long long rss, unsigned long long vsize)
{
	struct proc	*p = ptable_add(f->d.pt, pid, 1000 + (unsigned)pid);

	assert_non_null(p);
	p->ppid = pid == 1 ? 0 : 1;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->state = st;
	p->threads = threads;
	p->rss_bytes = rss;
	p->vsize_bytes = vsize;
	return p;
}

/* True when line (without its newline) is one whole line of text. */
static int
has_line(const char *text, const char *line)
{
	size_t		 n = strlen(line);
	const char	*p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/* Lines of text that start with prefix. */
static size_t
count_lines(const char *text, const char *prefix)
{
	size_t		 n = 0, len = strlen(prefix);
	const char	*p;

	for (p = text; *p != '\0'; p = strchr(p, '\n') + 1)
		n += strncmp(p, prefix, len) == 0;
	return n;
}

static void
assert_line(const char *text, const char *line)
{
	if (!has_line(text, line))
		fail_msg("missing line \"%s\" in:\n%s", line, text);
}

static char *
slurp(const char *path)
{
	FILE	*fp = fopen(path, "r");
	char	*s;
	long	 n;

	if (fp == NULL)
		fail_msg("%s: cannot open (run the tests from the repository root)", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	s = xmalloc((size_t)n + 1);
	assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
	s[n] = '\0';
	fclose(fp);
	return s;
}

/* The golden file with @VERSION@ replaced by the version compiled in. */
static char *
golden(void)
{
	char		*raw = slurp(GOLDEN), *at;
	struct buf	 b;

	buf_init(&b, strlen(raw));
	at = strstr(raw, "@VERSION@");
	assert_non_null(at);
	buf_add(&b, raw, (size_t)(at - raw));
	buf_puts(&b, PIDCAR_VERSION);
	buf_puts(&b, at + strlen("@VERSION@"));
	free(raw);
	return buf_release(&b, NULL);
}

static void
fill_small(struct fixture *f, struct self_metrics *m)
{
	add(f, 1, "init", 'S', 1, 4096, 8192);
	add(f, 20, "nginx", 'S', 2, 1000000, 5000000);
	add(f, 21, "nginx", 'R', 4, 3000000, 5000000);
	add(f, 22, "nginx", 'Z', -1, 0, 0);
	add(f, 30, "kworker/0:1", 'I', 1, 0, 0);
	add(f, 31, "odd", 'W', 1, 0, 0);		/* a letter pidcar does not know */
	f->d.target_up = 1;
	f->d.ready = 1;
	f->d.started = 1795952753.25;
	f->d.last_scrape = 0.0125;
	f->d.c.forks = 12;
	f->d.c.exits[EXIT_ZERO] = 5;
	f->d.c.exits[EXIT_NONZERO] = 2;
	f->d.c.exits[EXIT_SIGNALED] = 1;
	f->d.c.resyncs = 3;
	f->d.c.scans = 40;
	f->d.c.refreshes = 7;
	f->d.c.read_errors = 1;
	m->cpu_seconds = 1.5;
	m->resident_bytes = 8388608;
	m->virtual_bytes = 123456789;
	m->open_fds = 9;
	m->max_fds = 1024;
	m->start_time = 1795952753.5;
}

static void
test_golden(void **state)
{
	struct fixture		*f = *state;
	struct self_metrics	 m;
	char			*want;

	fill_small(f, &m);
	prom_render(&f->d, &m, &f->out);
	want = golden();
	assert_string_equal(f->out.data, want);
	free(want);
}

static void
test_small_lines(void **state)
{
	struct fixture		*f = *state;
	struct self_metrics	 m;
	const char		*s;

	fill_small(f, &m);
	prom_render(&f->d, &m, &f->out);
	s = f->out.data;
	assert_line(s, "pidcar_processes 6");
	assert_line(s, "pidcar_threads 9");		/* the zombie's -1 counts 0 */
	assert_line(s, "pidcar_processes_by_state{state=\"sleeping\"} 2");
	assert_line(s, "pidcar_processes_by_state{state=\"running\"} 1");
	assert_line(s, "pidcar_processes_by_state{state=\"zombie\"} 1");
	assert_line(s, "pidcar_processes_by_state{state=\"idle\"} 1");
	assert_line(s, "pidcar_processes_by_state{state=\"other\"} 1");
	assert_line(s, "pidcar_group_processes{group=\"nginx\"} 3");
	assert_line(s, "pidcar_group_threads{group=\"nginx\"} 6");
	assert_line(s, "pidcar_group_resident_memory_bytes{group=\"nginx\"} 4000000");
	assert_line(s, "pidcar_group_virtual_memory_bytes{group=\"nginx\"} 10000000");
	assert_line(s, "pidcar_group_processes{group=\"kworker/0:1\"} 1");
	assert_line(s, "pidcar_scrape_duration_seconds 0.0125");
	assert_line(s, "pidcar_start_time_seconds 1795952753.25");
	assert_line(s, "process_start_time_seconds 1795952753.5");
	assert_line(s, "process_open_fds 9");
	assert_line(s, "pidcar_info{mode=\"sidecar\",source=\"procfs_poll\","
	    "target=\"self\",version=\"" PIDCAR_VERSION "\"} 1");
}

/* Alerting must not depend on history: every state and outcome is always there. */
static void
test_all_labels_present(void **state)
{
	static const char *lines[] = {
		"pidcar_processes 0",
		"pidcar_threads 0",
		"pidcar_processes_by_state{state=\"running\"} 0",
		"pidcar_processes_by_state{state=\"sleeping\"} 0",
		"pidcar_processes_by_state{state=\"disk_sleep\"} 0",
		"pidcar_processes_by_state{state=\"zombie\"} 0",
		"pidcar_processes_by_state{state=\"stopped\"} 0",
		"pidcar_processes_by_state{state=\"tracing_stop\"} 0",
		"pidcar_processes_by_state{state=\"dead\"} 0",
		"pidcar_processes_by_state{state=\"idle\"} 0",
		"pidcar_processes_by_state{state=\"parked\"} 0",
		"pidcar_processes_by_state{state=\"other\"} 0",
		"pidcar_exits_total{outcome=\"exited_zero\"} 0",
		"pidcar_exits_total{outcome=\"exited_nonzero\"} 0",
		"pidcar_exits_total{outcome=\"signaled\"} 0",
		"pidcar_exits_total{outcome=\"unknown\"} 0",
		"pidcar_events_lost_total 0",
		"pidcar_target_up 0",
		"pidcar_ready 0",
		"# TYPE pidcar_group_processes gauge",
	};
	struct fixture	*f = *state;
	size_t		 i;

	prom_render(&f->d, NULL, &f->out);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_line(f->out.data, lines[i]);
	assert_null(strstr(f->out.data, "pidcar_group_processes{"));
	assert_null(strstr(f->out.data, "process_cpu_seconds_total"));
}

/* Each family: HELP, then TYPE, then only its own samples, and never seen twice. */
static void
test_help_and_type(void **state)
{
	struct fixture		*f = *state;
	struct self_metrics	 m;
	const char		*line, *help;
	char			 fam[128] = "", name[128];
	size_t			 n;

	fill_small(f, &m);
	prom_render(&f->d, &m, &f->out);
	for (line = f->out.data; *line != '\0'; line = strchr(line, '\n') + 1) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			n = strcspn(line + 7, " ");
			assert_true(n < sizeof(fam));
			memcpy(fam, line + 7, n);
			fam[n] = '\0';
			snprintf(name, sizeof(name), "# HELP %.100s ", fam);
			assert_int_equal(count_lines(f->out.data, name), 1);
			line = strchr(line, '\n') + 1;
			assert_true(strncmp(line, "# TYPE ", 7) == 0);
			assert_true(strncmp(line + 7, fam, n) == 0 && line[7 + n] == ' ');
			continue;
		}
		assert_true(line[0] != '#');
		n = strcspn(line, "{ ");
		assert_true(n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		assert_string_equal(name, fam);
	}
	help = strstr(f->out.data, "# HELP pidcar_forks_total ");
	assert_non_null(help);
	assert_non_null(strstr(help, "sidecar"));
	assert_true(strstr(help, "sidecar") < strchr(help, '\n'));
	assert_line(f->out.data, "# TYPE pidcar_forks_total counter");
	assert_line(f->out.data, "# TYPE pidcar_exits_total counter");
	assert_line(f->out.data, "# TYPE process_cpu_seconds_total counter");
	assert_line(f->out.data, "# TYPE pidcar_processes gauge");
}

static void
test_escape_label(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "a\"b", "a\\\"b" },
		{ "back\\slash", "back\\\\slash" },
		{ "two\nlines", "two\\nlines" },
		{ "x)\xff\xfe", "x)\xef\xbf\xbd\xef\xbf\xbd" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
		{ "\xc0\xaf\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd" },
		{ "tab\there", "tab\there" },
	};
	struct fixture	*f = *state;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->out.len = 0;
		f->out.data[0] = '\0';
		prom_escape_label(&f->out, cases[i].in);
		assert_string_equal(f->out.data, cases[i].out);
	}
}

static void
test_group_escaped(void **state)
{
	struct fixture	*f = *state;

	add(f, 2, "a\"b\\c\nd\xff", 'S', 1, 10, 20);
	prom_render(&f->d, NULL, &f->out);
	assert_line(f->out.data,
	    "pidcar_group_processes{group=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\"} 1");
	assert_line(f->out.data,
	    "pidcar_group_virtual_memory_bytes{group=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\"} 20");
}

/* Names that differ only in invalid bytes read the same: one series, not a duplicate. */
static void
test_group_merge_repaired(void **state)
{
	struct fixture	*f = *state;
	const char	*first;

	add(f, 2, "x\xff", 'S', 1, 10, 20);
	add(f, 3, "w", 'S', 1, 1, 1);
	add(f, 4, "x\xfe", 'S', 2, 30, 40);
	add(f, 5, "x\xef\xbf\xbd", 'S', 1, 0, 0);	/* already U+FFFD */
	prom_render(&f->d, NULL, &f->out);
	assert_line(f->out.data, "pidcar_group_processes{group=\"x\xef\xbf\xbd\"} 3");
	assert_line(f->out.data, "pidcar_group_threads{group=\"x\xef\xbf\xbd\"} 4");
	assert_line(f->out.data,
	    "pidcar_group_resident_memory_bytes{group=\"x\xef\xbf\xbd\"} 40");
	first = strstr(f->out.data, "pidcar_group_processes{group=\"x");
	assert_null(strstr(first + 1, "pidcar_group_processes{group=\"x"));
	/* Sorted: "w" before "x...". */
	assert_true(strstr(f->out.data, "pidcar_group_processes{group=\"w\"} 1") < first);
}

static void
test_reals(void **state)
{
	static const struct {
		double		 v;
		const char	*line;
	} cases[] = {
		{ 0, "pidcar_scrape_duration_seconds 0" },
		{ 0.1, "pidcar_scrape_duration_seconds 0.1" },
		{ 3, "pidcar_scrape_duration_seconds 3" },
		{ 1e-7, "pidcar_scrape_duration_seconds 1e-07" },
		{ 0.1 + 0.2, "pidcar_scrape_duration_seconds 0.30000000000000004" },
		{ NAN, "pidcar_scrape_duration_seconds NaN" },
		{ INFINITY, "pidcar_scrape_duration_seconds +Inf" },
	};
	struct fixture	*f = *state;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->out.len = 0;
		f->out.data[0] = '\0';
		f->d.last_scrape = cases[i].v;
		prom_render(&f->d, NULL, &f->out);
		assert_line(f->out.data, cases[i].line);
	}
}

static void
test_open_fds_unknown(void **state)
{
	struct fixture		*f = *state;
	struct self_metrics	 m;

	fill_small(f, &m);
	m.open_fds = -1;
	prom_render(&f->d, &m, &f->out);
	assert_null(strstr(f->out.data, "process_open_fds"));
	assert_line(f->out.data, "process_max_fds 1024");
}

static void
test_read_self(void **state)
{
	struct self_metrics	 a, b;
	struct rlimit		 rl;
	struct timespec		 ts;
	int			 fds[2];

	(void)state;
	assert_int_equal(prom_read_self(&a), 0);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(prom_read_self(&b), 0);
	close(fds[0]);
	close(fds[1]);
	assert_true(a.open_fds >= 0);
	assert_true(b.open_fds == a.open_fds + 2);
	assert_true(a.cpu_seconds >= 0 && a.cpu_seconds < 3600);
	assert_true(a.resident_bytes > 0);
	assert_true(a.virtual_bytes >= a.resident_bytes);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(a.max_fds == (double)rl.rlim_cur);
	clock_gettime(CLOCK_REALTIME, &ts);
	assert_true(a.start_time <= (double)ts.tv_sec + 1);
	assert_true(a.start_time > (double)ts.tv_sec - 600);
}

/* Writes body to a temporary file and returns promtool's exit status; *out its output. */
static int
promtool_check(const char *body, size_t len, char *out, size_t outlen)
{
	char	 path[] = "/tmp/pidcar-prom-XXXXXX", cmd[128];
	FILE	*p;
	size_t	 n;
	int	 fd, status;

	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, body, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), PROMTOOL " check metrics < %s 2>&1", path);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	status = pclose(p);
	unlink(path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_promtool(void **state)
{
	struct fixture		*f = *state;
	struct self_metrics	 m;
	char			 out[4096];

	if (access(PROMTOOL, X_OK) != 0) {
		print_message("skipped: %s not installed\n", PROMTOOL);
		skip();
	}
	fill_small(f, &m);
	assert_int_equal(prom_read_self(&m), 0);
	add(f, 40, "a\"b\\c\nd\xff\xfe", 'S', 1, 1, 1);
	add(f, 41, "tab\tcr\r)", 'D', 1, 1, 1);
	add(f, 42, "", 'T', 1, 1, 1);
	prom_render(&f->d, &m, &f->out);
	assert_int_equal(promtool_check(f->out.data, f->out.len, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* The check itself must be able to fail: a counter without _total. */
	buf_puts(&f->out, "# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n");
	assert_int_not_equal(promtool_check(f->out.data, f->out.len, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "bad_counter"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_golden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_labels_present, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_and_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escape_label, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_merge_repaired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fds_unknown, setup, teardown),
		cmocka_unit_test(test_read_self),
		cmocka_unit_test_setup_teardown(test_promtool, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
