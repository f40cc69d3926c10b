/*
 * /metrics in the Prometheus text format 0.0.4 or OpenMetrics 1.0, written
 * straight into one buf in one pass over the table (pure: scrape.c does the
 * negotiation, gzip and /proc/self).
 */
#include <sys/wait.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const struct {
	char		 letter;
	const char	*name;
} states[] = {
	{ 'R', "running" }, { 'S', "sleeping" }, { 'D', "disk_sleep" },
	{ 'Z', "zombie" }, { 'T', "stopped" }, { 't', "tracing_stop" },
	{ 'X', "dead" }, { 'I', "idle" }, { 'P', "parked" }
};
#define NSTATES		(sizeof(states) / sizeof(states[0]))

static const char *const modes[GROUPS_NMODES] = { "user", "system" };

/* Where samples go and how: the two formats differ only in metadata and the end. */
struct out {
	struct buf	*b;
	int		 om;		/* OpenMetrics 1.0 */
	int		 nlabels;	/* of the sample being written */
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

static int
has_suffix(const char *s, size_t n, const char *suffix)
{
	size_t	k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/*
 * HELP and TYPE of a family named as its samples are (counters with _total,
 * info metrics with _info).  OpenMetrics names the family without the
 * suffix, has an info type, and gets a UNIT that the name ends with.
 */
static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	size_t		 n = strlen(name);
	const char	*t = type;

	if (o->om && strcmp(type, "counter") == 0 && has_suffix(name, n, "_total"))
		n -= strlen("_total");
	else if (strcmp(type, "info") == 0) {
		if (o->om)
			n -= strlen("_info");
		else
			t = "gauge";
	}
	buf_printf(o->b, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)n, name, help,
	    (int)n, name, t);
	if (!o->om)
		return;
	if (has_suffix(name, n, "_seconds"))
		buf_printf(o->b, "# UNIT %.*s seconds\n", (int)n, name);
	else if (has_suffix(name, n, "_bytes"))
		buf_printf(o->b, "# UNIT %.*s bytes\n", (int)n, name);
}

static void
begin(struct out *o, const char *name)
{
	buf_puts(o->b, name);
	o->nlabels = 0;
}

static void
label(struct out *o, const char *key, const char *value)
{
	buf_putc(o->b, o->nlabels++ ? ',' : '{');
	buf_puts(o->b, key);
	buf_puts(o->b, "=\"");
	prom_escape_label(o->b, value != NULL ? value : "");
	buf_putc(o->b, '"');
}

static void
end_u(struct out *o, unsigned long long v)
{
	buf_printf(o->b, "%s %llu\n", o->nlabels ? "}" : "", v);
}

static void
end_r(struct out *o, double v)
{
	buf_puts(o->b, o->nlabels ? "} " : " ");
	put_real(o->b, v);
	buf_putc(o->b, '\n');
}

/* name{key="value"} v, or plain name v when key is NULL. */
static void
sample_u(struct out *o, const char *name, const char *key, const char *value,
    unsigned long long v)
{
	begin(o, name);
	if (key != NULL)
		label(o, key, value);
	end_u(o, v);
}

static void
sample_r(struct out *o, const char *name, const char *key, const char *value,
    double v)
{
	begin(o, name);
	if (key != NULL)
		label(o, key, value);
	end_r(o, v);
}

static void
gauge_u(struct out *o, const char *name, const char *help, unsigned long long v)
{
	family(o, name, "gauge", help);
	sample_u(o, name, NULL, NULL, v);
}

static void
gauge_r(struct out *o, const char *name, const char *help, double v)
{
	family(o, name, "gauge", help);
	sample_r(o, name, NULL, NULL, v);
}

static void
counter_u(struct out *o, const char *name, const char *help, unsigned long long v)
{
	family(o, name, "counter", help);
	sample_u(o, name, NULL, NULL, v);
}

/* Start time in seconds since the epoch of something started ticks after boot. */
static double
epoch_of(const struct daemon *d, unsigned long long ticks)
{
	return (double)d->btime + (double)ticks /
	    (double)(d->clk_tck > 0 ? d->clk_tck : 100);
}

static double
seconds_of(const struct daemon *d, unsigned long long ticks)
{
	return (double)ticks / (double)(d->clk_tck > 0 ? d->clk_tck : 100);
}

static void
render_info(struct out *o, const struct daemon *d)
{
	family(o, "pidcar_info", "gauge",
	    "Constant 1, labelled with how pidcar runs and what it watches.");
	begin(o, "pidcar_info");
	label(o, "mode", d->mode);
	label(o, "source", d->source);
	label(o, "target", d->conf != NULL ? d->conf->target : NULL);
	label(o, "version", PIDCAR_VERSION);
	end_u(o, 1);
	gauge_u(o, "pidcar_target_up",
	    "1 while the target namespace is attached and readable, else 0.",
	    d->target_up != 0);
	gauge_u(o, "pidcar_ready",
	    "1 once the target is attached and the first scan is done, else 0.",
	    d->ready != 0);
	gauge_r(o, "pidcar_start_time_seconds",
	    "Start time of pidcar since the Unix epoch in seconds.", d->started);
}

static void
render_table(struct out *o, const struct daemon *d)
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
	gauge_u(o, "pidcar_processes",
	    "Processes in the target PID namespace.", ptable_count(d->pt));
	gauge_u(o, "pidcar_threads",
	    "Threads of the processes in the target PID namespace.", threads);
	family(o, "pidcar_processes_by_state", "gauge",
	    "Processes in the target PID namespace by kernel state.");
	for (i = 0; i < NSTATES; i++)
		sample_u(o, "pidcar_processes_by_state", "state",
		    states[i].name, bystate[i]);
	sample_u(o, "pidcar_processes_by_state", "state", "other",
	    bystate[NSTATES]);
}

static void
render_counters(struct out *o, const struct daemon *d)
{
	int			i;

	counter_u(o, "pidcar_forks_total",
	    "Processes created in the target; in sidecar polling mode, new "
	    "processes discovered (a process that lived between two scans is missed).",
	    d->c.forks);
	counter_u(o, "pidcar_execs_total",
	    "Execs in the target; in sidecar polling mode, a new comm with a new "
	    "exe or command line noticed at a refresh.", d->c.execs);
	family(o, "pidcar_exits_total", "counter",
	    "Processes of the target that exited, by outcome.");
	for (i = 0; i < EXIT_NOUTCOMES; i++) {
		sample_u(o, "pidcar_exits_total", "outcome",
		    exit_outcome_name(i), d->c.exits[i]);
	}
	family(o, "pidcar_events_total", "counter",
	    "Lifecycle events put in the event ring (/api/v1/events), by type.");
	for (i = 0; i < EV_NTYPES; i++)
		sample_u(o, "pidcar_events_total", "type", events_type_name(i),
		    d->events != NULL ? events_count(d->events, i) : 0);
	counter_u(o, "pidcar_target_attaches_total",
	    "Times the target was attached again after it was gone (a restarted "
	    "container).", d->c.attaches);
	if (d->taskstats) {
		family(o, "pidcar_exit_records_total", "counter",
		    "Exits of the target and whether a taskstats exit record "
		    "(exact CPU) was joined to them.");
		sample_u(o, "pidcar_exit_records_total", "result", "joined",
		    d->c.ts_joined);
		sample_u(o, "pidcar_exit_records_total", "result", "missing",
		    d->c.ts_missing);
	}
	counter_u(o, "pidcar_events_lost_total",
	    "Process events the kernel dropped before pidcar read them.",
	    d->c.events_lost);
	counter_u(o, "pidcar_resyncs_total",
	    "Full rescans forced by lost events or an inconsistent table.",
	    d->c.resyncs);
	counter_u(o, "pidcar_proc_scans_total",
	    "Full scans of the target's /proc.", d->c.scans);
	counter_u(o, "pidcar_refreshes_total",
	    "Refreshes of the per-process statistics.", d->c.refreshes);
	counter_u(o, "pidcar_proc_read_errors_total",
	    "Reads of /proc that failed for a live process.", d->c.read_errors);
	gauge_r(o, "pidcar_scrape_duration_seconds",
	    "Seconds the previous /metrics request took, refresh included.",
	    d->last_scrape);
}

enum { GF_PROCS, GF_THREADS, GF_RSS, GF_VSIZE, GF_FDS, GF_OLDEST, GF_N };

static void
render_group_gauges(struct out *o, const struct daemon *d,
    const struct group_view *v, size_t n)
{
	static const struct {
		const char	*name;
		const char	*help;
	} fams[GF_N] = {
		[GF_PROCS] = { "pidcar_group_processes",
		    "Processes in the group, zombies included." },
		[GF_THREADS] = { "pidcar_group_threads",
		    "Threads of the group's processes." },
		[GF_RSS] = { "pidcar_group_resident_memory_bytes",
		    "Resident memory of the group's processes in bytes." },
		[GF_VSIZE] = { "pidcar_group_virtual_memory_bytes",
		    "Virtual memory of the group's processes in bytes." },
		[GF_FDS] = { "pidcar_group_open_fds",
		    "Open file descriptors of the group's processes (those readable)." },
		[GF_OLDEST] = { "pidcar_group_oldest_start_time_seconds",
		    "Start time of the group's oldest live process since the Unix "
		    "epoch in seconds, 0 when it has none." },
	};
	size_t	f, i;

	for (f = 0; f < GF_N; f++) {
		family(o, fams[f].name, "gauge", fams[f].help);
		for (i = 0; i < n; i++) {
			begin(o, fams[f].name);
			label(o, "group", v[i].g->name);
			switch (f) {
			case GF_PROCS:	end_u(o, v[i].processes); break;
			case GF_THREADS: end_u(o, v[i].threads); break;
			case GF_RSS:	end_u(o, v[i].rss_bytes); break;
			case GF_VSIZE:	end_u(o, v[i].vsize_bytes); break;
			case GF_FDS:	end_u(o, v[i].fds); break;
			default:
				end_r(o, v[i].has_oldest ?
				    epoch_of(d, v[i].oldest_ticks) : 0);
			}
		}
	}
}

static void
render_group_counters(struct out *o, const struct daemon *d,
    const struct group_view *v, size_t n)
{
	static const char *const io[2] = {
		"pidcar_group_read_bytes_total", "pidcar_group_write_bytes_total"
	};
	size_t	i;
	int	m, k;

	family(o, "pidcar_group_cpu_seconds_total", "counter",
	    "CPU time of the group's processes in seconds, those that exited "
	    "included, by mode.");
	for (i = 0; i < n; i++) {
		for (m = 0; m < GROUPS_NMODES; m++) {
			begin(o, "pidcar_group_cpu_seconds_total");
			label(o, "group", v[i].g->name);
			label(o, "mode", modes[m]);
			end_r(o, seconds_of(d, v[i].cpu_ticks[m]));
		}
	}
	for (k = 0; k < 2; k++) {
		family(o, io[k], "counter", k == 0 ?
		    "Bytes the group's processes read from storage, those that "
		    "exited included." :
		    "Bytes the group's processes wrote to storage, those that "
		    "exited included.");
		for (i = 0; i < n; i++)
			sample_u(o, io[k], "group", v[i].g->name, v[i].io[k]);
	}
	family(o, "pidcar_group_exits_total", "counter",
	    "Processes of the group that exited, by outcome.");
	for (i = 0; i < n; i++) {
		for (k = 0; k < EXIT_NOUTCOMES; k++) {
			begin(o, "pidcar_group_exits_total");
			label(o, "group", v[i].g->name);
			label(o, "outcome", exit_outcome_name(k));
			end_u(o, v[i].g->exits[k]);
		}
	}
	family(o, "pidcar_group_restarts_total", "counter",
	    "Processes that joined the group in place of one that had exited.");
	for (i = 0; i < n; i++)
		sample_u(o, "pidcar_group_restarts_total", "group",
		    v[i].g->name, v[i].g->restarts);
}

static void
render_lifetimes(struct out *o, const struct group_view *v, size_t n)
{
	static const char	*name = "pidcar_group_process_lifetime_seconds";
	char			 le[32];
	unsigned long long	 cum;
	size_t			 i, k;

	family(o, name, "histogram",
	    "How long the group's processes lived, observed when they exit.");
	for (i = 0; i < n; i++) {
		const struct group	*g = v[i].g;

		for (cum = 0, k = 0; k <= GROUPS_NBUCKETS; k++) {
			if (k < GROUPS_NBUCKETS) {
				cum += g->lifetime_bucket[k];
				snprintf(le, sizeof(le), "%g", groups_buckets[k]);
			} else {
				cum = g->lifetime_count;
				snprintf(le, sizeof(le), "+Inf");
			}
			begin(o, "pidcar_group_process_lifetime_seconds_bucket");
			label(o, "group", g->name);
			label(o, "le", le);
			end_u(o, cum);
		}
		begin(o, "pidcar_group_process_lifetime_seconds_sum");
		label(o, "group", g->name);
		end_r(o, g->lifetime_sum);
		begin(o, "pidcar_group_process_lifetime_seconds_count");
		label(o, "group", g->name);
		end_u(o, g->lifetime_count);
	}
}

static void
render_groups(struct out *o, const struct daemon *d)
{
	struct group_view	*v = NULL;
	size_t			 n = 0;

	if (d->groups != NULL)
		n = groups_view(d->groups, d->pt, &v);
	render_group_gauges(o, d, v, n);
	render_group_counters(o, d, v, n);
	render_lifetimes(o, v, n);
	free(v);
}

/* The last exit as s6-svstat says it: an exit code, or 128 + the signal as shells do. */
static void
render_main_exit(struct out *o, const struct main_status *m)
{
	const char	*outcome = "none", *abbrev;
	char		 code[16] = "", sig[32] = "";
	double		 value = -1;
	int		 st = m->last_status;

	if (m->exited) {
		outcome = exit_outcome_name(exit_outcome_of(st));
		if (st >= 0 && WIFEXITED(st)) {
			value = WEXITSTATUS(st);
			snprintf(code, sizeof(code), "%d", WEXITSTATUS(st));
		} else if (st >= 0 && WIFSIGNALED(st)) {
			value = 128 + WTERMSIG(st);
			if ((abbrev = sigabbrev_np(WTERMSIG(st))) != NULL)
				snprintf(sig, sizeof(sig), "SIG%s", abbrev);
			else
				snprintf(sig, sizeof(sig), "SIG%d", WTERMSIG(st));
		}
	}
	gauge_r(o, "pidcar_main_last_exit_code",
	    "Exit code of the main process's last exit, 128 + the signal when "
	    "killed by one, -1 before any exit or when unknown.", value);
	gauge_r(o, "pidcar_main_last_exit_time_seconds",
	    "When the main process last exited, since the Unix epoch in seconds; "
	    "0 never.", m->last_exit_at);
	family(o, "pidcar_main_last_exit_info", "info",
	    "The main process's last exit: outcome (none before the first), exit "
	    "code or signal name.");
	begin(o, "pidcar_main_last_exit_info");
	label(o, "outcome", outcome);
	label(o, "code", code);
	label(o, "signal", sig);
	end_u(o, 1);
}

static void
render_main(struct out *o, const struct daemon *d)
{
	static const struct main_status	 none = { .last_status = -1 };
	const struct main_status	*m = &none;

	if (d->groups != NULL)
		m = groups_main(d->groups);
	gauge_u(o, "pidcar_main_up",
	    "1 while the main process runs (the namespace's PID 1 unless main "
	    "is set), else 0.", m->up != 0);
	gauge_u(o, "pidcar_main_pid",
	    "PID of the main process in the target namespace, 0 while it is down.",
	    m->up ? (unsigned long long)m->pid : 0);
	gauge_r(o, "pidcar_main_start_time_seconds",
	    "Start time of the running main process since the Unix epoch in "
	    "seconds, 0 while it is down.",
	    m->up ? epoch_of(d, m->start_ticks) : 0);
	counter_u(o, "pidcar_main_restarts_total",
	    "Times a new main process started after the previous one exited.",
	    m->restarts);
	counter_u(o, "pidcar_main_exits_total",
	    "Exits of the main process.", m->exits);
	render_main_exit(o, m);
}

static int
by_cpu_desc(const void *a, const void *b)
{
	const struct proc	*pa = *(struct proc *const *)a;
	const struct proc	*pb = *(struct proc *const *)b;
	unsigned long long	 ca = pa->utime + pa->stime, cb = pb->utime + pb->stime;

	if (ca != cb)
		return ca > cb ? -1 : 1;
	return pa->pid < pb->pid ? -1 : pa->pid > pb->pid;
}

static int
by_pid(const void *a, const void *b)
{
	const struct proc	*pa = *(struct proc *const *)a;
	const struct proc	*pb = *(struct proc *const *)b;

	return pa->pid < pb->pid ? -1 : pa->pid > pb->pid;
}

enum {
	PF_CPU, PF_RSS, PF_VSIZE, PF_THREADS, PF_FDS, PF_READ, PF_WRITE,
	PF_START, PF_N
};

static void
process_sample(struct out *o, const struct daemon *d, const struct proc *p,
    int f, const char *name)
{
	char	pid[16];
	int	m;

	snprintf(pid, sizeof(pid), "%d", (int)p->pid);
	if ((f == PF_FDS && p->fds < 0) || (f == PF_READ && p->read_bytes < 0) ||
	    (f == PF_WRITE && p->write_bytes < 0))
		return;
	for (m = 0; m < (f == PF_CPU ? GROUPS_NMODES : 1); m++) {
		begin(o, name);
		label(o, "pid", pid);
		label(o, "comm", p->comm);
		switch (f) {
		case PF_CPU:
			label(o, "mode", modes[m]);
			end_r(o, seconds_of(d, m == 0 ? p->utime : p->stime));
			break;
		case PF_RSS:	end_u(o, p->rss_bytes); break;
		case PF_VSIZE:	end_u(o, p->vsize_bytes); break;
		case PF_THREADS:
			end_u(o, p->threads > 0 ? (unsigned long long)p->threads : 0);
			break;
		case PF_FDS:	end_u(o, (unsigned long long)p->fds); break;
		case PF_READ:	end_u(o, (unsigned long long)p->read_bytes); break;
		case PF_WRITE:	end_u(o, (unsigned long long)p->write_bytes); break;
		default:	end_r(o, epoch_of(d, p->start_ticks));
		}
	}
}

/* pidcar_process_*{pid,comm}: opt-in, and only the top per_process_limit by CPU. */
static void
render_processes(struct out *o, const struct daemon *d)
{
	static const struct {
		const char	*name;
		const char	*type;
		const char	*help;
	} fams[PF_N] = {
		[PF_CPU] = { "pidcar_process_cpu_seconds_total", "counter",
		    "CPU time of the process in seconds, by mode." },
		[PF_RSS] = { "pidcar_process_resident_memory_bytes", "gauge",
		    "Resident memory of the process in bytes." },
		[PF_VSIZE] = { "pidcar_process_virtual_memory_bytes", "gauge",
		    "Virtual memory of the process in bytes." },
		[PF_THREADS] = { "pidcar_process_threads", "gauge",
		    "Threads of the process." },
		[PF_FDS] = { "pidcar_process_open_fds", "gauge",
		    "Open file descriptors of the process." },
		[PF_READ] = { "pidcar_process_read_bytes_total", "counter",
		    "Bytes the process read from storage." },
		[PF_WRITE] = { "pidcar_process_write_bytes_total", "counter",
		    "Bytes the process wrote to storage." },
		[PF_START] = { "pidcar_process_start_time_seconds", "gauge",
		    "Start time of the process since the Unix epoch in seconds." },
	};
	struct proc	**v;
	size_t		  n, i, limit;
	int		  f;

	if (d->conf == NULL || !d->conf->per_process_metrics)
		return;
	limit = d->conf->per_process_limit > 0 ?
	    (size_t)d->conf->per_process_limit : 0;
	n = ptable_snapshot(d->pt, &v);
	if (n > limit) {
		qsort(v, n, sizeof(*v), by_cpu_desc);
		n = limit;
		qsort(v, n, sizeof(*v), by_pid);
	}
	for (f = 0; f < PF_N; f++) {
		family(o, fams[f].name, fams[f].type, fams[f].help);
		for (i = 0; i < n; i++)
			process_sample(o, d, v[i], f, fams[f].name);
	}
	free(v);
}

static void
render_self(struct out *o, const struct self_metrics *m)
{
	family(o, "process_cpu_seconds_total", "counter",
	    "Total user and system CPU time spent in seconds.");
	sample_r(o, "process_cpu_seconds_total", NULL, NULL, m->cpu_seconds);
	gauge_r(o, "process_resident_memory_bytes",
	    "Resident memory size in bytes.", m->resident_bytes);
	gauge_r(o, "process_virtual_memory_bytes",
	    "Virtual memory size in bytes.", m->virtual_bytes);
	if (m->open_fds >= 0)
		gauge_r(o, "process_open_fds",
		    "Number of open file descriptors.", m->open_fds);
	gauge_r(o, "process_max_fds",
	    "Maximum number of open file descriptors.", m->max_fds);
	gauge_r(o, "process_start_time_seconds",
	    "Start time of the process since unix epoch in seconds.",
	    m->start_time);
}

void
prom_render(const struct daemon *d, const struct self_metrics *self,
    enum prom_format fmt, struct buf *b)
{
	struct out	o = { b, fmt == PROM_OPENMETRICS, 0 };

	render_info(&o, d);
	render_table(&o, d);
	render_counters(&o, d);
	render_groups(&o, d);
	render_main(&o, d);
	render_processes(&o, d);
	if (self != NULL)
		render_self(&o, self);
	if (o.om)
		buf_puts(b, "# EOF\n");
}
