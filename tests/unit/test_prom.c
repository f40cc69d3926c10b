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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "config.h"
#include "daemon.h"
#include "events.h"
#include "groups.h"
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
	struct config	*conf;
	struct buf	out;
};

/* Applies config text to the fixture's config and groups. */
static void
configure(struct fixture *f, const char *text)
{
	char	err[512];

	if (config_parse_buffer(f->conf, "test.conf", text, strlen(text), err,
	    sizeof(err)) == -1)
		fail_msg("%s", err);
	if (groups_configure(f->d.groups, f->conf, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	groups_rematch(f->d.groups, f->d.pt, NULL, 0);
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	f->conf = config_defaults();
	f->d.conf = f->conf;
	f->d.pt = ptable_create();
	f->d.groups = groups_create(100);
	f->d.events = events_create(16);
	configure(f, "");
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
	groups_free(f->d.groups);
	events_free(f->d.events);
	config_free(f->conf);
	free(f);
	return 0;
}

static struct proc *
add(struct fixture *f, pid_t pid, const char *comm, char st, long threads,
    unsigned long long rss, unsigned long long vsize)
{
	struct proc	*p = ptable_add(f->d.pt, pid, 1000 + (unsigned)pid);

	assert_non_null(p);
	ptable_set_ppid(f->d.pt, p, pid == 1 ? 0 : 1);
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->state = st;
	p->threads = threads;
	p->rss_bytes = rss;
	p->vsize_bytes = vsize;
	groups_assign(f->d.groups, f->d.pt, p, NULL, 0);
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
update_golden(const char *text)
{
	const char	*at = strstr(text, PIDCAR_VERSION "\"}");
	FILE		*fp = fopen(GOLDEN, "w");

	assert_non_null(fp);
	assert_non_null(at);
	fwrite(text, 1, (size_t)(at - text), fp);
	fputs("@VERSION@", fp);
	fputs(at + strlen(PIDCAR_VERSION), fp);
	fclose(fp);
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
	/* The ring's own counts: 3 forks, 1 exec, 2 exits, 1 target (events_total). */
	{
		static const enum ev_type types[] = { EV_FORK, EV_FORK, EV_EXEC,
		    EV_EXIT, EV_FORK, EV_EXIT, EV_TARGET };
		struct pevent	ev;
		size_t		i;

		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			events_blank(&ev, types[i], 1795952753.0);
			events_add(f->d.events, &ev);
		}
	}
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
	prom_render(&f->d, &m, PROM_TEXT, &f->out);
	want = golden();
	/* PIDCAR_UPDATE_GOLDEN=1 rewrites it (then read the diff before committing). */
	if (getenv("PIDCAR_UPDATE_GOLDEN") != NULL && strcmp(f->out.data, want) != 0)
		update_golden(f->out.data);
	else
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
	prom_render(&f->d, &m, PROM_TEXT, &f->out);
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

	prom_render(&f->d, NULL, PROM_TEXT, &f->out);
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
	prom_render(&f->d, &m, PROM_TEXT, &f->out);
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
		/* A histogram's samples are FAM_bucket, FAM_sum and FAM_count. */
		n = strlen(fam);
		if (strncmp(name, fam, n) == 0 && (strcmp(name + n, "_bucket") == 0 ||
		    strcmp(name + n, "_sum") == 0 || strcmp(name + n, "_count") == 0))
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
	prom_render(&f->d, NULL, PROM_TEXT, &f->out);
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
	prom_render(&f->d, NULL, PROM_TEXT, &f->out);
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
		prom_render(&f->d, NULL, PROM_TEXT, &f->out);
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
	prom_render(&f->d, &m, PROM_TEXT, &f->out);
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
	prom_render(&f->d, &m, PROM_TEXT, &f->out);
	assert_int_equal(promtool_check(f->out.data, f->out.len, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* The check itself must be able to fail: a counter without _total. */
	buf_puts(&f->out, "# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n");
	assert_int_not_equal(promtool_check(f->out.data, f->out.len, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "bad_counter"));
}

/* A proc with a chosen start time, assigned to its group as the poller would. */
static struct proc *
add_at(struct fixture *f, pid_t pid, const char *comm, unsigned long long start)
{
	struct proc	*p = ptable_add(f->d.pt, pid, start);

	assert_non_null(p);
	ptable_set_ppid(f->d.pt, p, 1);
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->state = 'S';
	p->threads = 1;
	groups_assign(f->d.groups, f->d.pt, p, NULL, 0);
	return p;
}

/* The poller's order at an exit: status, exit counted, then gone from the table. */
static void
exit_proc(struct fixture *f, struct proc *p, int wstatus, double lifetime)
{
	p->exited = 1;
	p->exit_status = wstatus;
	groups_exited(f->d.groups, f->d.pt, p, lifetime, 1795952760.0);
	groups_gone(f->d.groups, f->d.pt, p, 0);
	ptable_remove(f->d.pt, p);
}

/*
 * A configured group with a main that was killed and restarted, and one that
 * never had a process: what an SRE alerts on.
 */
static void
fill_groups(struct fixture *f)
{
	struct proc	*p;

	configure(f, "group app comm=^app$\ngroup idle comm=^nothing$\n"
	    "main app\n");
	p = add_at(f, 50, "app", 1050);
	p->utime = 300;
	p->stime = 100;
	p->read_bytes = 4096;
	p->write_bytes = 8192;
	p->fds = 7;
	exit_proc(f, p, SIGKILL, 2.5);
	p = add_at(f, 51, "app", 1400);
	p->utime = 25;
	p->rss_bytes = 1 << 20;
	p->fds = 5;
	f->d.c.execs = 4;
}

/* Every family with its type, named as the format wants. */
static const struct {
	const char	*name;		/* as in text 0.0.4 */
	const char	*type;
	const char	*om_name;	/* the OpenMetrics family */
	const char	*om_type;
} all_families[] = {
	{ "pidcar_info", "gauge", "pidcar_info", "gauge" },
	{ "pidcar_target_up", "gauge", NULL, NULL },
	{ "pidcar_ready", "gauge", NULL, NULL },
	{ "pidcar_start_time_seconds", "gauge", NULL, NULL },
	{ "pidcar_processes", "gauge", NULL, NULL },
	{ "pidcar_threads", "gauge", NULL, NULL },
	{ "pidcar_processes_by_state", "gauge", NULL, NULL },
	{ "pidcar_forks_total", "counter", "pidcar_forks", NULL },
	{ "pidcar_execs_total", "counter", "pidcar_execs", NULL },
	{ "pidcar_exits_total", "counter", "pidcar_exits", NULL },
	{ "pidcar_events_total", "counter", "pidcar_events", NULL },
	{ "pidcar_events_lost_total", "counter", "pidcar_events_lost", NULL },
	{ "pidcar_target_attaches_total", "counter", "pidcar_target_attaches", NULL },
	{ "pidcar_resyncs_total", "counter", "pidcar_resyncs", NULL },
	{ "pidcar_proc_scans_total", "counter", "pidcar_proc_scans", NULL },
	{ "pidcar_refreshes_total", "counter", "pidcar_refreshes", NULL },
	{ "pidcar_proc_read_errors_total", "counter", "pidcar_proc_read_errors", NULL },
	{ "pidcar_scrape_duration_seconds", "gauge", NULL, NULL },
	{ "pidcar_group_processes", "gauge", NULL, NULL },
	{ "pidcar_group_threads", "gauge", NULL, NULL },
	{ "pidcar_group_resident_memory_bytes", "gauge", NULL, NULL },
	{ "pidcar_group_virtual_memory_bytes", "gauge", NULL, NULL },
	{ "pidcar_group_open_fds", "gauge", NULL, NULL },
	{ "pidcar_group_oldest_start_time_seconds", "gauge", NULL, NULL },
	{ "pidcar_group_cpu_seconds_total", "counter", "pidcar_group_cpu_seconds", NULL },
	{ "pidcar_group_read_bytes_total", "counter", "pidcar_group_read_bytes", NULL },
	{ "pidcar_group_write_bytes_total", "counter", "pidcar_group_write_bytes", NULL },
	{ "pidcar_group_exits_total", "counter", "pidcar_group_exits", NULL },
	{ "pidcar_group_restarts_total", "counter", "pidcar_group_restarts", NULL },
	{ "pidcar_group_process_lifetime_seconds", "histogram", NULL, NULL },
	{ "pidcar_main_up", "gauge", NULL, NULL },
	{ "pidcar_main_pid", "gauge", NULL, NULL },
	{ "pidcar_main_start_time_seconds", "gauge", NULL, NULL },
	{ "pidcar_main_restarts_total", "counter", "pidcar_main_restarts", NULL },
	{ "pidcar_main_exits_total", "counter", "pidcar_main_exits", NULL },
	{ "pidcar_main_last_exit_code", "gauge", NULL, NULL },
	{ "pidcar_main_last_exit_time_seconds", "gauge", NULL, NULL },
	{ "pidcar_main_last_exit_info", "gauge", "pidcar_main_last_exit", "info" },
	{ "pidcar_process_cpu_seconds_total", "counter", "pidcar_process_cpu_seconds", NULL },
	{ "pidcar_process_resident_memory_bytes", "gauge", NULL, NULL },
	{ "pidcar_process_virtual_memory_bytes", "gauge", NULL, NULL },
	{ "pidcar_process_threads", "gauge", NULL, NULL },
	{ "pidcar_process_open_fds", "gauge", NULL, NULL },
	{ "pidcar_process_read_bytes_total", "counter", "pidcar_process_read_bytes", NULL },
	{ "pidcar_process_write_bytes_total", "counter", "pidcar_process_write_bytes", NULL },
	{ "pidcar_process_start_time_seconds", "gauge", NULL, NULL },
	{ "process_cpu_seconds_total", "counter", "process_cpu_seconds", NULL },
	{ "process_resident_memory_bytes", "gauge", NULL, NULL },
	{ "process_virtual_memory_bytes", "gauge", NULL, NULL },
	{ "process_open_fds", "gauge", NULL, NULL },
	{ "process_max_fds", "gauge", NULL, NULL },
	{ "process_start_time_seconds", "gauge", NULL, NULL },
};
#define NFAMILIES	(sizeof(all_families) / sizeof(all_families[0]))

static void
test_every_family(void **state)
{
	struct fixture		*f = *state;
	struct self_metrics	 m;
	char			 line[256];
	const char		*name, *type, *s;
	size_t			 i;
	int			 om;

	fill_small(f, &m);
	fill_groups(f);
	configure(f, "per_process_metrics yes\n");
	for (om = 0; om <= 1; om++) {
		f->out.len = 0;
		prom_render(&f->d, &m, om ? PROM_OPENMETRICS : PROM_TEXT, &f->out);
		s = f->out.data;
		for (i = 0; i < NFAMILIES; i++) {
			name = all_families[i].name;
			type = all_families[i].type;
			if (om && all_families[i].om_name != NULL)
				name = all_families[i].om_name;
			if (om && all_families[i].om_type != NULL)
				type = all_families[i].om_type;
			snprintf(line, sizeof(line), "# TYPE %s %s", name, type);
			assert_line(s, line);
			snprintf(line, sizeof(line), "# HELP %s ", name);
			assert_int_equal(count_lines(s, line), 1);
		}
		assert_int_equal(count_lines(s, "# TYPE "), NFAMILIES);
		assert_int_equal(count_lines(s, "# EOF"), om);
		assert_int_equal(count_lines(s, "# UNIT "), om ? 21 : 0);
	}
	s = f->out.data;
	assert_true(strcmp(s + f->out.len - 6, "# EOF\n") == 0);
	assert_line(s, "# UNIT pidcar_group_cpu_seconds seconds");
	assert_line(s, "# UNIT pidcar_group_read_bytes bytes");
	assert_line(s, "# UNIT pidcar_group_process_lifetime_seconds seconds");
	assert_null(strstr(s, "_total counter"));
}

/* The numbers of fill_groups, in both formats alike. */
static void
test_group_values(void **state)
{
	static const char *lines[] = {
		"pidcar_group_processes{group=\"app\"} 1",
		"pidcar_group_processes{group=\"idle\"} 0",
		"pidcar_group_processes{group=\"nginx\"} 3",
		"pidcar_group_threads{group=\"idle\"} 0",
		"pidcar_group_resident_memory_bytes{group=\"app\"} 1048576",
		"pidcar_group_open_fds{group=\"app\"} 5",
		"pidcar_group_oldest_start_time_seconds{group=\"app\"} 14",
		"pidcar_group_oldest_start_time_seconds{group=\"idle\"} 0",
		"pidcar_group_cpu_seconds_total{group=\"app\",mode=\"user\"} 3.25",
		"pidcar_group_cpu_seconds_total{group=\"app\",mode=\"system\"} 1",
		"pidcar_group_cpu_seconds_total{group=\"idle\",mode=\"user\"} 0",
		"pidcar_group_read_bytes_total{group=\"app\"} 4096",
		"pidcar_group_write_bytes_total{group=\"app\"} 8192",
		"pidcar_group_exits_total{group=\"app\",outcome=\"signaled\"} 1",
		"pidcar_group_exits_total{group=\"app\",outcome=\"exited_zero\"} 0",
		"pidcar_group_exits_total{group=\"idle\",outcome=\"unknown\"} 0",
		"pidcar_group_restarts_total{group=\"app\"} 1",
		"pidcar_group_restarts_total{group=\"idle\"} 0",
		"pidcar_group_process_lifetime_seconds_bucket{group=\"app\",le=\"0.001\"} 0",
		"pidcar_group_process_lifetime_seconds_bucket{group=\"app\",le=\"1\"} 0",
		"pidcar_group_process_lifetime_seconds_bucket{group=\"app\",le=\"10\"} 1",
		"pidcar_group_process_lifetime_seconds_bucket{group=\"app\",le=\"86400\"} 1",
		"pidcar_group_process_lifetime_seconds_bucket{group=\"app\",le=\"+Inf\"} 1",
		"pidcar_group_process_lifetime_seconds_sum{group=\"app\"} 2.5",
		"pidcar_group_process_lifetime_seconds_count{group=\"app\"} 1",
		"pidcar_group_process_lifetime_seconds_bucket{group=\"idle\",le=\"+Inf\"} 0",
		"pidcar_group_process_lifetime_seconds_count{group=\"idle\"} 0",
		"pidcar_main_up 1",
		"pidcar_main_pid 51",
		"pidcar_main_start_time_seconds 14",
		"pidcar_main_restarts_total 1",
		"pidcar_main_exits_total 1",
		"pidcar_main_last_exit_code 137",
		"pidcar_main_last_exit_time_seconds 1795952760",
		"pidcar_main_last_exit_info{outcome=\"signaled\",code=\"\",signal=\"SIGKILL\"} 1",
		"pidcar_execs_total 4",
		"pidcar_events_total{type=\"fork\"} 3",
		"pidcar_events_total{type=\"exec\"} 1",
		"pidcar_events_total{type=\"exit\"} 2",
		"pidcar_events_total{type=\"target\"} 1",
		"pidcar_target_attaches_total 0",
	};
	struct fixture		*f = *state;
	struct self_metrics	 m;
	size_t			 i;
	int			 om;

	fill_small(f, &m);
	fill_groups(f);
	for (om = 0; om <= 1; om++) {
		f->out.len = 0;
		prom_render(&f->d, &m, om ? PROM_OPENMETRICS : PROM_TEXT, &f->out);
		for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
			assert_line(f->out.data, lines[i]);
	}
	assert_line(f->out.data, "# TYPE pidcar_main_last_exit info");
	assert_line(f->out.data, "# TYPE pidcar_group_restarts counter");
}

static void
test_main_exit_forms(void **state)
{
	static const struct {
		int		 status;
		const char	*code;
		const char	*info;
	} cases[] = {
		{ 3 << 8, "pidcar_main_last_exit_code 3",
		    "{outcome=\"exited_nonzero\",code=\"3\",signal=\"\"} 1" },
		{ 0, "pidcar_main_last_exit_code 0",
		    "{outcome=\"exited_zero\",code=\"0\",signal=\"\"} 1" },
		{ SIGTERM, "pidcar_main_last_exit_code 143",
		    "{outcome=\"signaled\",code=\"\",signal=\"SIGTERM\"} 1" },
		{ SIGSEGV | 0x80, "pidcar_main_last_exit_code 139",
		    "{outcome=\"signaled\",code=\"\",signal=\"SIGSEGV\"} 1" },
		{ -1, "pidcar_main_last_exit_code -1",
		    "{outcome=\"unknown\",code=\"\",signal=\"\"} 1" },
	};
	struct fixture	*f = *state;
	char		 line[256];
	size_t		 i;

	prom_render(&f->d, NULL, PROM_TEXT, &f->out);
	assert_line(f->out.data, "pidcar_main_last_exit_code -1");
	assert_line(f->out.data,
	    "pidcar_main_last_exit_info{outcome=\"none\",code=\"\",signal=\"\"} 1");
	assert_line(f->out.data, "pidcar_main_up 0");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* PID 1 is the main without a main keyword. */
		exit_proc(f, add_at(f, 1, "init", 100), cases[i].status, 1);
		f->out.len = 0;
		prom_render(&f->d, NULL, PROM_TEXT, &f->out);
		assert_line(f->out.data, cases[i].code);
		snprintf(line, sizeof(line), "pidcar_main_last_exit_info%s",
		    cases[i].info);
		assert_line(f->out.data, line);
		assert_line(f->out.data, "pidcar_main_up 0");
		assert_line(f->out.data, "pidcar_main_pid 0");
		assert_line(f->out.data, "pidcar_main_start_time_seconds 0");
	}
}

/* OpenMetrics: metadata, then samples named as their family says, then # EOF. */
static void
test_openmetrics_structure(void **state)
{
	static const char *suffixes[] = { "", "_total", "_info", "_bucket",
	    "_sum", "_count" };
	struct fixture		*f = *state;
	struct self_metrics	 m;
	const char		*line;
	char			 fam[128] = "", type[32] = "", name[160];
	size_t			 n, k, fn;
	int			 ok;

	fill_small(f, &m);
	fill_groups(f);
	configure(f, "per_process_metrics yes\n");
	add(f, 60, "q\"uo\\te\nnl\xff", 'S', 1, 1, 1);
	prom_render(&f->d, &m, PROM_OPENMETRICS, &f->out);
	for (line = f->out.data; *line != '\0'; line = strchr(line, '\n') + 1) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			n = strcspn(line + 7, " ");
			memcpy(fam, line + 7, n);
			fam[n] = '\0';
			line = strchr(line, '\n') + 1;
			assert_true(strncmp(line, "# TYPE ", 7) == 0);
			assert_true(strncmp(line + 7, fam, n) == 0);
			sscanf(line + 8 + n, "%31s", type);
			continue;
		}
		if (strncmp(line, "# UNIT ", 7) == 0 || strcmp(line, "# EOF\n") == 0)
			continue;
		assert_true(line[0] != '#');
		n = strcspn(line, "{ ");
		memcpy(name, line, n);
		name[n] = '\0';
		fn = strlen(fam);
		assert_true(strncmp(name, fam, fn) == 0);
		for (ok = 0, k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
			ok |= strcmp(name + fn, suffixes[k]) == 0;
		if (!ok)
			fail_msg("sample %s in family %s", name, fam);
		if (strcmp(type, "counter") == 0)
			assert_string_equal(name + fn, "_total");
		else if (strcmp(type, "info") == 0)
			assert_string_equal(name + fn, "_info");
		else if (strcmp(type, "gauge") == 0)
			assert_string_equal(name + fn, "");
	}
	assert_line(f->out.data, "pidcar_group_processes{group=\"q\\\"uo\\\\te\\nnl"
	    "\xef\xbf\xbd\"} 1");
	assert_line(f->out.data, "pidcar_process_threads{pid=\"60\",comm=\"q\\\"uo"
	    "\\\\te\\nnl\xef\xbf\xbd\"} 1");
	/* Exactly one # EOF, and it ends the body. */
	assert_ptr_equal(strstr(f->out.data, "# EOF"),
	    f->out.data + f->out.len - 6);
}

/* Runs cmd with body on stdin; returns its exit status, its output in out. */
static int
run_with_input(const char *cmd, const char *body, size_t len, char *out,
    size_t outlen)
{
	char	 path[] = "/tmp/pidcar-prom-XXXXXX", full[512];
	FILE	*p;
	size_t	 n;
	int	 fd, status;

	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, body, len), (ssize_t)len);
	close(fd);
	snprintf(full, sizeof(full), "%s < %s 2>&1", cmd, path);
	assert_non_null(p = popen(full, "r"));
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	status = pclose(p);
	unlink(path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define OM_PARSE	"/usr/bin/python3 -c 'import sys; " \
	"from prometheus_client.openmetrics.parser import " \
	"text_string_to_metric_families as p; " \
	"print(sum(len(f.samples) for f in p(sys.stdin.read())))'"

/* A real OpenMetrics parser (Debian's python3-prometheus-client) takes every sample. */
static void
test_openmetrics_parser(void **state)
{
	struct fixture		*f = *state;
	struct self_metrics	 m;
	char			 out[4096];
	size_t			 samples;

	if (system("/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null") != 0) {
		print_message("skipped: python3-prometheus-client not installed\n");
		skip();
	}
	fill_small(f, &m);
	fill_groups(f);
	configure(f, "per_process_metrics yes\n");
	add(f, 60, "a\"b\\c\nd\xff\xfe", 'S', 1, 1, 1);
	prom_render(&f->d, &m, PROM_OPENMETRICS, &f->out);
	assert_int_equal(run_with_input(OM_PARSE, f->out.data, f->out.len, out,
	    sizeof(out)), 0);
	samples = count_lines(f->out.data, "pidcar_") +
	    count_lines(f->out.data, "process_");
	assert_int_equal(strtoul(out, NULL, 10), samples);
	/* And it must be able to fail: no # EOF. */
	f->out.len -= 6;
	f->out.data[f->out.len] = '\0';
	assert_int_not_equal(run_with_input(OM_PARSE, f->out.data, f->out.len,
	    out, sizeof(out)), 0);
}

/* Per-process series: off by default; on, the top N by CPU, labelled pid and comm only. */
static void
test_per_process(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p;
	const char	*s;

	p = add(f, 7, "light", 'S', 1, 100, 200);
	p->utime = 5;
	p = add(f, 8, "heavy", 'R', 3, 300, 400);
	p->utime = 900;
	p->stime = 100;
	p->fds = 12;
	p->read_bytes = 77;
	p = add(f, 9, "idle", 'S', 1, 1, 1);
	p->utime = 1;
	p = add(f, 10, "medium", 'S', 2, 1, 1);
	p->stime = 50;
	prom_render(&f->d, NULL, PROM_TEXT, &f->out);
	assert_null(strstr(f->out.data, "pidcar_process_"));
	configure(f, "per_process_metrics yes\nper_process_limit 2\n");
	f->out.len = 0;
	prom_render(&f->d, NULL, PROM_TEXT, &f->out);
	s = f->out.data;
	assert_line(s, "pidcar_process_cpu_seconds_total{pid=\"8\",comm=\"heavy\",mode=\"user\"} 9");
	assert_line(s, "pidcar_process_cpu_seconds_total{pid=\"8\",comm=\"heavy\",mode=\"system\"} 1");
	assert_line(s, "pidcar_process_cpu_seconds_total{pid=\"10\",comm=\"medium\",mode=\"system\"} 0.5");
	assert_line(s, "pidcar_process_threads{pid=\"8\",comm=\"heavy\"} 3");
	assert_line(s, "pidcar_process_resident_memory_bytes{pid=\"8\",comm=\"heavy\"} 300");
	assert_line(s, "pidcar_process_open_fds{pid=\"8\",comm=\"heavy\"} 12");
	assert_line(s, "pidcar_process_read_bytes_total{pid=\"8\",comm=\"heavy\"} 77");
	assert_line(s, "pidcar_process_start_time_seconds{pid=\"8\",comm=\"heavy\"} 10.08");
	/* Unreadable numbers are left out, not made 0. */
	assert_null(strstr(s, "pidcar_process_open_fds{pid=\"10\""));
	assert_null(strstr(s, "pidcar_process_write_bytes_total{pid=\"8\""));
	assert_null(strstr(s, "comm=\"light\""));
	assert_null(strstr(s, "comm=\"idle\""));
	/* PID order, whatever the CPU order. */
	assert_true(strstr(s, "{pid=\"8\"") < strstr(s, "{pid=\"10\""));
	assert_int_equal(count_lines(s, "pidcar_process_threads{"), 2);
}

static void
test_negotiate(void **state)
{
	static const struct {
		const char	*accept;
		enum prom_format want;
	} cases[] = {
		{ NULL, PROM_TEXT },
		{ "", PROM_TEXT },
		{ "*/*", PROM_TEXT },
		{ "text/plain", PROM_TEXT },
		{ "application/json", PROM_TEXT },
		{ "application/openmetrics-text", PROM_OPENMETRICS },
		{ "application/openmetrics-text; version=1.0.0", PROM_OPENMETRICS },
		/* What Prometheus 2.x sends by default. */
		{ "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		    PROM_OPENMETRICS },
		{ "text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5",
		    PROM_TEXT },
		{ "application/openmetrics-text;q=0", PROM_TEXT },
		{ "application/openmetrics-text; version=2.0.0", PROM_TEXT },
		{ "APPLICATION/OpenMetrics-Text ; Version=1.0.0 ; q=0.9, text/plain;q=0.8",
		    PROM_OPENMETRICS },
		{ "text/*;q=0.9, application/openmetrics-text;q=0.9", PROM_OPENMETRICS },
		{ ",,;;=,application/openmetrics-text;q=abc", PROM_TEXT },
	};
	static const struct {
		const char	*enc;
		int		 gzip;
	} encs[] = {
		{ NULL, 0 }, { "", 0 }, { "gzip", 1 }, { "deflate, gzip;q=0.5", 1 },
		{ "gzip;q=0", 0 }, { "br", 0 }, { "x-gzip2", 0 }, { "GZIP", 1 },
		{ "identity, gzip ; q=1.0", 1 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (prom_negotiate(cases[i].accept) != cases[i].want)
			fail_msg("Accept: %s", cases[i].accept);
	for (i = 0; i < sizeof(encs) / sizeof(encs[0]); i++)
		if (prom_accepts_gzip(encs[i].enc) != encs[i].gzip)
			fail_msg("Accept-Encoding: %s", encs[i].enc);
}

static void
test_gzip(void **state)
{
	struct fixture		*f = *state;
	struct self_metrics	 m;
	struct buf		 z;
	z_stream		 s;
	char			*back;

	fill_small(f, &m);
	fill_groups(f);
	prom_render(&f->d, &m, PROM_TEXT, &f->out);
	buf_init(&z, 16);
	buf_puts(&z, "kept");
	assert_int_equal(prom_gzip(f->out.data, f->out.len, &z), 0);
	assert_memory_equal(z.data, "kept\x1f\x8b", 6);	/* appended, gzip magic */
	assert_true(z.len < f->out.len / 3);
	back = xmalloc(f->out.len + 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(inflateInit2(&s, 15 + 16), Z_OK);
	s.next_in = (Bytef *)z.data + 4;
	s.avail_in = (uInt)(z.len - 4);
	s.next_out = (Bytef *)back;
	s.avail_out = (uInt)f->out.len + 1;
	assert_int_equal(inflate(&s, Z_FINISH), Z_STREAM_END);
	assert_int_equal(s.total_out, f->out.len);
	assert_memory_equal(back, f->out.data, f->out.len);
	inflateEnd(&s);
	free(back);
	buf_free(&z);
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
		cmocka_unit_test_setup_teardown(test_every_family, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_main_exit_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openmetrics_structure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openmetrics_parser, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_process, setup, teardown),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
