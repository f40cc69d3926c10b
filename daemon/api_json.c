/*
 * The JSON API bodies: process lists streamed into one buffer, the small
 * status and error objects built with jansson.  Bytes from /proc may be any
 * bytes: every such string is made valid UTF-8 here.  Longer than most
 * modules because every body shares the streaming writers (put_str and its
 * kin, which must match json_dumps byte for byte): processes, tree, events.
 */
#include <sys/capability.h>
#include <sys/wait.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "daemon.h"
#include "events.h"
#include "groups.h"
#include "log.h"
#include "ptable.h"
#include "redact.h"
#include "render.h"
#include "users.h"
#include "xmalloc.h"

#ifndef PIDCAR_VERSION
#define PIDCAR_VERSION	"0.0.0"
#endif

/* 15 significant digits (DBL_DIG) print 1.23 as 1.23, not 1.2299999999999999. */
#define DUMP_FLAGS	(JSON_COMPACT | JSON_REAL_PRECISION(15))


/* A JSON string of n raw bytes, each invalid byte replaced by U+FFFD. */
static json_t *
jstrn(const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	json_t			*j;
	char			*fixed;
	size_t			 i, k, len = 0;

	if ((j = json_stringn(s, n)) != NULL)
		return j;
	fixed = xreallocarray(NULL, n + 1, 3);
	for (i = 0; i < n; i += k) {
		if ((k = utf8_len(u + i, n - i, NULL)) == 0) {
			memcpy(fixed + len, "\xef\xbf\xbd", 3);
			len += 3;
			k = 1;
		} else {
			memcpy(fixed + len, s + i, k);
			len += k;
		}
	}
	if ((j = json_stringn(fixed, len)) == NULL)
		fatalx("%s: repaired string still rejected", __func__);
	free(fixed);
	return j;
}

/* A JSON string of a C string, or null for NULL. */
static json_t *
jstr(const char *s)
{
	return s == NULL ? json_null() : jstrn(s, strlen(s));
}

static json_t *
juint(unsigned long long v)
{
	if (v > INT64_MAX)
		return json_real((double)v);
	return json_integer((json_int_t)v);
}

/* A real; jansson refuses NaN and infinities, which become null. */
static json_t *
jreal(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static void
jset(json_t *o, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(o, key, v) == -1)
		fatalx("%s: %s: out of memory", __func__, key);
}

static void
jpush(json_t *a, json_t *v)
{
	if (v == NULL || json_array_append_new(a, v) == -1)
		fatalx("%s: out of memory", __func__);
}

static json_t *
jnew(json_t *v)
{
	if (v == NULL)
		fatalx("json: out of memory");
	return v;
}

/* RFC 3339 UTC with milliseconds, or null when gmtime cannot represent it. */
static json_t *
jtime_ms(long long sec, int ms)
{
	struct tm	tm;
	time_t		t = (time_t)sec;
	char		s[64];

	if (gmtime_r(&t, &tm) == NULL)
		return json_null();
	snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ms);
	return json_string(s);
}

/* An epoch in seconds as RFC 3339, or null for 0 ("never"). */
static json_t *
jtime(double epoch)
{
	double	sec;
	long	ms;

	if (!(epoch > 0) || !isfinite(epoch))
		return json_null();
	sec = floor(epoch);
	ms = lround((epoch - sec) * 1000);
	if (ms >= 1000) {
		sec += 1;
		ms -= 1000;
	}
	return jtime_ms((long long)sec, (int)ms);
}

/*
 * Process objects are streamed into one buffer, not built as jansson trees: at
 * 10 000 processes the trees cost more than reading /proc (issue 4, "cost").
 * The escaping matches json_dumps: \" \\ \b \f \n \r \t, \u00XX for other
 * controls, UTF-8 kept, each invalid byte replaced by U+FFFD.
 */
static void
put_str(struct buf *b, const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, k, run;

	buf_reserve(b, n + 2);
	buf_putc(b, '"');
	while (i < n) {
		for (run = i; run < n && u[run] >= 0x20 && u[run] < 0x80 &&
		    u[run] != '"' && u[run] != '\\'; run++)
			;
		if (run > i) {
			buf_add(b, s + i, run - i);
			i = run;
			continue;
		}
		if (u[i] >= 0x80) {
			if ((k = utf8_len(u + i, n - i, NULL)) == 0) {
				buf_add(b, "\xef\xbf\xbd", 3);
				k = 1;
			} else
				buf_add(b, s + i, k);
			i += k;
			continue;
		}
		switch (u[i]) {
		case '"':	buf_add(b, "\\\"", 2); break;
		case '\\':	buf_add(b, "\\\\", 2); break;
		case '\b':	buf_add(b, "\\b", 2); break;
		case '\f':	buf_add(b, "\\f", 2); break;
		case '\n':	buf_add(b, "\\n", 2); break;
		case '\r':	buf_add(b, "\\r", 2); break;
		case '\t':	buf_add(b, "\\t", 2); break;
		default:	buf_printf(b, "\\u%04x", u[i]); break;
		}
		i++;
	}
	buf_putc(b, '"');
}

static void
put_cstr(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_puts(b, "null");
	else
		put_str(b, s, strlen(s));
}

static void
put_key(struct buf *b, const char *key)
{
	if (b->len > 0 && b->data[b->len - 1] != '{')
		buf_putc(b, ',');
	buf_putc(b, '"');
	buf_puts(b, key);
	buf_add(b, "\":", 2);
}

static void
put_int(struct buf *b, long long v, int null_if_negative)
{
	if (v < 0 && null_if_negative)
		buf_puts(b, "null");
	else
		buf_printf(b, "%lld", v);
}

/* A real as json_dumps writes it with JSON_REAL_PRECISION(15); null if not finite. */
static void
put_real(struct buf *b, double v)
{
	char	num[64];

	if (!isfinite(v)) {
		buf_puts(b, "null");
		return;
	}
	snprintf(num, sizeof(num), "%.15g", v);
	buf_puts(b, num);
	if (strpbrk(num, ".eE") == NULL)
		buf_add(b, ".0", 2);
}

/* RFC 3339 UTC with milliseconds, or null when gmtime cannot represent it. */
static void
put_time_ms(struct buf *b, long long sec, int ms)
{
	struct tm	tm;
	time_t		t = (time_t)sec;

	if (gmtime_r(&t, &tm) == NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ms);
}

/* An epoch in seconds as RFC 3339, or null for 0 ("never"). */
static void
put_time(struct buf *b, double epoch)
{
	double	sec;
	long	ms;

	if (!(epoch > 0) || !isfinite(epoch)) {
		buf_puts(b, "null");
		return;
	}
	sec = floor(epoch);
	ms = lround((epoch - sec) * 1000);
	if (ms >= 1000) {
		sec += 1;
		ms -= 1000;
	}
	put_time_ms(b, (long long)sec, (int)ms);
}

/* The arguments of a NUL-separated command line; a missing final NUL ends one too. */
static void
put_cmdline(struct buf *b, const char *s, size_t len)
{
	size_t	i = 0;

	buf_putc(b, '[');
	while (i < len) {
		const char	*nul = memchr(s + i, '\0', len - i);
		size_t		 n = nul != NULL ? (size_t)(nul - (s + i)) : len - i;

		if (i > 0)
			buf_putc(b, ',');
		put_str(b, s + i, n);
		i += n + 1;
	}
	buf_putc(b, ']');
}

static void
put_user(struct buf *b, const struct daemon *d, long long uid)
{
	const char	*name = NULL;

	if (uid < 0) {
		buf_puts(b, "null");
		return;
	}
	if (d->users != NULL)
		name = users_name(d->users, uid);
	if (name != NULL)
		put_cstr(b, name);
	else
		buf_printf(b, "\"%lld\"", uid);
}

/* Writes the members of one process object, without the closing brace. */
static void
put_process_open(struct buf *b, const struct daemon *d, const struct proc *p)
{
	long long	hz = d->clk_tck > 0 ? d->clk_tck : 100;
	int		agent = d->mode != NULL && strcmp(d->mode, "agent") == 0;
	int		show_cmdline = d->conf != NULL && d->conf->cmdline;

	buf_putc(b, '{');
	put_key(b, "pid");
	put_int(b, p->pid, 0);
	put_key(b, "ppid");
	put_int(b, p->ppid, 0);
	put_key(b, "host_pid");
	put_int(b, agent && p->host_pid > 0 ? p->host_pid : -1, 1);
	put_key(b, "id");
	put_cstr(b, p->id);
	put_key(b, "comm");
	put_str(b, p->comm, strnlen(p->comm, sizeof(p->comm)));
	put_key(b, "exe");
	put_cstr(b, p->exe);
	put_key(b, "cmdline");
	if (p->cmdline != NULL && show_cmdline)
		put_cmdline(b, p->cmdline, p->cmdline_len);
	else
		buf_puts(b, "null");
	put_key(b, "state");
	if (p->state != '\0')
		put_str(b, &p->state, 1);
	else
		buf_puts(b, "null");
	put_key(b, "uid");
	put_int(b, p->uid, 1);
	put_key(b, "gid");
	put_int(b, p->gid, 1);
	put_key(b, "user");
	put_user(b, d, p->uid);
	put_key(b, "threads");
	put_int(b, p->threads, 1);
	/* Integer arithmetic keeps the milliseconds exact. */
	put_key(b, "start_time");
	put_time_ms(b, (long long)(d->btime + p->start_ticks / hz),
	    (int)(p->start_ticks % hz * 1000 / hz));
	put_key(b, "start_time_seconds");
	put_real(b, (double)d->btime + (double)p->start_ticks / (double)hz);
	put_key(b, "cpu_user_seconds");
	put_real(b, (double)p->utime / (double)hz);
	put_key(b, "cpu_system_seconds");
	put_real(b, (double)p->stime / (double)hz);
	put_key(b, "cpu_percent");
	if (p->cpu_percent < 0)
		buf_puts(b, "null");
	else
		put_real(b, p->cpu_percent);
	put_key(b, "rss_bytes");
	buf_printf(b, "%llu", p->rss_bytes);
	put_key(b, "vsize_bytes");
	buf_printf(b, "%llu", p->vsize_bytes);
	put_key(b, "fds");
	put_int(b, p->fds, 1);
	put_key(b, "read_bytes");
	put_int(b, p->read_bytes, 1);
	put_key(b, "write_bytes");
	put_int(b, p->write_bytes, 1);
	put_key(b, "group");
	put_cstr(b, p->group);
}

void
api_process(struct buf *b, const struct daemon *d, const struct proc *p)
{
	put_process_open(b, d, p);
	buf_putc(b, '}');
}

char *
api_processes(const struct daemon *d, struct proc **v, size_t n, size_t total,
    size_t *len)
{
	struct buf	b;
	size_t		i;

	buf_init(&b, 256 + n * 400);
	buf_puts(&b, "{\"processes\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		api_process(&b, d, v[i]);
	}
	buf_printf(&b, "],\"count\":%zu,\"total\":%zu,\"refreshed_at\":", n,
	    total);
	put_time(&b, d->refreshed_at);
	buf_putc(&b, '}');
	return buf_release(&b, len);
}

/* The decoded wait status: outcome, exit_code or signal (+ core_dumped). */
static void
put_exit(struct buf *b, int st)
{
	const char	*abbrev;

	put_key(b, "outcome");
	put_cstr(b, exit_outcome_name(exit_outcome_of(st)));
	put_key(b, "exit_code");
	put_int(b, st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, 1);
	put_key(b, "signal");
	if (st >= 0 && WIFSIGNALED(st)) {
		if ((abbrev = sigabbrev_np(WTERMSIG(st))) != NULL)
			buf_printf(b, "\"SIG%s\"", abbrev);
		else
			buf_printf(b, "\"SIG%d\"", WTERMSIG(st));
		put_key(b, "signal_number");
		buf_printf(b, "%d", WTERMSIG(st));
		put_key(b, "core_dumped");
		buf_puts(b, WCOREDUMP(st) ? "true" : "false");
	} else {
		buf_puts(b, "null");
		put_key(b, "signal_number");
		buf_puts(b, "null");
		put_key(b, "core_dumped");
		buf_puts(b, "null");
	}
}

static const char *const cpu_sources[] = {
	[EV_CPU_NONE] = NULL,
	[EV_CPU_TASKSTATS] = "taskstats",
	[EV_CPU_FINAL] = "final_stat",
	[EV_CPU_SAMPLED] = "last_sample",
};

void
api_event(struct buf *b, const struct pevent *ev)
{
	buf_putc(b, '{');
	put_key(b, "seq");
	buf_printf(b, "%llu", (unsigned long long)ev->seq);
	put_key(b, "type");
	put_cstr(b, events_type_name(ev->type));
	put_key(b, "time");
	put_time(b, ev->time);
	if (ev->type == EV_TARGET) {
		put_key(b, "what");
		put_cstr(b, ev->what);
		put_key(b, "reason");
		put_cstr(b, ev->reason);
		buf_putc(b, '}');
		return;
	}
	put_key(b, "pid");
	put_int(b, ev->pid > 0 ? ev->pid : -1, 1);
	put_key(b, "ppid");
	put_int(b, ev->ppid > 0 ? ev->ppid : -1, 1);
	put_key(b, "host_pid");
	put_int(b, ev->host_pid > 0 ? ev->host_pid : -1, 1);
	put_key(b, "comm");
	if (ev->comm[0] != '\0')
		put_str(b, ev->comm, strnlen(ev->comm, sizeof(ev->comm)));
	else
		buf_puts(b, "null");
	put_key(b, "exe");
	put_cstr(b, ev->exe);
	if (ev->type == EV_EXIT) {
		put_exit(b, ev->status);
		put_key(b, "lifetime_seconds");
		if (ev->lifetime >= 0)
			put_real(b, ev->lifetime);
		else
			buf_puts(b, "null");
		put_key(b, "cpu_user_seconds");
		if (ev->cpu != EV_CPU_NONE)
			put_real(b, ev->cpu_user);
		else
			buf_puts(b, "null");
		put_key(b, "cpu_system_seconds");
		if (ev->cpu != EV_CPU_NONE)
			put_real(b, ev->cpu_system);
		else
			buf_puts(b, "null");
		put_key(b, "cpu_source");
		put_cstr(b, (unsigned)ev->cpu < 4 ? cpu_sources[ev->cpu] : NULL);
		put_key(b, "max_rss_bytes");
		put_int(b, ev->max_rss_bytes, 1);
	}
	buf_putc(b, '}');
}

char *
api_events(const struct events *e, uint64_t since, long limit, unsigned types,
    size_t *len)
{
	const struct pevent	*ev;
	struct buf		 b;
	uint64_t		 s, oldest = events_oldest(e), next = events_next(e);
	uint64_t		 missed = 0;
	long			 n = 0;

	if (since == 0)
		since = oldest;
	if (since < oldest) {
		missed = oldest - since;
		since = oldest;
	}
	buf_init(&b, 4096);
	buf_puts(&b, "{\"events\":[");
	for (s = since; s < next && (limit < 0 || n < limit); s++) {
		if ((ev = events_get(e, s)) == NULL)
			continue;
		if (types != 0 && (types & (1u << ev->type)) == 0)
			continue;
		if (n++ > 0)
			buf_putc(&b, ',');
		api_event(&b, ev);
	}
	/* next: where to go on from, past the filtered-out ones too. */
	buf_printf(&b, "],\"count\":%ld,\"next\":%llu,\"missed\":%llu,"
	    "\"oldest\":%llu}", n, (unsigned long long)(s > next ? next : s),
	    (unsigned long long)missed, (unsigned long long)oldest);
	return buf_release(&b, len);
}

char *
api_process_detail(const struct daemon *d, const struct proc *p,
    struct proc **children, size_t nchildren, size_t *len)
{
	struct buf	b;
	size_t		i;

	buf_init(&b, 512 + nchildren * 12);
	put_process_open(&b, d, p);
	buf_puts(&b, ",\"children\":[");
	for (i = 0; i < nchildren; i++)
		buf_printf(&b, "%s%d", i > 0 ? "," : "", (int)children[i]->pid);
	buf_puts(&b, "]}");
	return buf_release(&b, len);
}

/* Appends one process object, left open for its "children" array. */
static void
tree_open(struct buf *b, const struct daemon *d, const struct proc *p)
{
	put_process_open(b, d, p);
	buf_puts(b, ",\"children\":[");
}

/*
 * Writes the subtree of t->v[top] depth first with an explicit stack, marking
 * what it visits.  Children already visited (only possible in a PID-reuse cycle)
 * are skipped, so every process appears exactly once.
 */
static void
tree_walk(struct buf *b, const struct daemon *d, const struct ptree *t,
    long top, char *seen, long *stack)
{
	size_t	depth = 0;
	long	next;

	seen[top] = 1;
	tree_open(b, d, t->v[top]);
	stack[depth++] = t->first_child[top];
	while (depth > 0) {
		while ((next = stack[depth - 1]) >= 0 && seen[next])
			stack[depth - 1] = t->next_sibling[next];
		if (next < 0) {
			buf_puts(b, "]}");
			depth--;
			continue;
		}
		stack[depth - 1] = t->next_sibling[next];
		if (b->data[b->len - 1] == '}')
			buf_putc(b, ',');
		seen[next] = 1;
		tree_open(b, d, t->v[next]);
		stack[depth++] = t->first_child[next];
	}
}

/* Nesting is written with an explicit stack: fork chains can be 100 000 deep. */
char *
api_tree(const struct daemon *d, size_t *len)
{
	struct ptree	 t;
	struct buf	 b;
	char		*seen;
	long		*stack;
	size_t		 i, nout = 0;

	ptree_build(d->pt, &t);
	seen = xcalloc(t.n + 1, 1);
	stack = xreallocarray(NULL, t.n + 1, sizeof(*stack));
	buf_init(&b, 256 + t.n * 420);
	buf_puts(&b, "{\"roots\":[");
	for (i = 0; i < t.nroots; i++) {
		if (nout++ > 0)
			buf_putc(&b, ',');
		tree_walk(&b, d, &t, t.roots[i], seen, stack);
	}
	/* Stale parents after PID reuse can loop and reach no root: start a tree there. */
	for (i = 0; i < t.n; i++) {
		if (seen[i])
			continue;
		if (nout++ > 0)
			buf_putc(&b, ',');
		tree_walk(&b, d, &t, (long)i, seen, stack);
	}
	buf_puts(&b, "]}");
	free(stack);
	free(seen);
	ptree_free(&t);
	return buf_release(&b, len);
}

/* Serialises and releases root; returns the malloc'd text. */
static char *
dump(json_t *root, size_t *len)
{
	char	*s;

	if ((s = json_dumps(root, DUMP_FLAGS)) == NULL)
		fatalx("json_dumps: out of memory");
	json_decref(root);
	if (len != NULL)
		*len = strlen(s);
	return s;
}

/* Names of the capabilities in our effective set, or null when unreadable. */
static json_t *
caps_effective(void)
{
	json_t			*a;
	cap_t			 caps;
	cap_value_t		 c, max = (cap_value_t)cap_max_bits();
	cap_flag_value_t	 v;
	char			*name;

	if ((caps = cap_get_proc()) == NULL)
		return json_null();
	a = jnew(json_array());
	for (c = 0; c < max; c++) {
		if (cap_get_flag(caps, c, CAP_EFFECTIVE, &v) == -1 || v != CAP_SET)
			continue;
		if ((name = cap_to_name(c)) == NULL)
			continue;
		jpush(a, jstr(name));
		cap_free(name);
	}
	cap_free(caps);
	return a;
}

static json_t *
status_counters(const struct daemon *d)
{
	json_t	*o = jnew(json_object());
	json_t	*ex = jnew(json_object());
	int	 i;

	for (i = 0; i < EXIT_NOUTCOMES; i++)
		jset(ex, exit_outcome_name(i), juint(d->c.exits[i]));
	jset(o, "forks", juint(d->c.forks));
	jset(o, "execs", juint(d->c.execs));
	jset(o, "exits", ex);
	jset(o, "read_errors", juint(d->c.read_errors));
	jset(o, "scans", juint(d->c.scans));
	jset(o, "probes", juint(d->c.probes));
	jset(o, "refreshes", juint(d->c.refreshes));
	jset(o, "resyncs", juint(d->c.resyncs));
	jset(o, "events_lost", juint(d->c.events_lost));
	jset(o, "pidfd_short", juint(d->c.pidfd_short));
	jset(o, "perf_records", juint(d->c.perf_records));
	jset(o, "taskstats_joined", juint(d->c.ts_joined));
	jset(o, "taskstats_missing", juint(d->c.ts_missing));
	jset(o, "taskstats_overruns", juint(d->c.ts_lost));
	if (d->events != NULL) {
		json_t	*ev = jnew(json_object());
		int	 t;

		for (t = 0; t < EV_NTYPES; t++)
			jset(ev, events_type_name(t),
			    juint(events_count(d->events, t)));
		jset(o, "events", ev);
		jset(o, "event_seq", juint(events_next(d->events) - 1));
	}
	jset(o, "requests", juint(d->c.requests));
	return o;
}

static json_t *
status_kernel(const struct daemon *d)
{
	json_t	*o = jnew(json_object());

	jset(o, "release", jstrn(d->feat.release,
	    strnlen(d->feat.release, sizeof(d->feat.release))));
	jset(o, "pidfd", json_boolean(d->feat.pidfd));
	jset(o, "pidfd_info_exit", json_boolean(d->feat.pidfd_info_exit));
	jset(o, "ns_last_pid", json_boolean(d->feat.ns_last_pid));
	jset(o, "fd_count_stat", json_boolean(d->feat.fd_count_stat));
	/* Sidecar sources, tried at start: the errno name says why one is off. */
	jset(o, "perf_task_events", json_boolean(d->feat.perf));
	jset(o, "perf_error", d->feat.perf_errno != 0 ?
	    jstr(strerrorname_np(d->feat.perf_errno)) : json_null());
	jset(o, "fanotify_exec", json_boolean(d->feat.fanotify));
	jset(o, "fanotify_error", d->feat.fanotify_errno != 0 ?
	    jstr(strerrorname_np(d->feat.fanotify_errno)) : json_null());
	return o;
}

static json_t *
status_target(const struct daemon *d)
{
	json_t	*o = jnew(json_object());

	jset(o, "spec", jstr(d->conf != NULL ? d->conf->target : NULL));
	jset(o, "pid_namespace", d->pidns_ino != 0 ?
	    juint(d->pidns_ino) : json_null());
	/* Only meaningful when pidcar does not live in the target itself. */
	jset(o, "host_pid_of_init", d->init_host_pid > 0 && d->self_pid == 0 ?
	    json_integer(d->init_host_pid) : json_null());
	return o;
}

static json_t *
status_refresh(const struct daemon *d)
{
	json_t	*o = jnew(json_object());

	jset(o, "refreshed_at", jtime(d->refreshed_at));
	jset(o, "took_seconds", jreal(d->refresh_took));
	jset(o, "max_age_seconds", d->conf != NULL ?
	    jreal(d->conf->refresh_age) : json_null());
	return o;
}

static json_t *
status_config(const struct config *conf)
{
	json_t	*o = jnew(json_object());

	if (conf == NULL)
		return o;
	jset(o, "listen", jstr(conf->listen));
	jset(o, "poll_interval_seconds", jreal(conf->poll_interval));
	jset(o, "scan_interval_seconds", jreal(conf->scan_interval));
	jset(o, "cmdline", json_boolean(conf->cmdline));
	/* How many rules, never the rules: they may say what they hide. */
	jset(o, "redact_defaults", json_boolean(conf->redact_defaults));
	jset(o, "redact_rules", juint(conf->redact != NULL ?
	    redact_count(conf->redact) : 0));
	return o;
}

/* The last exit as an object: outcome, exit_code or signal, when. */
static json_t *
status_exit(int st, double at)
{
	json_t		*o = jnew(json_object());
	const char	*abbrev;
	char		 sig[32];

	jset(o, "at", jtime(at));
	jset(o, "outcome", json_string(exit_outcome_name(exit_outcome_of(st))));
	jset(o, "exit_code", st >= 0 && WIFEXITED(st) ?
	    json_integer(WEXITSTATUS(st)) : json_null());
	if (st >= 0 && WIFSIGNALED(st)) {
		if ((abbrev = sigabbrev_np(WTERMSIG(st))) != NULL)
			snprintf(sig, sizeof(sig), "SIG%s", abbrev);
		else
			snprintf(sig, sizeof(sig), "SIG%d", WTERMSIG(st));
		jset(o, "signal", json_string(sig));
		jset(o, "core_dumped", json_boolean(WCOREDUMP(st)));
	} else {
		jset(o, "signal", json_null());
		jset(o, "core_dumped", json_null());
	}
	return o;
}

/* The main process as s6-svstat shows a service: up or down, pid, since, last exit. */
static json_t *
status_main(const struct daemon *d)
{
	json_t				*o;
	const struct main_status	*m;
	const struct proc		*p;
	double				 since;

	if (d->groups == NULL)
		return json_null();
	o = jnew(json_object());
	m = groups_main(d->groups);
	p = m->group == NULL ? ptable_find(d->pt, 1) : NULL;
	jset(o, "group", jstr(m->group != NULL ? m->group :
	    p != NULL ? p->group : NULL));
	jset(o, "selected_by", json_string(m->group != NULL ? "group" : "pid1"));
	jset(o, "up", json_boolean(m->up));
	jset(o, "pid", m->up ? json_integer(m->pid) : json_null());
	since = m->up ? (double)d->btime + (double)m->start_ticks /
	    (double)(d->clk_tck > 0 ? d->clk_tck : 100) : m->last_exit_at;
	jset(o, "since", jtime(since));
	jset(o, "restarts", juint(m->restarts));
	jset(o, "exits", juint(m->exits));
	jset(o, "last_exit", m->exited ?
	    status_exit(m->last_status, m->last_exit_at) : json_null());
	return o;
}

static json_t *
status_groups(const struct daemon *d)
{
	json_t				*o;
	const struct groups_stats	*st;

	if (d->groups == NULL || d->conf == NULL)
		return json_null();
	o = jnew(json_object());
	st = groups_stats(d->groups);
	jset(o, "count", juint(groups_count(d->groups)));
	jset(o, "configured", juint(d->conf->ngroups));
	jset(o, "max_groups", json_integer(d->conf->max_groups));
	jset(o, "by_comm", json_boolean(d->conf->group_by_comm));
	jset(o, "overflowed", juint(st->overflowed));
	jset(o, "rematches", juint(st->rematches));
	return o;
}

/* Sidecar mode: which processes are counted at all, by source. */
static void
status_sidecar_counting(const struct daemon *d, json_t *o)
{
	jset(o, "forks", json_string(d->feat.perf ?
	    "exact: perf FORK records of the namespace (a lost record is "
	    "counted in events_lost and repaired by a scan)" :
	    "processes alive at an ns_last_pid probe (poll_interval) or a scan; "
	    "shorter lives are missed"));
	jset(o, "exits_counted", json_string(d->feat.perf ?
	    "exact: every process counted at its fork is counted at its exit; "
	    "outcome unknown when it was reaped before pidcar held its pidfd "
	    "(within a few ms of the fork)" :
	    "every process pidcar discovered"));
}

/*
 * What pidcar can know in this mode, and how exactly (README "Accounting"):
 * sidecar mode has no taskstats, so an exited process's CPU is the zombie's
 * last stat when pidcar reads it before the reap, else the last refresh's.
 */
static json_t *
status_accounting(const struct daemon *d)
{
	json_t				*o = jnew(json_object());
	const struct groups_stats	*st;
	double				 hz = d->clk_tck > 0 ? (double)d->clk_tck : 100;

	if (d->nsfd != -1 && d->mode != NULL && strcmp(d->mode, "agent") == 0) {
		jset(o, "exit_time", json_string("exact: the connector's EXIT"));
		jset(o, "exit_status", json_string("exact: the connector's EXIT "
		    "carries the wait status of every process"));
	} else {
		jset(o, "exit_time", json_string("exact: pidfd readable at the exit"));
		jset(o, "exit_status", json_string(d->feat.pidfd_info_exit ?
		    "exact: PIDFD_GET_INFO after the reap" :
		    "zombie stat field 52 if read before the reap, else unknown"));
	}
	if (d->taskstats) {
		jset(o, "cpu_of_exited", json_string("exact: the taskstats exit "
		    "record (microseconds, never below the last sample)"));
		jset(o, "cpu_of_unseen", json_string("exact: the taskstats exit "
		    "record, credited to the process's own group"));
	} else {
		jset(o, "cpu_of_exited", json_string("zombie stat if read before "
		    "the reap (exact to the tick), else the last refresh's sample"));
		jset(o, "cpu_of_unseen", json_string("growth of the parent's "
		    "cutime and cstime, credited to the parent's group"));
	}
	if (d->mode != NULL && strcmp(d->mode, "sidecar") == 0)
		status_sidecar_counting(d, o);
	jset(o, "io_of_exited", json_string("the last refresh's sample"));
	jset(o, "lifetime_resolution_seconds", jreal(1 / hz));
	if (d->groups != NULL) {
		st = groups_stats(d->groups);
		jset(o, "exits_with_final_cpu", juint(st->final_cpu));
		jset(o, "exits_with_sampled_cpu", juint(st->sampled_cpu));
		jset(o, "unseen_cpu_seconds", jreal((double)st->unseen_ticks / hz));
		jset(o, "exits_with_taskstats_cpu", juint(st->taskstats_cpu));
		jset(o, "exits_unread_without_record", juint(st->unread_exits));
	}
	return o;
}

char *
api_status(const struct daemon *d, size_t *len)
{
	json_t	*o = jnew(json_object());
	double	 uptime = now_real() - d->started;

	jset(o, "version", json_string(PIDCAR_VERSION));
	jset(o, "mode", jstr(d->mode));
	jset(o, "source", jstr(d->source));
	jset(o, "target", status_target(d));
	jset(o, "ready", json_boolean(d->ready));
	jset(o, "target_up", json_boolean(d->target_up));
	jset(o, "started_at", jtime(d->started));
	jset(o, "uptime_seconds", jreal(uptime > 0 ? uptime : 0));
	jset(o, "pid", d->self_pid > 0 ? json_integer(d->self_pid) : json_null());
	jset(o, "processes", juint(d->pt != NULL ? ptable_count(d->pt) : 0));
	jset(o, "capabilities", caps_effective());
	jset(o, "kernel", status_kernel(d));
	jset(o, "counters", status_counters(d));
	jset(o, "refresh", status_refresh(d));
	jset(o, "config", status_config(d->conf));
	jset(o, "main", status_main(d));
	jset(o, "groups", status_groups(d));
	jset(o, "accounting", status_accounting(d));
	return dump(o, len);
}

char *
api_error(int status, const char *message, size_t *len)
{
	json_t	*root = jnew(json_object());
	json_t	*e = jnew(json_object());

	jset(e, "status", json_integer(status));
	jset(e, "message", jstr(message != NULL ? message : ""));
	jset(root, "error", e);
	return dump(root, len);
}
