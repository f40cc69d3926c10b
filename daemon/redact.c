/*
 * Redaction of command lines: a linear scan over the arguments for the built-in
 * rules, then each configured regular expression; what they find becomes "***".
 * Pure: buffers in, buffers out.  The poller applies it once, where a command
 * line is read, so nothing downstream (JSON, text, metrics, match=) sees more.
 */
#include <sys/types.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "redact.h"
#include "regex_guard.h"
#include "xmalloc.h"

#define COST_MAX	10000	/* nodes glibc's regcomp may make of one rule */

struct rule {
	regex_t		 re;
	int		*outer;		/* its outermost groups, in order */
	size_t		 nouter;
};

struct redact {
	struct rule	*rules;
	size_t		 n;
	int		 defaults;
};

struct span {
	size_t		 s, e;		/* [s, e) */
};

struct spans {
	struct span	*v;
	size_t		 n, cap;
};

/* One whitespace-separated word of the command line. */
struct word {
	const char	*p;
	size_t		 s, e;		/* [s, e) in the buffer */
	size_t		 argend;	/* the end of the argument that holds it */
};

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* A name component that is a secret by itself ("--token", "DB_PASSWORD"). */
static const char *const secret_words[] = {
	"password", "passwd", "passphrase", "pass", "pwd", "passin", "passout",
	"secret", "token", "apikey", "credential", "credentials",
};
/* A component ending in one of these is a secret too ("PGPASSWORD", "authtoken"). */
static const char *const secret_suffixes[] = {
	"password", "passwd", "passphrase", "secret", "token", "apikey",
};
/* X followed by "key" ("--api-key", "AWS_SECRET_ACCESS_KEY", "apiKey"). */
static const char *const key_prefixes[] = {
	"api", "access", "private", "secret", "auth", "encryption", "signing",
	"master",
};
/* Clients that take their password as -pSECRET (one argument). */
static const char *const mysql_clients[] = {
	"mysql", "mysqldump", "mysqladmin", "mysqlcheck", "mysqlimport",
	"mysqlshow", "mysqlslap", "mysqlpump", "mysqlbinlog", "mysqlsh",
	"mariadb", "mariadb-dump", "mariadb-admin", "mariadb-check",
	"mariadb-import", "mariadb-show", "mariadb-slap", "mariadb-binlog",
};

static void
span_add(struct spans *sp, size_t s, size_t e)
{
	if (e <= s)
		return;		/* an empty value hides nothing */
	if (sp->n == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 16;
		sp->v = xreallocarray(sp->v, sp->cap, sizeof(*sp->v));
	}
	sp->v[sp->n].s = s;
	sp->v[sp->n].e = e;
	sp->n++;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	    c == '\r';
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive: is p[0..n) equal to w? */
static int
eq_word(const char *p, size_t n, const char *w)
{
	size_t	i;

	if (strlen(w) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower((unsigned char)p[i]) != w[i])
			return 0;
	return 1;
}

static int
in_list(const char *p, size_t n, const char *const *list, size_t nlist)
{
	size_t	i;

	for (i = 0; i < nlist; i++)
		if (eq_word(p, n, list[i]))
			return 1;
	return 0;
}

static int
ends_with_secret(const char *p, size_t n)
{
	size_t	i, k;

	for (i = 0; i < nitems(secret_suffixes); i++) {
		k = strlen(secret_suffixes[i]);
		if (n > k && eq_word(p + n - k, k, secret_suffixes[i]))
			return 1;
	}
	return 0;
}

static int
is_separator(char c)
{
	return c == '-' || c == '_' || c == '.';
}

/*
 * Whether an option or variable name names a secret.  The name is split into
 * components at '-', '_', '.' and lower-to-upper case changes; last_only looks
 * at the last component (or the last two for "...-key"), for options whose
 * value is the next argument: "--password-file F" hides nothing, "--db-password
 * P" hides P.
 */
static int
sensitive(const char *p, size_t n, int last_only)
{
	size_t		 i = 0, s, prev_s = 0, prev_n = 0;
	int		 hit = 0, prev = 0;

	while (i < n) {
		while (i < n && is_separator(p[i]))
			i++;
		if (i == n)
			break;
		s = i++;
		while (i < n && !is_separator(p[i]) &&
		    !(p[i] >= 'A' && p[i] <= 'Z' && p[i - 1] >= 'a' &&
		    p[i - 1] <= 'z'))
			i++;
		hit = in_list(p + s, i - s, secret_words, nitems(secret_words)) ||
		    ends_with_secret(p + s, i - s) ||
		    (prev && eq_word(p + s, i - s, "key") &&
		    in_list(p + prev_s, prev_n, key_prefixes, nitems(key_prefixes)));
		if (hit && !last_only)
			return 1;
		prev = 1;
		prev_s = s;
		prev_n = i - s;
	}
	return hit;
}

static int
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || is_separator(c);
}

/* The length of a NAME before '=' at p (up to end), or 0 when there is none. */
static size_t
name_before_eq(const char *p, const char *end)
{
	const char	*q = p;

	while (q < end && is_name_char(*q))
		q++;
	return q < end && *q == '=' ? (size_t)(q - p) : 0;
}

static int
is_mysql_client(const struct word *w)
{
	const char	*b = w->p + w->s, *end = w->p + w->e, *q;

	for (q = b; q < end; q++)
		if (*q == '/')
			b = q + 1;
	return in_list(b, (size_t)(end - b), mysql_clients, nitems(mysql_clients));
}

/* scheme://user:PASSWORD@host: the password ends at the last '@' of the authority. */
static void
scan_urls(const struct word *w, struct spans *sp)
{
	const char	*buf = w->p;
	size_t		 i = w->s, pass, end, at;

	while (i + 3 <= w->e) {
		if (memcmp(buf + i, "://", 3) != 0 || i == w->s ||
		    !is_name_char(buf[i - 1])) {
			i++;
			continue;
		}
		i += 3;
		while (i < w->e && strchr(":/@?#", buf[i]) == NULL)
			i++;
		if (i == w->e || buf[i] != ':')
			continue;
		pass = ++i;
		for (end = pass; end < w->e && strchr("/?#", buf[end]) == NULL;
		    end++)
			;
		for (at = end; at > pass && buf[at - 1] != '@'; at--)
			;
		if (at > pass)
			span_add(sp, pass, at - 1);
		i = pass;	/* "a://u:p@b://v:q@c" holds two */
	}
}

/* ?token=X&password=Y;Password=Z: each value ends at the next '&', ';' or '#'. */
static void
scan_params(const struct word *w, struct spans *sp)
{
	const char	*buf = w->p, *end = w->p + w->e;
	size_t		 i, n, v;

	for (i = w->s; i < w->e; i++) {
		if (buf[i] != '?' && buf[i] != '&' && buf[i] != ';')
			continue;
		if ((n = name_before_eq(buf + i + 1, end)) == 0 ||
		    !sensitive(buf + i + 1, n, 0))
			continue;
		for (v = i + 1 + n + 1; v < w->e && strchr("&;#", buf[v]) == NULL;
		    v++)
			;
		span_add(sp, i + 1 + n + 1, v);
		i = v - 1;
	}
}

/*
 * One word of the built-in rules.  *want_value says the previous word was an
 * option whose value is this word; *client that a mysql-like client came.
 * A value runs to the end of its argument: in a shell command given as one
 * argument there is no telling where it ends, so the rest of it is hidden.
 */
static void
scan_word(const struct word *w, int *want_value, int *client,
    struct spans *sp)
{
	const char	*p = w->p + w->s;
	size_t		 len = w->e - w->s, dashes, n;

	if (*want_value) {
		*want_value = 0;
		/* "--password --verbose": a prompt flag, not a password. */
		if (!(len >= 2 && p[0] == '-' && p[1] == '-'))
			span_add(sp, w->s, w->argend);
		/* Read on: "--token mysql -pX" still hides X. */
	}
	if (*client && len > 2 && p[0] == '-' && p[1] == 'p')
		span_add(sp, w->s + 2, w->argend);
	if (is_mysql_client(w))
		*client = 1;
	if (p[0] == '-') {
		dashes = len >= 2 && p[1] == '-' ? 2 : 1;
		n = name_before_eq(p + dashes, p + len);
		if (n > 0 && sensitive(p + dashes, n, 0))
			span_add(sp, w->s + dashes + n + 1, w->argend);
		else if (n == 0 && len > dashes &&
		    sensitive(p + dashes, len - dashes, 1))
			*want_value = 1;
	} else if ((n = name_before_eq(p, p + len)) > 0 && sensitive(p, n, 0))
		span_add(sp, w->s + n + 1, w->argend);
	scan_urls(w, sp);
	scan_params(w, sp);
}

static void
builtin_scan(const char *buf, size_t len, struct spans *sp)
{
	struct word	 w;
	size_t		 i = 0, argend = 0;
	int		 want_value = 0, client = 0;

	w.p = buf;
	while (i < len) {
		if (buf[i] == '\0' || is_space(buf[i])) {
			i++;
			continue;
		}
		if (i >= argend) {
			const char *nul = memchr(buf + i, '\0', len - i);

			argend = nul != NULL ? (size_t)(nul - buf) : len;
		}
		w.s = i;
		while (i < len && buf[i] != '\0' && !is_space(buf[i]))
			i++;
		w.e = i;
		w.argend = argend;
		scan_word(&w, &want_value, &client, sp);
	}
}


/*
 * Lists the outermost groups of a rule, in order: the value is the last of
 * them that took part in a match.  Brackets and escapes open none.
 */
static void
rule_groups(const char *re, struct rule *rule)
{
	const char	*s, *t;
	int		 d = 0, n = 0;

	rule->outer = NULL;
	rule->nouter = 0;
	for (s = re; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '[') {
			if ((t = regex_skip_bracket(s)) == NULL)
				return;		/* unterminated: regcomp says so */
			s = t;
		} else if (*s == '(') {
			n++;
			if (d++ == 0) {
				rule->outer = xreallocarray(rule->outer,
				    rule->nouter + 1, sizeof(*rule->outer));
				rule->outer[rule->nouter++] = n;
			}
		} else if (*s == ')' && d > 0)
			d--;
	}
}

struct redact *
redact_create(void)
{
	struct redact	*r = xcalloc(1, sizeof(*r));

	r->defaults = 1;
	return r;
}

int
redact_add(struct redact *r, const char *re, char *err, size_t errlen)
{
	struct rule	 rule;
	char		 msg[128];
	int		 rc;

	if (strlen(re) > REDACT_RULE_MAX) {
		snprintf(err, errlen, "longer than %d bytes", REDACT_RULE_MAX);
		return -1;
	}
	switch (regex_guard(re, COST_MAX)) {
	case REGEX_BACKREF:
		/* Matching would be exponential in the argument's length. */
		snprintf(err, errlen, "back-references (\\1 ... \\9) are not "
		    "supported");
		return -1;
	case REGEX_TOO_BIG:
		snprintf(err, errlen, "too complex: repeats too large or nested, "
		    "or repeating what can match empty");
		return -1;
	}
	rule_groups(re, &rule);
	/* REG_NEWLINE: '.' and '[^...]' stay inside one argument. */
	if ((rc = regcomp(&rule.re, re, REG_EXTENDED | REG_NEWLINE)) != 0) {
		regerror(rc, &rule.re, msg, sizeof(msg));
		regfree(&rule.re);
		snprintf(err, errlen, "bad regular expression: %s", msg);
		goto fail;
	}
	if (rule.nouter > 0 &&
	    (size_t)rule.outer[rule.nouter - 1] > rule.re.re_nsub)
		rule.nouter = 0;	/* misread: hide the whole match */
	r->rules = xreallocarray(r->rules, r->n + 1, sizeof(*r->rules));
	r->rules[r->n++] = rule;
	return 0;
fail:
	free(rule.outer);
	return -1;
}

void
redact_set_defaults(struct redact *r, int on)
{
	r->defaults = on != 0;
}

int
redact_defaults(const struct redact *r)
{
	return r->defaults;
}

size_t
redact_count(const struct redact *r)
{
	return r->n;
}

/*
 * Runs one rule over the view (arguments joined by '\n').  REG_STARTEND keeps
 * what precedes the start visible to '^' and bracket context, and leaves
 * offsets relative to the view (glibc).  A rule that fails to run hides
 * everything: better no command line than a leaked one.
 */
static void
rule_scan(const struct rule *rule, const char *view, size_t len,
    struct spans *sp)
{
	regmatch_t	*m = xreallocarray(NULL, rule->re.re_nsub + 1, sizeof(*m));
	size_t		 pos = 0, k;
	int		 rc, g;

	while (pos <= len) {
		m[0].rm_so = (regoff_t)pos;
		m[0].rm_eo = (regoff_t)len;
		rc = regexec(&rule->re, view, rule->re.re_nsub + 1, m,
		    REG_STARTEND);
		if (rc == REG_NOMATCH)
			break;
		if (rc != 0) {
			span_add(sp, 0, len);
			break;
		}
		for (k = rule->nouter, g = 0; k > 0 && g == 0; k--)
			if (m[rule->outer[k - 1]].rm_so >= 0)
				g = rule->outer[k - 1];
		span_add(sp, (size_t)m[g].rm_so, (size_t)m[g].rm_eo);
		pos = (size_t)m[0].rm_eo + (m[0].rm_eo == m[0].rm_so);
	}
	free(m);
}

static void
rules_scan(const struct redact *r, const char *buf, size_t len,
    struct spans *sp)
{
	char	*view;
	size_t	 i;

	if (r == NULL || r->n == 0)
		return;
	if (len > (size_t)INT_MAX) {
		span_add(sp, 0, len);	/* past regoff_t: hide, never leak */
		return;
	}
	/* One argument per line; a newline inside an argument is a space. */
	view = xmalloc(len + 1);
	for (i = 0; i < len; i++)
		view[i] = buf[i] == '\0' ? '\n' : buf[i] == '\n' ? ' ' : buf[i];
	view[len] = '\0';
	for (i = 0; i < r->n; i++)
		rule_scan(&r->rules[i], view, len, sp);
	free(view);
}

static int
span_cmp(const void *a, const void *b)
{
	const struct span	*x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return (x->e > y->e) - (x->e < y->e);
}

/* Copies buf with every span's pieces between NULs replaced by the mask. */
static char *
rebuild(const char *buf, size_t len, struct spans *sp, size_t *outlen)
{
	struct buf	 out;
	size_t		 i, k, pos = 0, s, e;

	if (sp->n > 1)
		qsort(sp->v, sp->n, sizeof(*sp->v), span_cmp);
	buf_init(&out, len + 1);
	for (i = 0; i < sp->n; i = k) {
		s = sp->v[i].s;
		e = sp->v[i].e;
		for (k = i + 1; k < sp->n && sp->v[k].s <= e; k++)
			if (sp->v[k].e > e)
				e = sp->v[k].e;
		if (s < pos)
			s = pos;
		buf_add(&out, buf + pos, s - pos);
		for (pos = s; pos < e; ) {
			const char	*nul = memchr(buf + pos, '\0', e - pos);
			size_t		 piece = nul != NULL ? (size_t)(nul - buf) : e;

			if (piece > pos)
				buf_add(&out, REDACT_MASK, strlen(REDACT_MASK));
			if (piece < e)
				buf_putc(&out, '\0');
			pos = piece + (piece < e);
		}
	}
	buf_add(&out, buf + pos, len - pos);
	return buf_release(&out, outlen);
}

char *
redact_apply(const struct redact *r, const char *buf, size_t len,
    size_t *outlen)
{
	struct spans	 sp = { NULL, 0, 0 };
	char		*out;

	if (r == NULL || r->defaults)
		builtin_scan(buf, len, &sp);
	rules_scan(r, buf, len, &sp);
	out = rebuild(buf, len, &sp, outlen);
	free(sp.v);
	return out;
}

void
redact_free(struct redact *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		regfree(&r->rules[i].re);
		free(r->rules[i].outer);
	}
	free(r->rules);
	free(r);
}
