/*
 * Configuration: one sorted keyword table drives the file parser, the long
 * options, PIDCAR_* variables, the defaults and --help.  Only config_build
 * reads a file and the environment; everything else works on strings.
 * Longer than most modules because the table's three front ends (file, argv,
 * environment) share its setters and error messages, and belong together.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "config.h"
#include "regex_guard.h"
#include "target.h"
#include "daemon.h"
#include "log.h"
#include "privdrop.h"
#include "redact.h"
#include "xmalloc.h"

#define CONFIG_MAX_LINE		4096
#define CONFIG_MAX_FILE		(1024 * 1024)
#define CONFIG_MAX_WORDS	32
#define CONFIG_ENV_PREFIX	"PIDCAR_"
#define OPT_KEYWORD_BASE	256	/* getopt val of keyword i is this + i */

#define TOKEN_MIN		16
#define TOKEN_MAX		4096

#define NS_MS	1000000LL
#define NS_S	1000000000LL

struct keyword;
typedef int (*keyword_set_cb)(struct config *, const struct keyword *,
    const char *, char *, size_t);

struct keyword {
	const char	*name;
	const char	*syntax;	/* the value, as --help shows it */
	const char	*def;		/* the default, applied through set */
	const char	*accepted;	/* what errors say is accepted */
	const char	*help;
	keyword_set_cb	 set;
	size_t		 off;		/* field for the generic setters */
	long long	 min, max;	/* ns for durations, else the value */
};

static int	set_listen(struct config *, const struct keyword *, const char *,
		    char *, size_t);
static int	set_target(struct config *, const struct keyword *, const char *,
		    char *, size_t);
static int	set_log_level(struct config *, const struct keyword *,
		    const char *, char *, size_t);
static int	set_duration(struct config *, const struct keyword *,
		    const char *, char *, size_t);
static int	set_int(struct config *, const struct keyword *, const char *,
		    char *, size_t);
static int	set_yesno(struct config *, const struct keyword *, const char *,
		    char *, size_t);
static int	set_token_file(struct config *, const struct keyword *,
		    const char *, char *, size_t);
static int	set_pem_file(struct config *, const struct keyword *,
		    const char *, char *, size_t);
static int	read_file(const char *, struct buf *);
static int	set_group(struct config *, const struct keyword *, const char *,
		    char *, size_t);
static int	set_main(struct config *, const struct keyword *, const char *,
		    char *, size_t);
static int	split_line(char *, char **, int *, char *, size_t);
static int	set_redact(struct config *, const struct keyword *, const char *,
		    char *, size_t);
static int	set_redact_defaults(struct config *, const struct keyword *,
		    const char *, char *, size_t);
static int	set_user(struct config *, const struct keyword *, const char *,
		    char *, size_t);

/* Sorted by name: lookups use bsearch and --help lists it in this order. */
static const struct keyword keywords[] = {
	{ "auth_token_file", "PATH|none", "none",
	    "a readable file holding one token of 16-4096 characters from "
	    "A-Z a-z 0-9 - . _ ~ + / (then optional =), or none",
	    "bearer token every endpoint but /healthz and /readyz requires",
	    set_token_file, offsetof(struct config, auth_token), 0, 0 },
	{ "cmdline", "yes|no", "yes", "yes, no",
	    "expose full command lines (no: comm only)",
	    set_yesno, offsetof(struct config, cmdline), 0, 1 },
	{ "connection_timeout", "DURATION", "30s",
	    "DURATION 1s-1h, e.g. 10s, 1m",
	    "an HTTP connection idle this long is closed",
	    set_duration, offsetof(struct config, connection_timeout),
	    1 * NS_S, 3600 * NS_S },
	{ "events_buffer", "N", "10000", "an integer 16-1000000",
	    "lifecycle events kept for /api/v1/events and stream resumes",
	    set_int, offsetof(struct config, events_buffer), 16, 1000000 },
	{ "group", "NAME MATCHER...", NULL,
	    "NAME then one or more of comm=RE exe=RE cmdline=RE user=NAME "
	    "(POSIX extended regexes; quote a matcher that has spaces)",
	    "a process group; repeatable, the first matching line wins",
	    set_group, 0, 0, 0 },
	{ "group_by_comm", "yes|no", "yes", "yes, no",
	    "processes no group matches: grouped by comm (no: all in \"other\")",
	    set_yesno, offsetof(struct config, group_by_comm), 0, 1 },
	{ "listen", "ADDR:PORT", "127.0.0.1:9723",
	    "ADDR:PORT, port 1-65535",
	    "serve HTTP on this IPv4, [IPv6] or localhost address",
	    set_listen, 0, 1, 65535 },
	{ "log_level", "error|warning|info|debug", "info",
	    "error, warning, info, debug", "lowest level logged",
	    set_log_level, 0, 0, 0 },
	{ "main", "GROUP", NULL, "a group name",
	    "the group of the main process, whose restarts are counted "
	    "(default: the namespace's PID 1; set it in a Kubernetes pod)",
	    set_main, 0, 0, 0 },
	{ "max_connections", "N", "64", "an integer 1-10000",
	    "concurrent HTTP connections served",
	    set_int, offsetof(struct config, max_connections), 1, 10000 },
	{ "max_connections_per_ip", "N", "32", "an integer 1-10000",
	    "concurrent HTTP connections served to one client address",
	    set_int, offsetof(struct config, max_connections_per_ip), 1, 10000 },
	{ "max_groups", "N", "256", "an integer 1-100000",
	    "most groups exported; processes of further names go to \"other\"",
	    set_int, offsetof(struct config, max_groups), 1, 100000 },
	{ "max_streams", "N", "16", "an integer 1-1000",
	    "concurrent /api/v1/events/stream clients",
	    set_int, offsetof(struct config, max_streams), 1, 1000 },
	{ "metrics_token_file", "PATH|none", "none",
	    "a readable file holding one token, like auth_token_file, or none",
	    "a second bearer token that opens /metrics only (for Prometheus)",
	    set_token_file, offsetof(struct config, metrics_token), 0, 0 },
	{ "per_process_limit", "N", "100", "an integer 1-10000",
	    "per-process series for at most this many processes, the top by CPU",
	    set_int, offsetof(struct config, per_process_limit), 1, 10000 },
	{ "per_process_metrics", "yes|no", "no", "yes, no",
	    "export pidcar_process_* series labelled by pid and comm",
	    set_yesno, offsetof(struct config, per_process_metrics), 0, 1 },
	{ "poll_interval", "DURATION", "50ms",
	    "DURATION 1ms-10s, e.g. 50ms, 1.5s",
	    "ns_last_pid probe period: how soon new processes are seen",
	    set_duration, offsetof(struct config, poll_interval),
	    1 * NS_MS, 10 * NS_S },
	{ "redact", "RE", NULL,
	    "a POSIX extended regular expression of 1-1024 bytes without "
	    "back-references (quote it if it has spaces or '#')",
	    "hide what RE matches in command lines (its last outermost group "
	    "if it has groups); repeatable",
	    set_redact, 0, 0, 0 },
	{ "redact_defaults", "yes|no", "yes", "yes, no",
	    "the built-in redaction of passwords, tokens and secrets in "
	    "command lines",
	    set_redact_defaults, offsetof(struct config, redact_defaults), 0, 1 },
	{ "refresh_age", "DURATION", "1s", "DURATION 0-1h, e.g. 500ms, 1s",
	    "CPU and memory numbers younger than this are reused",
	    set_duration, offsetof(struct config, refresh_age),
	    0, 3600 * NS_S },
	{ "scan_interval", "DURATION", "10s",
	    "DURATION 100ms-1h, e.g. 10s, 1m",
	    "full /proc rescan period, the safety net behind the probe",
	    set_duration, offsetof(struct config, scan_interval),
	    100 * NS_MS, 3600 * NS_S },
	{ "target", "SPEC", "self",
	    "self, pid:N, ns:PATH, cgroup:PATH or container:NAME",
	    "whose processes to watch: self is this PID namespace",
	    set_target, 0, 0, 0 },
	{ "tls_cert", "PATH|none", "none",
	    "a readable PEM file with the certificate (chain), or none",
	    "serve HTTPS with this certificate (needs tls_key)",
	    set_pem_file, offsetof(struct config, tls_cert), 0, 0 },
	{ "tls_key", "PATH|none", "none",
	    "a readable PEM file with the certificate's private key, or none",
	    "the private key of tls_cert",
	    set_pem_file, offsetof(struct config, tls_key), 0, 0 },
	{ "user", "NAME|UID|none", "none",
	    "a user of the passwd database, a numeric uid, or none",
	    "switch to this user after start-up, keeping only the capabilities "
	    "the mode needs (none: keep the uid, drop the capabilities anyway)",
	    set_user, 0, 0, 0 },
};
#define NKEYWORDS	(sizeof(keywords) / sizeof(keywords[0]))

static const char *const log_level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARNING] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static void	say(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copies s for an error message: at most 64 bytes, control bytes as '?'. */
static const char *
shown(const char *s, char *dst, size_t dstlen)
{
	size_t	i, n = 0;

	for (i = 0; s[i] != '\0' && n + 4 < dstlen && i < 64; i++)
		dst[n++] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	if (s[i] != '\0')
		n += strlcpy(dst + n, "...", dstlen - n);
	dst[n] = '\0';
	return dst;
}

static int
keyword_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct keyword *)elem)->name);
}

static const struct keyword *
keyword_find(const char *name)
{
	return bsearch(name, keywords, NKEYWORDS, sizeof(keywords[0]),
	    keyword_cmp);
}

/* Levenshtein distance, capped: long inputs are never "close". */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	row[65], i, j, la = strlen(a), lb = strlen(b), diag, up;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb];
}

/* Returns the keyword closest to name, or NULL if none is within 2 edits. */
static const struct keyword *
keyword_suggest(const char *name)
{
	const struct keyword	*best = NULL;
	size_t			 i, d, bestd = 3;

	for (i = 0; i < NKEYWORDS; i++) {
		d = edit_distance(name, keywords[i].name);
		if (d < bestd) {
			bestd = d;
			best = &keywords[i];
		}
	}
	return best;
}

static void
unknown_keyword(const char *where, const char *name, char *err,
    size_t errlen)
{
	const struct keyword	*k;
	char			 list[512], s[80];
	size_t			 i;

	if ((k = keyword_suggest(name)) != NULL) {
		say(err, errlen, "%s: unknown keyword '%s' (did you mean '%s'?)",
		    where, shown(name, s, sizeof(s)), k->name);
		return;
	}
	list[0] = '\0';
	for (i = 0; i < NKEYWORDS; i++) {
		if (i > 0)
			strlcat(list, ", ", sizeof(list));
		strlcat(list, keywords[i].name, sizeof(list));
	}
	say(err, errlen, "%s: unknown keyword '%s' (accepted: %s)", where,
	    shown(name, s, sizeof(s)), list);
}

/* "[0-9]+(.[0-9]+)?(ms|s|m|h)?" into nanoseconds; 0 or -1. */
static int
parse_duration_ns(const char *s, long long *ns)
{
	long long	 whole = 0, frac = 0, fracdiv = 1, unit;
	const char	*p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > 1000000000LL)
			return -1;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (fracdiv < NS_S) {
				frac = frac * 10 + (*p - '0');
				fracdiv *= 10;
			}
		}
	}
	if (strcmp(p, "ms") == 0)
		unit = NS_MS;
	else if (*p == '\0' || strcmp(p, "s") == 0)
		unit = NS_S;
	else if (strcmp(p, "m") == 0)
		unit = 60 * NS_S;
	else if (strcmp(p, "h") == 0)
		unit = 3600 * NS_S;
	else
		return -1;
	if (whole > INT64_MAX / unit - 1)
		return -1;
	*ns = whole * unit + (long long)((double)frac * (double)unit /
	    (double)fracdiv);
	return 0;
}

int
config_parse_duration(const char *s, double *seconds)
{
	long long	ns;

	if (s == NULL || parse_duration_ns(s, &ns) == -1)
		return -1;
	*seconds = (double)ns / (double)NS_S;
	return 0;
}

static int
parse_port(const char *s, int *port, char *why, size_t whylen)
{
	const char	*errstr;
	char		 v[80];
	size_t		 i;

	if (*s == '\0') {
		say(why, whylen, "missing port after ':'");
		return -1;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (!isdigit((unsigned char)s[i])) {
			say(why, whylen, "port '%s' is not a number",
			    shown(s, v, sizeof(v)));
			return -1;
		}
	}
	*port = (int)strtonum(s, 1, 65535, &errstr);
	if (errstr != NULL) {
		say(why, whylen, "port %s out of range", shown(s, v, sizeof(v)));
		return -1;
	}
	return 0;
}

/* Splits "a.b.c.d:port", "[v6]:port" or "localhost:port"; host is validated. */
static int
split_listen(const char *s, char *host, size_t hostlen, int *port, char *why,
    size_t whylen)
{
	const char	*colon, *end;
	unsigned char	 addr[16];
	char		 v[80];
	int		 af = AF_INET;

	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL) {
			say(why, whylen, "missing ']' after IPv6 address");
			return -1;
		}
		colon = end + 1;
		s++;
		af = AF_INET6;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			say(why, whylen, "missing ':PORT' in '%s'",
			    shown(s, v, sizeof(v)));
			return -1;
		}
		end = colon;
		if (memchr(s, ':', (size_t)(end - s)) != NULL) {
			say(why, whylen, "IPv6 address needs brackets, "
			    "e.g. [::1]:9723");
			return -1;
		}
	}
	if (*colon != ':') {
		say(why, whylen, "missing ':PORT' after the address");
		return -1;
	}
	if (end == s) {
		say(why, whylen, "missing address before ':'");
		return -1;
	}
	if ((size_t)(end - s) >= hostlen) {
		say(why, whylen, "address too long");
		return -1;
	}
	memcpy(host, s, (size_t)(end - s));
	host[end - s] = '\0';
	if (af == AF_INET && strcmp(host, "localhost") == 0)
		strlcpy(host, "127.0.0.1", hostlen);
	if (inet_pton(af, host, addr) != 1) {
		say(why, whylen, "'%s' is not an %s address",
		    shown(host, v, sizeof(v)), af == AF_INET ? "IPv4" : "IPv6");
		return -1;
	}
	return parse_port(colon + 1, port, why, whylen);
}

static int
set_listen(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	char	host[INET6_ADDRSTRLEN + 1];
	int	port;

	(void)k;
	if (split_listen(value, host, sizeof(host), &port, why, whylen) == -1)
		return -1;
	free(conf->listen);
	free(conf->listen_host);
	conf->listen = xstrdup(value);
	conf->listen_host = xstrdup(host);
	conf->listen_port = port;
	return 0;
}

static int
set_target(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	struct target_spec	spec;

	(void)k;
	if (target_parse(value, &spec, why, whylen) == -1)
		return -1;
	free(conf->target);
	conf->target = xstrdup(value);
	return 0;
}

static int
set_log_level(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	char	v[80];
	size_t	i;

	(void)k;
	for (i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]);
	    i++) {
		if (strcmp(value, log_level_names[i]) == 0) {
			conf->log_level = (enum log_level)i;
			return 0;
		}
	}
	say(why, whylen, "unknown level '%s'", shown(value, v, sizeof(v)));
	return -1;
}

static int
set_duration(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	long long	ns;
	char		v[80];

	if (parse_duration_ns(value, &ns) == -1) {
		say(why, whylen, "'%s' is not a duration",
		    shown(value, v, sizeof(v)));
		return -1;
	}
	if (ns < k->min || ns > k->max) {
		say(why, whylen, "%s out of range", shown(value, v, sizeof(v)));
		return -1;
	}
	*(double *)(void *)((char *)conf + k->off) = (double)ns / (double)NS_S;
	return 0;
}

static int
set_int(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	const char	*errstr;
	long long	 n;
	char		 v[80];
	size_t		 i;

	for (i = 0; value[i] != '\0'; i++) {
		if (!isdigit((unsigned char)value[i])) {
			say(why, whylen, "'%s' is not a number",
			    shown(value, v, sizeof(v)));
			return -1;
		}
	}
	n = strtonum(value, k->min, k->max, &errstr);
	if (errstr != NULL) {
		say(why, whylen, "%s out of range", shown(value, v, sizeof(v)));
		return -1;
	}
	*(int *)(void *)((char *)conf + k->off) = (int)n;
	return 0;
}

static int
set_yesno(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	char	v[80];
	int	*field = (int *)(void *)((char *)conf + k->off);

	if (strcmp(value, "yes") == 0)
		*field = 1;
	else if (strcmp(value, "no") == 0)
		*field = 0;
	else {
		say(why, whylen, "'%s' is neither yes nor no",
		    shown(value, v, sizeof(v)));
		return -1;
	}
	return 0;
}

/* Appends one rule: repeatable, every source adds to the list. */
static int
set_redact(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	(void)k;
	return redact_add(conf->redact, value, why, whylen);
}

static int
set_redact_defaults(struct config *conf, const struct keyword *k,
    const char *value, char *why, size_t whylen)
{
	if (set_yesno(conf, k, value, why, whylen) == -1)
		return -1;
	redact_set_defaults(conf->redact, conf->redact_defaults);
	return 0;
}

static void
file_clear(struct config_file *f)
{
	free(f->path);
	if (f->data != NULL) {
		explicit_bzero(f->data, f->len);
		free(f->data);
	}
	memset(f, 0, sizeof(*f));
}

/* Copies a path for a message: control bytes as '?', at most 200 bytes. */
static const char *
shown_path(const char *s, char *dst, size_t dstlen)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < dstlen && i < 200; i++)
		dst[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	dst[i] = '\0';
	return dst;
}

/*
 * Reads the file a keyword names into f ("none" clears it).  Files holding a
 * secret should not be readable by others: that is worth a warning, not a
 * refusal, since a container may mount them with any mode.
 */
static int
load_file(struct config_file *f, const char *path, int secret, char *why,
    size_t whylen)
{
	struct buf	 b = { NULL, 0, 0 };
	struct stat	 st;
	char		 v[256];

	if (strcmp(path, "none") == 0) {
		file_clear(f);
		return 0;
	}
	if (read_file(path, &b) == -1) {
		if (errno == EFBIG)
			say(why, whylen, "%s: larger than %d bytes",
			    shown_path(path, v, sizeof(v)), CONFIG_MAX_FILE);
		else
			say(why, whylen, "%s: %s", shown_path(path, v, sizeof(v)),
			    strerror(errno));
		return -1;
	}
	if (secret && stat(path, &st) == 0 && (st.st_mode & 0077) != 0)
		log_warnx("%s is readable by other users (mode %04o): "
		    "chmod 600 it", shown_path(path, v, sizeof(v)),
		    (unsigned)(st.st_mode & 07777));
	file_clear(f);
	f->path = xstrdup(path);
	f->len = b.len;
	f->data = buf_release(&b, NULL);
	return 0;
}

/* RFC 6750's b64token: what fits in "Authorization: Bearer ..." unquoted. */
static int
token_valid(const char *t, size_t n)
{
	size_t	i = 0;

	while (i < n && (isalnum((unsigned char)t[i]) ||
	    (t[i] != '\0' && strchr("-._~+/", t[i]) != NULL)))
		i++;
	if (i == 0)
		return 0;
	while (i < n && t[i] == '=')
		i++;
	return i == n;
}

static int
set_token_file(struct config *conf, const struct keyword *k,
    const char *value, char *why, size_t whylen)
{
	struct config_file	*f = (struct config_file *)(void *)((char *)conf +
				    k->off);
	struct config_file	 nf;
	char			 v[256];

	memset(&nf, 0, sizeof(nf));
	if (load_file(&nf, value, 1, why, whylen) == -1)
		return -1;
	/* One trailing newline, as editors and echo write it, is not part of it. */
	while (nf.len > 0 && isspace((unsigned char)nf.data[nf.len - 1]))
		nf.data[--nf.len] = '\0';
	if (nf.path != NULL && (nf.len < TOKEN_MIN || nf.len > TOKEN_MAX ||
	    !token_valid(nf.data, nf.len))) {
		say(why, whylen, "%s: %s", shown_path(value, v, sizeof(v)),
		    nf.len == 0 ? "the file is empty" :
		    nf.len < TOKEN_MIN || nf.len > TOKEN_MAX ?
		    "the token is not 16-4096 characters long" :
		    "the token has a character a Bearer header cannot carry");
		file_clear(&nf);
		return -1;
	}
	file_clear(f);
	*f = nf;
	return 0;
}

static int
set_pem_file(struct config *conf, const struct keyword *k,
    const char *value, char *why, size_t whylen)
{
	struct config_file	*f = (struct config_file *)(void *)((char *)conf +
				    k->off);
	struct config_file	 nf;
	const char		*want;
	char			 v[256];
	int			 key = f == &conf->tls_key;

	memset(&nf, 0, sizeof(nf));
	if (load_file(&nf, value, key, why, whylen) == -1)
		return -1;
	/* GnuTLS checks the content when the server starts; this catches a swap. */
	want = key ? "PRIVATE KEY-----" : "-----BEGIN CERTIFICATE-----";
	if (nf.path != NULL && (memchr(nf.data, '\0', nf.len) != NULL ||
	    strstr(nf.data, want) == NULL)) {
		say(why, whylen, "%s: no PEM %s in the file",
		    shown_path(value, v, sizeof(v)),
		    key ? "private key" : "certificate");
		file_clear(&nf);
		return -1;
	}
	file_clear(f);
	*f = nf;
	return 0;
}

/* A group name: 1-128 bytes of UTF-8, no control bytes, no '='. */
static int
check_group_name(const char *name, char *why, size_t whylen)
{
	const unsigned char	*u = (const unsigned char *)name;
	size_t			 k, left = strlen(name);
	char			 v[80];

	if (left == 0 || left > 128) {
		say(why, whylen, "group name of %zu bytes (1-128 allowed)", left);
		return -1;
	}
	if (strchr(name, '=') != NULL) {
		say(why, whylen, "missing group name before '%s'",
		    shown(name, v, sizeof(v)));
		return -1;
	}
	for (; *u != '\0'; u += k, left -= k) {
		if ((k = utf8_len(u, left, NULL)) == 0 || *u < 0x20 || *u == 0x7f) {
			say(why, whylen, "group name '%s' is not printable UTF-8",
			    shown(name, v, sizeof(v)));
			return -1;
		}
	}
	return 0;
}

static void
group_rule_clear(struct group_rule *r)
{
	free(r->name);
	free(r->comm);
	free(r->exe);
	free(r->cmdline);
	free(r->user);
	memset(r, 0, sizeof(*r));
}

/* One KEY=VALUE matcher of a group line into r. */
static int
group_matcher(struct group_rule *r, char *word, char *why, size_t whylen)
{
	char	*eq = strchr(word, '='), **slot, v[80], msg[128];
	regex_t	 re;
	int	 rc;

	if (eq == NULL) {
		say(why, whylen, "'%s' is not a matcher (KEY=VALUE)",
		    shown(word, v, sizeof(v)));
		return -1;
	}
	*eq = '\0';
	if (strcmp(word, "comm") == 0)
		slot = &r->comm;
	else if (strcmp(word, "exe") == 0)
		slot = &r->exe;
	else if (strcmp(word, "cmdline") == 0)
		slot = &r->cmdline;
	else if (strcmp(word, "user") == 0)
		slot = &r->user;
	else {
		say(why, whylen, "unknown matcher '%s='", shown(word, v, sizeof(v)));
		return -1;
	}
	if (*slot != NULL || eq[1] == '\0') {
		say(why, whylen, "%s %s=", *slot != NULL ? "second" : "empty", word);
		return -1;
	}
	if (slot != &r->user) {
		/* The same guard as match= and redact: a reload must not stall. */
		if ((rc = regex_guard(eq + 1, 100000)) != REGEX_OK) {
			say(why, whylen, "%s=%s: %s", word, shown(eq + 1, v,
			    sizeof(v)), rc == REGEX_BACKREF ? "back-references "
			    "are not accepted" : "too complex (nested or large "
			    "repeats, or a repeat of what can match empty)");
			return -1;
		}
		if ((rc = regcomp(&re, eq + 1, REG_EXTENDED | REG_NOSUB)) != 0) {
			regerror(rc, &re, msg, sizeof(msg));
			say(why, whylen, "%s=%s: %s", word,
			    shown(eq + 1, v, sizeof(v)), msg);
			return -1;
		}
		regfree(&re);
	}
	*slot = xstrdup(eq + 1);
	return 0;
}

/* "NAME KEY=VALUE..." (words split as in the file, quotes included); appends a rule. */
static int
set_group(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	struct group_rule	 r;
	char			 line[CONFIG_MAX_LINE + 1], *w[CONFIG_MAX_WORDS];
	int			 n = 0, i;

	(void)k;
	memset(&r, 0, sizeof(r));
	if (strlcpy(line, value, sizeof(line)) >= sizeof(line)) {
		say(why, whylen, "longer than %d bytes", CONFIG_MAX_LINE);
		return -1;
	}
	if (split_line(line, w, &n, why, whylen) == -1)
		return -1;
	if (n == 0 || check_group_name(w[0], why, whylen) == -1) {
		if (n == 0)
			say(why, whylen, "missing group name");
		return -1;
	}
	if (n == 1) {
		say(why, whylen, "group %s has no matcher", w[0]);
		return -1;
	}
	r.name = xstrdup(w[0]);
	for (i = 1; i < n; i++) {
		if (group_matcher(&r, w[i], why, whylen) == -1) {
			group_rule_clear(&r);
			return -1;
		}
	}
	conf->groups = xreallocarray(conf->groups, conf->ngroups + 1,
	    sizeof(*conf->groups));
	conf->groups[conf->ngroups++] = r;
	return 0;
}

/* Checked against the passwd database now, so `pidcar -n` catches a typo. */
static int
set_user(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	const char	*name;
	uid_t		 uid;
	gid_t		 gid;

	(void)k;
	if (strcmp(value, "none") == 0) {
		free(conf->user);
		conf->user = NULL;
		return 0;
	}
	if (privdrop_lookup(value, &uid, &gid, &name, why, whylen) == -1)
		return -1;
	free(conf->user);
	conf->user = xstrdup(value);
	return 0;
}

static int
set_main(struct config *conf, const struct keyword *k, const char *value,
    char *why, size_t whylen)
{
	(void)k;
	if (check_group_name(value, why, whylen) == -1)
		return -1;
	free(conf->main_group);
	conf->main_group = xstrdup(value);
	return 0;
}

int
config_set(struct config *conf, const char *where, const char *keyword,
    const char *value, char *err, size_t errlen)
{
	const struct keyword	*k;
	char			 why[256];

	if (where == NULL)
		where = "config";
	if ((k = keyword_find(keyword)) == NULL) {
		unknown_keyword(where, keyword, err, errlen);
		return -1;
	}
	if (value == NULL || *value == '\0') {
		say(err, errlen, "%s: %s: missing value (accepted: %s)", where,
		    k->name, k->accepted);
		return -1;
	}
	if (k->set(conf, k, value, why, sizeof(why)) == -1) {
		say(err, errlen, "%s: %s: %s (accepted: %s)", where, k->name,
		    why, k->accepted);
		return -1;
	}
	return 0;
}

struct config *
config_defaults(void)
{
	struct config	*conf;
	char		 err[512];
	size_t		 i;

	conf = xcalloc(1, sizeof(*conf));
	conf->redact = redact_create();
	for (i = 0; i < NKEYWORDS; i++) {
		if (i > 0 && strcmp(keywords[i - 1].name, keywords[i].name) >= 0)
			fatalx("config: keyword table not sorted at %s",
			    keywords[i].name);
		if (keywords[i].def == NULL)	/* group, main: none by default */
			continue;
		if (config_set(conf, "default", keywords[i].name,
		    keywords[i].def, err, sizeof(err)) == -1)
			fatalx("%s", err);
	}
	return conf;
}

void
config_free(struct config *conf)
{
	size_t	i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->ngroups; i++)
		group_rule_clear(&conf->groups[i]);
	free(conf->groups);
	free(conf->main_group);
	free(conf->file);
	free(conf->listen);
	free(conf->listen_host);
	free(conf->target);
	free(conf->user);
	file_clear(&conf->auth_token);
	file_clear(&conf->metrics_token);
	file_clear(&conf->tls_cert);
	file_clear(&conf->tls_key);
	redact_free(conf->redact);
	free(conf);
}

/*
 * Reads one quoted word at *pp (just past the opening '"') into dst in
 * place.  Only \" and \\ are escapes: any other backslash is kept, so
 * regular expressions need no doubling.
 */
static int
split_quoted(char **pp, char **dstp, char *why, size_t whylen)
{
	char	*p = *pp, *dst = *dstp;

	for (;;) {
		if (*p == '\0') {
			say(why, whylen, "unterminated quoted value");
			return -1;
		}
		if (*p == '"')
			break;
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		*dst++ = *p++;
	}
	p++;
	if (*p != '\0' && !isspace((unsigned char)*p) && *p != '#') {
		say(why, whylen, "unexpected '%c' after closing quote", *p);
		return -1;
	}
	*pp = p;
	*dstp = dst;
	return 0;
}

/* Splits line in place into words; '#' outside quotes starts a comment. */
static int
split_line(char *line, char **words, int *nwords, char *why, size_t whylen)
{
	char	*p = line, *dst;
	int	 n = 0;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (n == CONFIG_MAX_WORDS) {
			say(why, whylen, "more than %d words", CONFIG_MAX_WORDS);
			return -1;
		}
		*nwords = n;
		words[n++] = dst = p;
		if (*p == '"') {
			p++;
			if (split_quoted(&p, &dst, why, whylen) == -1)
				return -1;
		} else {
			while (*p != '\0' && *p != '#' &&
			    !isspace((unsigned char)*p))
				p++;
			dst = p;
		}
		if (*p == '#')
			*p = '\0';
		else if (*p != '\0')
			p++;
		*dst = '\0';
	}
	*nwords = n;
	return 0;
}

static int
parse_line(struct config *conf, const char *where, char *line, char *err,
    size_t errlen)
{
	const struct keyword	*k;
	char			*words[CONFIG_MAX_WORDS], why[256], s[80];
	char			 raw[CONFIG_MAX_LINE + 1];
	int			 n = 0;

	strlcpy(raw, line, sizeof(raw));
	if (split_line(line, words, &n, why, sizeof(why)) == -1) {
		if (n > 0 && (k = keyword_find(words[0])) != NULL)
			say(err, errlen, "%s: %s: %s (accepted: %s)", where,
			    k->name, why, k->accepted);
		else
			say(err, errlen, "%s: %s", where, why);
		return -1;
	}
	if (n == 0)
		return 0;
	if ((k = keyword_find(words[0])) == NULL) {
		unknown_keyword(where, words[0], err, errlen);
		return -1;
	}
	/* A multi-word value is split again by its setter, quotes and all. */
	if (k->set == set_group)
		return config_set(conf, where, k->name,
		    n >= 2 ? raw + (words[1] - line) : NULL, err, errlen);
	/* Every other keyword takes exactly one value. */
	if (n > 2) {
		say(err, errlen, "%s: %s: extra word '%s' after the value "
		    "(accepted: %s; quote a value that has spaces)", where,
		    k->name, shown(words[2], s, sizeof(s)), k->accepted);
		return -1;
	}
	return config_set(conf, where, k->name, n == 2 ? words[1] : NULL,
	    err, errlen);
}

int
config_parse_buffer(struct config *conf, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	char		 line[CONFIG_MAX_LINE + 1], where[PATH_MAX + 32];
	const char	*p = text, *end = text + len, *eol;
	size_t		 n;
	unsigned long	 lineno;

	for (lineno = 1; p < end; lineno++, p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		n = (size_t)(eol - p);
		snprintf(where, sizeof(where), "%s:%lu", name, lineno);
		if (n > CONFIG_MAX_LINE) {
			say(err, errlen, "%s: line longer than %d bytes", where,
			    CONFIG_MAX_LINE);
			return -1;
		}
		if (memchr(p, '\0', n) != NULL) {
			say(err, errlen, "%s: NUL byte in line", where);
			return -1;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		if (parse_line(conf, where, line, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* Reads path whole; -1 with errno set (EFBIG when it is too large). */
static int
read_file(const char *path, struct buf *b)
{
	struct stat	st;
	char		chunk[8192];
	ssize_t		n;
	int		fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	buf_init(b, 0);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (b->len + (size_t)n > CONFIG_MAX_FILE) {
			errno = EFBIG;
			goto fail;
		}
		buf_add(b, chunk, (size_t)n);
	}
	close(fd);
	return 0;
fail:
	saved = errno;
	buf_free(b);
	close(fd);
	errno = saved;
	return -1;
}

/* Reads and applies the file; without -f a missing default file is fine. */
static int
build_file(struct config *conf, const struct config_args *args, char *err,
    size_t errlen)
{
	const char	*path = args->file;
	struct buf	 b = { NULL, 0, 0 };
	int		 rc;

	if (path == NULL)
		path = CONFIG_DEFAULT_FILE;
	if (read_file(path, &b) == -1) {
		if (args->file == NULL && errno == ENOENT)
			return 0;
		if (errno == EFBIG)
			say(err, errlen, "%s: file larger than %d bytes", path,
			    CONFIG_MAX_FILE);
		else
			say(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	conf->file = xstrdup(path);
	rc = config_parse_buffer(conf, path, b.data, b.len, err, errlen);
	buf_free(&b);
	return rc;
}

/* Maps "PIDCAR_POLL_INTERVAL" to its keyword, or NULL. */
static const struct keyword *
keyword_from_env(const char *name, size_t len)
{
	char	lower[64];
	size_t	i;

	if (len >= sizeof(lower))
		return NULL;
	for (i = 0; i < len; i++) {
		if (islower((unsigned char)name[i]))
			return NULL;
		lower[i] = (char)tolower((unsigned char)name[i]);
	}
	lower[len] = '\0';
	return keyword_find(lower);
}

static void
env_unknown(const char *var, const char *eq)
{
	const struct keyword	*k;
	char			 lower[65], upper[65];
	size_t			 i, plen = strlen(CONFIG_ENV_PREFIX);

	for (i = 0; i + plen < (size_t)(eq - var) && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)var[plen + i]);
	lower[i] = '\0';
	if ((k = keyword_suggest(lower)) == NULL) {
		log_warnx("environment %.*s: not a pidcar keyword, ignored",
		    (int)(eq - var), var);
		return;
	}
	for (i = 0; k->name[i] != '\0' && i + 1 < sizeof(upper); i++)
		upper[i] = (char)toupper((unsigned char)k->name[i]);
	upper[i] = '\0';
	log_warnx("environment %.*s: not a pidcar keyword, ignored (did you "
	    "mean %s%s?)", (int)(eq - var), var, CONFIG_ENV_PREFIX, upper);
}

/*
 * Applies PIDCAR_<KEYWORD>=value.  A PIDCAR_* name that is no keyword is
 * warned about and ignored, so unrelated variables (PIDCAR_BIN in the
 * tests) do not stop the daemon, while a typo is still reported.
 */
static int
build_env(struct config *conf, char *const *envp, char *err, size_t errlen)
{
	const struct keyword	*k;
	const char		*name, *eq;
	char			 where[128];
	size_t			 plen = strlen(CONFIG_ENV_PREFIX), len;

	for (; envp != NULL && *envp != NULL; envp++) {
		if (strncmp(*envp, CONFIG_ENV_PREFIX, plen) != 0 ||
		    (eq = strchr(*envp, '=')) == NULL)
			continue;
		name = *envp + plen;
		len = (size_t)(eq - name);
		if ((k = keyword_from_env(name, len)) == NULL) {
			env_unknown(*envp, eq);
			continue;
		}
		snprintf(where, sizeof(where), "environment %.*s",
		    (int)(eq - *envp), *envp);
		if (config_set(conf, where, k->name, eq + 1, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* Rules that tie keywords together, checked once every source is applied. */
static int
config_check(const struct config *conf, char *err, size_t errlen)
{
	const char	*where = conf->file != NULL ? conf->file : "config";

	if ((conf->tls_cert.path == NULL) != (conf->tls_key.path == NULL)) {
		say(err, errlen, "%s: tls_cert and tls_key go together: set both "
		    "(HTTPS) or neither (plain HTTP)", where);
		return -1;
	}
	if (conf->metrics_token.path != NULL && conf->auth_token.path == NULL) {
		say(err, errlen, "%s: metrics_token_file needs auth_token_file: "
		    "a token for /metrics alone would leave the process list "
		    "open", where);
		return -1;
	}
	if (conf->metrics_token.path != NULL &&
	    conf->metrics_token.len == conf->auth_token.len &&
	    memcmp(conf->metrics_token.data, conf->auth_token.data,
	    conf->auth_token.len) == 0) {
		say(err, errlen, "%s: metrics_token_file holds the same token as "
		    "auth_token_file: it would open every endpoint", where);
		return -1;
	}
	return 0;
}

struct config *
config_build(const struct config_args *args, char *const *envp, char *err,
    size_t errlen)
{
	struct config	*conf;
	char		 where[128];
	int		 i;

	conf = config_defaults();
	if (build_file(conf, args, err, errlen) == -1)
		goto fail;
	if (build_env(conf, envp, err, errlen) == -1)
		goto fail;
	for (i = 0; i < args->nopts; i++) {
		snprintf(where, sizeof(where), "option --%s", args->opt_keys[i]);
		if (config_set(conf, where, args->opt_keys[i], args->opt_vals[i],
		    err, errlen) == -1)
			goto fail;
	}
	if (config_check(conf, err, errlen) == -1)
		goto fail;
	return conf;
fail:
	config_free(conf);
	return NULL;
}

/* The fixed options first, then one long option per keyword. */
static struct option *
build_longopts(void)
{
	static const struct option fixed[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
	};
	struct option	*o;
	size_t		 nfixed = sizeof(fixed) / sizeof(fixed[0]), i;

	o = xcalloc(nfixed + NKEYWORDS + 1, sizeof(*o));
	memcpy(o, fixed, sizeof(fixed));
	for (i = 0; i < NKEYWORDS; i++) {
		o[nfixed + i].name = keywords[i].name;
		o[nfixed + i].has_arg = required_argument;
		o[nfixed + i].val = OPT_KEYWORD_BASE + (int)i;
	}
	return o;
}

/*
 * Explains getopt's '?'.  glibc leaves optopt 0 for an unknown or ambiguous
 * long option, and sets it to the option for "--help=x" or an unknown "-x".
 */
static void
bad_option(int argc, char **argv, char *err, size_t errlen)
{
	const struct keyword	*k;
	const char		*arg = optind > 0 && optind <= argc ?
				    argv[optind - 1] : "";
	char			 name[80], s[80];

	if (optopt != 0 && strchr("nhV", optopt) != NULL &&
	    strncmp(arg, "--", 2) == 0) {
		strlcpy(name, arg + 2, sizeof(name));
		name[strcspn(name, "=")] = '\0';
		say(err, errlen, "option '--%s' takes no argument",
		    shown(name, s, sizeof(s)));
		return;
	}
	if (optopt != 0) {
		say(err, errlen, "unknown option '-%c'", optopt);
		return;
	}
	if (strncmp(arg, "--", 2) != 0) {
		say(err, errlen, "unknown option '%s'", shown(arg, s, sizeof(s)));
		return;
	}
	strlcpy(name, arg + 2, sizeof(name));
	name[strcspn(name, "=")] = '\0';
	if ((k = keyword_suggest(name)) != NULL)
		say(err, errlen, "unknown option '--%s' (did you mean '--%s'?)",
		    shown(name, s, sizeof(s)), k->name);
	else
		say(err, errlen, "unknown option '--%s' (see --help)",
		    shown(name, s, sizeof(s)));
}

static void
args_add(struct config_args *args, const char *key, const char *val)
{
	args->opt_keys = xreallocarray(args->opt_keys, (size_t)args->nopts + 1,
	    sizeof(char *));
	args->opt_vals = xreallocarray(args->opt_vals, (size_t)args->nopts + 1,
	    sizeof(char *));
	args->opt_keys[args->nopts] = xstrdup(key);
	args->opt_vals[args->nopts] = xstrdup(val);
	args->nopts++;
}

static int
handle_opt(struct config_args *args, int c, int argc, char **argv, char *err,
    size_t errlen)
{
	switch (c) {
	case 'f':
		args->file = optarg;
		return 0;
	case 'n':
		args->check_only = 1;
		return 0;
	case 'h':
		args->help = 1;
		return 0;
	case 'V':
		args->version = 1;
		return 0;
	case ':':
		if (optopt >= OPT_KEYWORD_BASE)
			say(err, errlen, "option --%s needs an argument (%s)",
			    keywords[optopt - OPT_KEYWORD_BASE].name,
			    keywords[optopt - OPT_KEYWORD_BASE].syntax);
		else
			say(err, errlen, "option -f/--config needs an "
			    "argument (FILE)");
		return -1;
	case '?':
		bad_option(argc, argv, err, errlen);
		return -1;
	}
	if (c >= OPT_KEYWORD_BASE && c < OPT_KEYWORD_BASE + (int)NKEYWORDS) {
		args_add(args, keywords[c - OPT_KEYWORD_BASE].name, optarg);
		return 0;
	}
	say(err, errlen, "unexpected option code %d", c);
	return -1;
}

int
config_parse_args(int argc, char **argv, struct config_args *args, char *err,
    size_t errlen)
{
	struct option	*longopts;
	char		 s[80];
	int		 c, rc = 0;

	memset(args, 0, sizeof(*args));
	longopts = build_longopts();
	/* 0, not 1: glibc then resets its state for repeated calls. */
	optind = 0;
	opterr = 0;
	/* '+': stop at the first operand; ':': report missing arguments. */
	while ((c = getopt_long(argc, argv, "+:f:nhV", longopts, NULL)) != -1) {
		if ((rc = handle_opt(args, c, argc, argv, err, errlen)) == -1)
			break;
	}
	if (rc == 0 && optind < argc) {
		say(err, errlen, "unexpected argument '%s'",
		    shown(argv[optind], s, sizeof(s)));
		rc = -1;
	}
	free(longopts);
	if (rc == -1) {
		config_args_free(args);
		memset(args, 0, sizeof(*args));
	}
	return rc;
}

void
config_args_free(struct config_args *args)
{
	int	i;

	if (args == NULL)
		return;
	for (i = 0; i < args->nopts; i++) {
		free(args->opt_keys[i]);
		free(args->opt_vals[i]);
	}
	free(args->opt_keys);
	free(args->opt_vals);
	args->opt_keys = args->opt_vals = NULL;
	args->nopts = 0;
}

void
config_usage(FILE *fp, const char *progname)
{
	char	opt[64];
	size_t	i;

	fprintf(fp,
	    "usage: %s [-hnV] [-f FILE] [--KEYWORD VALUE ...]\n"
	    "  -f, --config FILE   read FILE (default %s, if it exists)\n"
	    "  -n, --check         check the configuration and exit\n"
	    "  -h, --help          print this help and exit\n"
	    "  -V, --version       print the version and exit\n"
	    "\n"
	    "Keywords: in the file as 'keyword value', on the command line as\n"
	    "--keyword VALUE, in the environment as PIDCAR_KEYWORD=VALUE.\n"
	    "Precedence: option > environment > file > default.\n\n",
	    progname, CONFIG_DEFAULT_FILE);
	for (i = 0; i < NKEYWORDS; i++) {
		snprintf(opt, sizeof(opt), "--%s %s", keywords[i].name,
		    keywords[i].syntax);
		fprintf(fp, "  %-24s (default %s)\n      %s\n", opt,
		    keywords[i].def != NULL ? keywords[i].def : "none",
		    keywords[i].help);
	}
}
