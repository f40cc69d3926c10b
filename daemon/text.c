/*
 * Plain-text renderers for humans with curl: /ps (aligned columns) and /tree.
 * Names and command lines come from the target and are not trusted: control
 * characters and invalid UTF-8 become '?', so no process can forge a line.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "ptable.h"
#include "render.h"
#include "users.h"
#include "xmalloc.h"

#define CMD_MAX		4096	/* bytes of one COMMAND before "..." */
#define USER_MAX	32	/* bytes of one USER before "+", as ps does */
#define TREE_INDENT_MAX	100	/* levels drawn; a fork chain must not grow output as depth^2 */
#define UNKNOWN_U	ULLONG_MAX

/*
 * Length of the valid UTF-8 sequence at s that is safe to show, or 0.
 * C1 controls (U+0080..U+009F: 0x9b is CSI to some terminals), line and
 * paragraph separators and bidi overrides are not safe.
 */
static size_t
utf8_ok(const unsigned char *s, size_t n)
{
	unsigned long	cp;
	size_t		len;

	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] != 0x7f;
	if ((len = utf8_len(s, n, &cp)) == 0)
		return 0;
	if (cp <= 0x9f || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return len;
}

/*
 * Appends len bytes of s, NULs as spaces, anything unsafe as '?', stopping
 * before cap bytes with more appended.  Returns the characters written.
 */
static size_t
put_clean(struct buf *b, const char *s, size_t len, size_t cap, const char *more)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, k, start = b->len, chars = 0;

	while (i < len) {
		k = u[i] == '\0' ? 1 : utf8_ok(u + i, len - i);
		if (b->len - start + (k == 0 ? 1 : k) > cap) {
			buf_puts(b, more);
			return chars + strlen(more);
		}
		if (u[i] == '\0')
			buf_putc(b, ' ');
		else if (k == 0)
			buf_putc(b, '?');
		else
			buf_add(b, s + i, k);
		i += k == 0 ? 1 : k;
		chars++;
	}
	return chars;
}

static int
show_cmdline(const struct daemon *d)
{
	/* Without a config, err on the side of hiding arguments (they hold secrets). */
	return d->conf != NULL && d->conf->cmdline;
}

/* Bytes of p's command line without the trailing NULs; 0 when there is none. */
static size_t
cmdline_len(const struct proc *p)
{
	size_t	n = p->cmdline_len;

	if (p->cmdline == NULL)
		return 0;
	while (n > 0 && p->cmdline[n - 1] == '\0')
		n--;
	return n;
}

static void
put_comm(struct buf *b, const struct proc *p)
{
	put_clean(b, p->comm, strnlen(p->comm, sizeof(p->comm)), CMD_MAX, "...");
}

/* COMMAND: the arguments, or [comm] like ps when there are none, or comm when hidden. */
static void
put_command(struct buf *b, const struct daemon *d, const struct proc *p)
{
	size_t	n = cmdline_len(p);

	if (!show_cmdline(d)) {
		put_comm(b, p);
	} else if (n == 0) {
		buf_putc(b, '[');
		put_comm(b, p);
		buf_putc(b, ']');
	} else
		put_clean(b, p->cmdline, n, CMD_MAX, "...");
}

struct row {
	char	 pid[16], ppid[16], state[2], thr[24], cpu[24], rss[16];
	char	 time[32], start[16];
	char	*user;		/* owned */
	size_t	 userw;		/* characters in user */
};

static void
fmt_rss(char *out, size_t outlen, unsigned long long bytes)
{
	static const char	 units[] = "KMGTPE";
	double			 v;
	size_t			 u = 0;

	if (bytes == UNKNOWN_U) {
		snprintf(out, outlen, "-");
		return;
	}
	if (bytes == 0) {
		snprintf(out, outlen, "0");
		return;
	}
	if (bytes < 1024) {
		snprintf(out, outlen, "%lluB", bytes);
		return;
	}
	v = (double)bytes / 1024;
	/* Step up before rounding would print "1024K". */
	while (v >= 1023.5 && u + 1 < sizeof(units) - 1) {
		v /= 1024;
		u++;
	}
	if (v < 99.95)
		snprintf(out, outlen, "%.1f%c", v, units[u]);
	else
		snprintf(out, outlen, "%.0f%c", v, units[u]);
}

static void
fmt_time(char *out, size_t outlen, const struct proc *p, long tck)
{
	unsigned long long	s;

	if (p->utime == UNKNOWN_U || p->stime == UNKNOWN_U) {
		snprintf(out, outlen, "-");
		return;
	}
	s = (p->utime + p->stime) / (unsigned long long)tck;
	if (s >= 86400)
		snprintf(out, outlen, "%llu-%02llu:%02llu:%02llu", s / 86400,
		    s / 3600 % 24, s / 60 % 60, s % 60);
	else
		snprintf(out, outlen, "%02llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
}

/* UTC "HH:MM" today, "Mon DD" this year, else the year, like ps's STIME. */
static void
fmt_start(char *out, size_t outlen, const struct daemon *d, const struct proc *p,
    long tck, time_t now)
{
	static const char	*mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm		 st, nt;
	time_t			 t;

	if (d->btime == 0) {
		snprintf(out, outlen, "-");
		return;
	}
	t = (time_t)(d->btime + p->start_ticks / (unsigned long long)tck);
	if (gmtime_r(&t, &st) == NULL || gmtime_r(&now, &nt) == NULL)
		snprintf(out, outlen, "-");
	else if (st.tm_year == nt.tm_year && st.tm_yday == nt.tm_yday)
		snprintf(out, outlen, "%02d:%02d", st.tm_hour, st.tm_min);
	else if (st.tm_year == nt.tm_year)
		snprintf(out, outlen, "%s %02d", mon[st.tm_mon], st.tm_mday);
	else
		snprintf(out, outlen, "%d", st.tm_year + 1900);
}

static void
fill_row(struct row *r, const struct daemon *d, const struct proc *p, long tck, time_t now)
{
	struct buf	 ub;
	const char	*name = NULL;
	unsigned char	 s = (unsigned char)p->state;

	snprintf(r->pid, sizeof(r->pid), "%d", (int)p->pid);
	snprintf(r->ppid, sizeof(r->ppid), "%d", (int)p->ppid);
	r->state[0] = s == 0 ? '-' : (s > 0x20 && s < 0x7f) ? (char)s : '?';
	r->state[1] = '\0';
	if (p->threads < 0)
		snprintf(r->thr, sizeof(r->thr), "-");
	else
		snprintf(r->thr, sizeof(r->thr), "%ld", p->threads);
	if (p->cpu_percent < 0)
		snprintf(r->cpu, sizeof(r->cpu), "-");
	else
		snprintf(r->cpu, sizeof(r->cpu), "%.1f", p->cpu_percent);
	fmt_rss(r->rss, sizeof(r->rss), p->rss_bytes);
	fmt_time(r->time, sizeof(r->time), p, tck);
	fmt_start(r->start, sizeof(r->start), d, p, tck, now);

	buf_init(&ub, 32);
	if (p->uid >= 0 && d->users != NULL)
		name = users_name(d->users, p->uid);
	/* The target's /etc/passwd is the target's to write: sanitize it too. */
	if (name != NULL)
		r->userw = put_clean(&ub, name, strlen(name), USER_MAX, "+");
	else if (p->uid >= 0) {
		buf_printf(&ub, "%lld", p->uid);
		r->userw = ub.len;
	} else {
		buf_putc(&ub, '-');
		r->userw = 1;
	}
	r->user = buf_release(&ub, NULL);
}

#define WIDEN(w, s)	do { size_t l_ = strlen(s); if (l_ > (w)) (w) = l_; } while (0)

char *
text_ps(const struct daemon *d, struct proc **v, size_t n, size_t *len)
{
	struct row	*rows;
	struct buf	 b;
	size_t		 i, wpid = 3, wppid = 4, wuser = 4, wthr = 3, wcpu = 4, wrss = 3;
	size_t		 wtime = 4, wstart = 5;
	long		 tck = d->clk_tck > 0 ? d->clk_tck : 100;
	time_t		 now = (time_t)now_real();

	rows = xreallocarray(NULL, n + 1, sizeof(*rows));
	for (i = 0; i < n; i++) {
		fill_row(&rows[i], d, v[i], tck, now);
		WIDEN(wpid, rows[i].pid);
		WIDEN(wppid, rows[i].ppid);
		if (rows[i].userw > wuser)
			wuser = rows[i].userw;
		WIDEN(wthr, rows[i].thr);
		WIDEN(wcpu, rows[i].cpu);
		WIDEN(wrss, rows[i].rss);
		WIDEN(wtime, rows[i].time);
		WIDEN(wstart, rows[i].start);
	}
	buf_init(&b, 128 + n * 96);
	buf_printf(&b, "%*s %*s %-*s S %*s %*s %*s %*s %-*s COMMAND\n",
	    (int)wpid, "PID", (int)wppid, "PPID", (int)wuser, "USER", (int)wthr, "THR",
	    (int)wcpu, "%CPU", (int)wrss, "RSS", (int)wtime, "TIME", (int)wstart, "START");
	for (i = 0; i < n; i++) {
		struct row	*r = &rows[i];

		buf_printf(&b, "%*s %*s %s%*s %s %*s %*s %*s %*s %-*s ",
		    (int)wpid, r->pid, (int)wppid, r->ppid, r->user,
		    (int)(wuser - r->userw), "", r->state, (int)wthr, r->thr,
		    (int)wcpu, r->cpu, (int)wrss, r->rss, (int)wtime, r->time,
		    (int)wstart, r->start);
		put_command(&b, d, v[i]);
		buf_putc(&b, '\n');
		free(r->user);
	}
	free(rows);
	return buf_release(&b, len);
}

struct tree_walk {
	struct buf		*b;
	const struct daemon	*d;
	struct ptree		*t;
	char			*seen;		/* per index of t->v */
	long			*stack;		/* the node at each depth */
	char			*more;		/* 1: the node at that depth has a later sibling */
};

static long
unseen(const struct tree_walk *w, long i)
{
	while (i >= 0 && w->seen[i])
		i = w->t->next_sibling[i];
	return i;
}

static void
tree_line(struct tree_walk *w, size_t depth)
{
	const struct proc	*p = w->t->v[w->stack[depth]];
	size_t			 k, n;

	for (k = 1; k < depth && k <= TREE_INDENT_MAX; k++)
		buf_puts(w->b, w->more[k] ? "│ " : "  ");
	if (depth > TREE_INDENT_MAX + 1)
		buf_printf(w->b, "[%zu]", depth);
	if (depth > 0)
		buf_puts(w->b, w->more[depth] ? "├─" : "└─");
	put_comm(w->b, p);
	buf_printf(w->b, "(%d)", (int)p->pid);
	if (show_cmdline(w->d) && (n = cmdline_len(p)) > 0) {
		buf_puts(w->b, "  ");
		put_clean(w->b, p->cmdline, n, CMD_MAX, "...");
	}
	buf_putc(w->b, '\n');
}

/* Pre-order from top, with an explicit stack: fork chains can be thousands deep. */
static void
tree_from(struct tree_walk *w, long top)
{
	size_t	depth = 0;
	long	i = top, next;

	w->stack[0] = top;
	w->more[0] = 0;
	for (;;) {
		w->seen[i] = 1;
		tree_line(w, depth);
		if ((next = unseen(w, w->t->first_child[i])) >= 0) {
			depth++;
		} else {
			for (; depth > 0; depth--)
				if ((next = unseen(w, w->t->next_sibling[w->stack[depth]])) >= 0)
					break;
			if (depth == 0)
				return;
		}
		i = w->stack[depth] = next;
		w->more[depth] = unseen(w, w->t->next_sibling[i]) >= 0;
	}
}

char *
text_tree(const struct daemon *d, size_t *len)
{
	struct ptree		t;
	struct tree_walk	w;
	struct buf		b;
	size_t			i;

	ptree_build(d->pt, &t);
	buf_init(&b, 128 + t.n * 64);
	w.b = &b;
	w.d = d;
	w.t = &t;
	w.seen = xcalloc(t.n + 1, 1);
	w.stack = xreallocarray(NULL, t.n + 1, sizeof(*w.stack));
	w.more = xcalloc(t.n + 1, 1);
	for (i = 0; i < t.nroots; i++)
		tree_from(&w, t.roots[i]);
	/*
	 * A ppid cycle (a parent's PID reused by its descendant between two
	 * reads) leaves processes no root reaches: show them rather than lose them.
	 */
	for (i = 0; i < t.n; i++)
		if (!w.seen[i])
			tree_from(&w, (long)i);
	free(w.seen);
	free(w.stack);
	free(w.more);
	ptree_free(&t);
	return buf_release(&b, len);
}
