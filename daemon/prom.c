/*
 * /metrics in the Prometheus text format 0.0.4, written straight into a buf.
 * prom_read_self is the one function here that reads /proc (our own entries).
 */
#include <sys/resource.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "ptable.h"
#include "render.h"
#include "xmalloc.h"

#ifndef PIDCAR_VERSION
#define PIDCAR_VERSION	"0.0.0"
#endif

static const struct {
	char		 letter;
	const char	*name;
} states[] = {
	{ 'R', "running" }, { 'S', "sleeping" }, { 'D', "disk_sleep" },
	{ 'Z', "zombie" }, { 'T', "stopped" }, { 't', "tracing_stop" },
	{ 'X', "dead" }, { 'I', "idle" }, { 'P', "parked" }
};
#define NSTATES		(sizeof(states) / sizeof(states[0]))

enum { G_PROCS, G_THREADS, G_RSS, G_VSIZE, G_N };

struct group_agg {
	const char		*name;
	unsigned long long	 v[G_N];
};


/* Reads a C string as the bytes of its repaired UTF-8 (invalid bytes as U+FFFD). */
struct utf8_cursor {
	const unsigned char	*s;
	const unsigned char	*pend;	/* rest of the current sequence */
	size_t			 npend;
};

static int
utf8_next(struct utf8_cursor *c)
{
	size_t	k;

	if (c->npend == 0) {
		if (*c->s == '\0')
			return -1;
		/* The NUL is no continuation byte: seqlen stops there. */
		if ((k = utf8_len(c->s, 4, NULL)) == 0) {
			c->pend = (const unsigned char *)"\xef\xbf\xbd";
			c->npend = 3;
			c->s++;
		} else {
			c->pend = c->s;
			c->npend = k;
			c->s += k;
		}
	}
	c->npend--;
	return *c->pend++;
}

/* Orders names as their label values will read, so names that repair alike merge. */
static int
label_cmp(const char *a, const char *b)
{
	struct utf8_cursor	ca = { (const unsigned char *)a, NULL, 0 };
	struct utf8_cursor	cb = { (const unsigned char *)b, NULL, 0 };
	int			x, y;

	do {
		x = utf8_next(&ca);
		y = utf8_next(&cb);
	} while (x == y && x != -1);
	return x < y ? -1 : x > y;
}

void
prom_escape_label(struct buf *out, const char *s)
{
	struct utf8_cursor	c = { (const unsigned char *)s, NULL, 0 };
	int			ch;

	if (s == NULL)
		return;
	while ((ch = utf8_next(&c)) != -1) {
		if (ch == '\\')
			buf_puts(out, "\\\\");
		else if (ch == '"')
			buf_puts(out, "\\\"");
		else if (ch == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, (char)ch);
	}
}

/* The shortest of %.15g..%.17g that reads back as v; NaN and infinities as Go spells them. */
static void
put_real(struct buf *b, double v)
{
	char	s[40];
	int	prec;

	if (isnan(v)) {
		buf_puts(b, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, v);
		if (prec == 17 || strtod(s, NULL) == v)
			break;
	}
	buf_puts(b, s);
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} or plain name when label is NULL. */
static void
series(struct buf *b, const char *name, const char *label, const char *value)
{
	buf_puts(b, name);
	if (label == NULL) {
		buf_putc(b, ' ');
		return;
	}
	buf_printf(b, "{%s=\"", label);
	prom_escape_label(b, value);
	buf_puts(b, "\"} ");
}

static void
sample_u(struct buf *b, const char *name, const char *label, const char *value,
    unsigned long long v)
{
	series(b, name, label, value);
	buf_printf(b, "%llu\n", v);
}

static void
sample_r(struct buf *b, const char *name, double v)
{
	series(b, name, NULL, NULL);
	put_real(b, v);
	buf_putc(b, '\n');
}

static void
gauge_u(struct buf *b, const char *name, const char *help, unsigned long long v)
{
	family(b, name, "gauge", help);
	sample_u(b, name, NULL, NULL, v);
}

static void
counter_u(struct buf *b, const char *name, const char *help, unsigned long long v)
{
	family(b, name, "counter", help);
	sample_u(b, name, NULL, NULL, v);
}

static void
render_info(struct buf *b, const struct daemon *d)
{
	family(b, "pidcar_info", "gauge",
	    "Constant 1, labelled with how pidcar runs and what it watches.");
	buf_puts(b, "pidcar_info{mode=\"");
	prom_escape_label(b, d->mode != NULL ? d->mode : "");
	buf_puts(b, "\",source=\"");
	prom_escape_label(b, d->source != NULL ? d->source : "");
	buf_puts(b, "\",target=\"");
	prom_escape_label(b, d->conf != NULL && d->conf->target != NULL ?
	    d->conf->target : "");
	buf_puts(b, "\",version=\"");
	prom_escape_label(b, PIDCAR_VERSION);
	buf_puts(b, "\"} 1\n");
	gauge_u(b, "pidcar_target_up",
	    "1 while the target namespace is attached and readable, else 0.",
	    d->target_up != 0);
	gauge_u(b, "pidcar_ready",
	    "1 once the target is attached and the first scan is done, else 0.",
	    d->ready != 0);
	family(b, "pidcar_start_time_seconds", "gauge",
	    "Start time of pidcar since the Unix epoch in seconds.");
	sample_r(b, "pidcar_start_time_seconds", d->started);
}

static void
render_table(struct buf *b, const struct daemon *d)
{
	unsigned long long	 bystate[NSTATES + 1] = { 0 }, threads = 0;
	struct proc		*p;
	size_t			 i;

	for (p = ptable_first(d->pt); p != NULL; p = ptable_next(p)) {
		for (i = 0; i < NSTATES && states[i].letter != p->state; i++)
			continue;
		bystate[i]++;
		if (p->threads > 0)
			threads += (unsigned long long)p->threads;
	}
	gauge_u(b, "pidcar_processes",
	    "Processes in the target PID namespace.", ptable_count(d->pt));
	gauge_u(b, "pidcar_threads",
	    "Threads of the processes in the target PID namespace.", threads);
	family(b, "pidcar_processes_by_state", "gauge",
	    "Processes in the target PID namespace by kernel state.");
	for (i = 0; i < NSTATES; i++)
		sample_u(b, "pidcar_processes_by_state", "state",
		    states[i].name, bystate[i]);
	sample_u(b, "pidcar_processes_by_state", "state", "other",
	    bystate[NSTATES]);
}

static void
render_counters(struct buf *b, const struct daemon *d)
{
	int	i;

	counter_u(b, "pidcar_forks_total",
	    "Processes created in the target; in sidecar polling mode, new "
	    "processes discovered (a process that lived between two scans is missed).",
	    d->c.forks);
	family(b, "pidcar_exits_total", "counter",
	    "Processes of the target that exited, by outcome.");
	for (i = 0; i < EXIT_NOUTCOMES; i++)
		sample_u(b, "pidcar_exits_total", "outcome",
		    exit_outcome_name(i), d->c.exits[i]);
	counter_u(b, "pidcar_events_lost_total",
	    "Process events the kernel dropped before pidcar read them.", 0);
	counter_u(b, "pidcar_resyncs_total",
	    "Full rescans forced by lost events or an inconsistent table.",
	    d->c.resyncs);
	counter_u(b, "pidcar_proc_scans_total",
	    "Full scans of the target's /proc.", d->c.scans);
	counter_u(b, "pidcar_refreshes_total",
	    "Refreshes of the per-process statistics.", d->c.refreshes);
	counter_u(b, "pidcar_proc_read_errors_total",
	    "Reads of /proc that failed for a live process.", d->c.read_errors);
	family(b, "pidcar_scrape_duration_seconds", "gauge",
	    "Seconds the previous /metrics request took, refresh included.");
	sample_r(b, "pidcar_scrape_duration_seconds", d->last_scrape);
}

static int
group_cmp(const void *a, const void *b)
{
	const struct proc	*pa = *(struct proc *const *)a;
	const struct proc	*pb = *(struct proc *const *)b;

	return label_cmp(pa->group != NULL ? pa->group : "",
	    pb->group != NULL ? pb->group : "");
}

/* Sums v (sorted by group) into g; returns the number of groups. */
static size_t
group_sum(struct proc **v, size_t n, struct group_agg *g)
{
	size_t	i, ng = 0;

	for (i = 0; i < n; i++) {
		const char		*name = v[i]->group != NULL ? v[i]->group : "";
		struct group_agg	*a;

		if (ng == 0 || label_cmp(g[ng - 1].name, name) != 0) {
			memset(&g[ng], 0, sizeof(g[ng]));
			g[ng++].name = name;
		}
		a = &g[ng - 1];
		a->v[G_PROCS]++;
		if (v[i]->threads > 0)
			a->v[G_THREADS] += (unsigned long long)v[i]->threads;
		a->v[G_RSS] += v[i]->rss_bytes;
		a->v[G_VSIZE] += v[i]->vsize_bytes;
	}
	return ng;
}

static void
render_groups(struct buf *b, const struct daemon *d)
{
	static const struct {
		const char	*name;
		const char	*help;
	} fams[G_N] = {
		[G_PROCS] = { "pidcar_group_processes",
		    "Processes in the group." },
		[G_THREADS] = { "pidcar_group_threads",
		    "Threads of the group's processes." },
		[G_RSS] = { "pidcar_group_resident_memory_bytes",
		    "Resident memory of the group's processes in bytes." },
		[G_VSIZE] = { "pidcar_group_virtual_memory_bytes",
		    "Virtual memory of the group's processes in bytes." },
	};
	struct proc		**v;
	struct group_agg	 *g;
	size_t			  n, ng, i, f;

	n = ptable_snapshot(d->pt, &v);
	qsort(v, n, sizeof(*v), group_cmp);
	g = xreallocarray(NULL, n + 1, sizeof(*g));
	ng = group_sum(v, n, g);
	for (f = 0; f < G_N; f++) {
		family(b, fams[f].name, "gauge", fams[f].help);
		for (i = 0; i < ng; i++)
			sample_u(b, fams[f].name, "group", g[i].name, g[i].v[f]);
	}
	free(g);
	free(v);
}

static void
render_self(struct buf *b, const struct self_metrics *m)
{
	family(b, "process_cpu_seconds_total", "counter",
	    "Total user and system CPU time spent in seconds.");
	sample_r(b, "process_cpu_seconds_total", m->cpu_seconds);
	family(b, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.");
	sample_r(b, "process_resident_memory_bytes", m->resident_bytes);
	family(b, "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes.");
	sample_r(b, "process_virtual_memory_bytes", m->virtual_bytes);
	if (m->open_fds >= 0) {
		family(b, "process_open_fds", "gauge",
		    "Number of open file descriptors.");
		sample_r(b, "process_open_fds", m->open_fds);
	}
	family(b, "process_max_fds", "gauge",
	    "Maximum number of open file descriptors.");
	sample_r(b, "process_max_fds", m->max_fds);
	family(b, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.");
	sample_r(b, "process_start_time_seconds", m->start_time);
}

void
prom_render(const struct daemon *d, const struct self_metrics *self,
    struct buf *out)
{
	render_info(out, d);
	render_table(out, d);
	render_counters(out, d);
	render_groups(out, d);
	if (self != NULL)
		render_self(out, self);
}

/* Fields 14 (utime), 15 (stime), 22 (starttime), 23 (vsize), 24 (rss) of /proc/self/stat. */
static int
self_stat(unsigned long long *ticks, unsigned long long *start,
    unsigned long long *vsize, unsigned long long *rss)
{
	char			 buf[1024], *p, *end;
	unsigned long long	 f[25];
	ssize_t			 n;
	int			 fd, i;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold ')' and spaces: the fields start after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		goto garbage;
	p += 3;
	for (i = 4; i <= 24; i++) {
		errno = 0;
		f[i] = strtoull(p, &end, 10);
		if (end == p || errno != 0)
			goto garbage;
		p = end;
	}
	*ticks = f[14] + f[15];
	*start = f[22];
	*vsize = f[23];
	*rss = f[24];
	return 0;
garbage:
	errno = EINVAL;
	return -1;
}

/* "btime N" of /proc/stat: boot time in seconds since the epoch. */
static int
self_btime(unsigned long long *btime)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	int	 found = 0;

	if ((f = fopen("/proc/stat", "re")) == NULL)
		return -1;
	while (!found && getline(&line, &cap, f) != -1)
		found = sscanf(line, "btime %llu", btime) == 1;
	free(line);
	fclose(f);
	if (!found) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Entries of /proc/self/fd but the one opendir holds; -1 when unreadable. */
static double
self_open_fds(void)
{
	DIR		*dir;
	struct dirent	*de;
	double		 n = 0;
	char		 own[16];

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return -1;
	snprintf(own, sizeof(own), "%d", dirfd(dir));
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] != '.' && strcmp(de->d_name, own) != 0)
			n++;
	}
	closedir(dir);
	return n;
}

int
prom_read_self(struct self_metrics *m)
{
	unsigned long long	 ticks, start, vsize, rss, btime;
	struct rlimit		 rl;
	long			 hz = sysconf(_SC_CLK_TCK);
	long			 page = sysconf(_SC_PAGESIZE);

	if (hz <= 0 || page <= 0)
		return -1;
	if (self_stat(&ticks, &start, &vsize, &rss) == -1 ||
	    self_btime(&btime) == -1)
		return -1;
	m->cpu_seconds = (double)ticks / (double)hz;
	m->resident_bytes = (double)rss * (double)page;
	m->virtual_bytes = (double)vsize;
	m->start_time = (double)btime + (double)start / (double)hz;
	m->open_fds = self_open_fds();
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	m->max_fds = (double)rl.rlim_cur;
	return 0;
}
