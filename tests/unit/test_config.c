/* Unit tests for config.c: fixtures, precedence, durations, quoting, argv and --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "xmalloc.h"

#define FIX	"tests/data/config/"
#define EXAMPLE	"config/pidcar.conf"

static const char *const all_keywords[] = {
	"cmdline", "listen", "log_level", "max_connections", "poll_interval",
	"refresh_age", "scan_interval", "target",
};
#define NALL	(sizeof(all_keywords) / sizeof(all_keywords[0]))

static int
near(double a, double b)
{
	return a - b < 1e-9 && b - a < 1e-9;
}

static void
expect_contains(const char *s, const char *needle, const char *ctx)
{
	if (s == NULL || strstr(s, needle) == NULL) {
		print_error("%s: '%s' does not contain '%s'\n", ctx,
		    s == NULL ? "(null)" : s, needle);
		fail();
	}
}

/* Table rows fail with the row named, so the loops need not print as they go. */
#define EXPECT_STR(ctx, got, want) do {					\
	if ((got) == NULL || strcmp((got), (want)) != 0) {		\
		print_error("%s: %s is '%s', want '%s'\n", (ctx), #got,	\
		    (got) == NULL ? "(null)" : (got), (want));		\
		fail();							\
	}								\
} while (0)
#define EXPECT_INT(ctx, got, want) do {					\
	if ((long long)(got) != (long long)(want)) {			\
		print_error("%s: %s is %lld, want %lld\n", (ctx), #got,	\
		    (long long)(got), (long long)(want));		\
		fail();							\
	}								\
} while (0)
#define EXPECT_NEAR(ctx, got, want) do {				\
	if (!near((got), (want))) {					\
		print_error("%s: %s is %g, want %g\n", (ctx), #got,	\
		    (double)(got), (double)(want));			\
		fail();							\
	}								\
} while (0)

static struct config *
build(const char *file, char *const *envp, char *err, size_t errlen)
{
	struct config_args	args;

	memset(&args, 0, sizeof(args));
	args.file = file;
	return config_build(&args, envp, err, errlen);
}

static struct config *
parse_text(const char *text, char *err, size_t errlen)
{
	struct config	*conf = config_defaults();

	if (config_parse_buffer(conf, "t.conf", text, strlen(text), err,
	    errlen) == -1) {
		config_free(conf);
		return NULL;
	}
	return conf;
}

static void
test_defaults(void **state)
{
	struct config	*conf = config_defaults();

	(void)state;
	assert_null(conf->file);
	assert_string_equal(conf->listen, "127.0.0.1:9723");
	assert_string_equal(conf->listen_host, "127.0.0.1");
	assert_int_equal(conf->listen_port, 9723);
	assert_string_equal(conf->target, "self");
	assert_int_equal(conf->log_level, LOG_LVL_INFO);
	assert_true(near(conf->poll_interval, 0.05));
	assert_true(near(conf->scan_interval, 10));
	assert_true(near(conf->refresh_age, 1));
	assert_int_equal(conf->cmdline, 1);
	assert_int_equal(conf->max_connections, 64);
	assert_int_equal(conf->max_connections_per_ip, 32);
	assert_true(near(conf->connection_timeout, 30));
	assert_null(conf->auth_token.path);
	assert_null(conf->metrics_token.path);
	assert_null(conf->tls_cert.path);
	assert_null(conf->tls_key.path);
	config_free(conf);
	config_free(NULL);
}

/* A token file: read whole, one trailing newline dropped, "none" clears it. */
static void
test_token_file(void **state)
{
	struct config	*conf = config_defaults();
	char		 err[512], path[] = "/tmp/pidcar-test-token-XXXXXX";
	int		 fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, "abcdefghijklmnop=\n", 18), 18);
	close(fd);
	assert_int_equal(config_set(conf, "t", "auth_token_file", path, err,
	    sizeof(err)), 0);
	assert_string_equal(conf->auth_token.path, path);
	assert_string_equal(conf->auth_token.data, "abcdefghijklmnop=");
	assert_int_equal(conf->auth_token.len, 17);
	assert_int_equal(config_set(conf, "t", "auth_token_file", "none", err,
	    sizeof(err)), 0);
	assert_null(conf->auth_token.path);
	assert_null(conf->auth_token.data);
	assert_int_equal(config_set(conf, "t", "metrics_token_file",
	    "/nonexistent/x", err, sizeof(err)), -1);
	expect_contains(err, "t: metrics_token_file: /nonexistent/x: No such "
	    "file or directory", "token");
	assert_int_equal(config_set(conf, "t", "tls_key", path, err,
	    sizeof(err)), -1);
	expect_contains(err, "no PEM private key", "tls_key");
	unlink(path);
	config_free(conf);
}

struct good {
	const char	*file;
	const char	*listen, *host;
	int		 port;
	enum log_level	 level;
	double		 poll, scan, refresh;
	int		 cmdline, maxconn;
};

static const struct good goods[] = {
	{ "full.conf", "0.0.0.0:8080", "0.0.0.0", 8080, LOG_LVL_DEBUG,
	    0.25, 60, 1.5, 0, 500 },
	{ "empty.conf", "127.0.0.1:9723", "127.0.0.1", 9723, LOG_LVL_INFO,
	    0.05, 10, 1, 1, 64 },
	{ "comments.conf", "127.0.0.1:9723", "127.0.0.1", 9723, LOG_LVL_INFO,
	    0.05, 10, 1, 1, 64 },
	{ "whitespace.conf", "10.1.2.3:9000", "10.1.2.3", 9000,
	    LOG_LVL_WARNING, 0.05, 10, 1, 1, 1 },
	{ "duplicate.conf", "127.0.0.1:2000", "127.0.0.1", 2000, LOG_LVL_INFO,
	    2, 10, 1, 1, 64 },
	{ "ipv6.conf", "[::1]:9723", "::1", 9723, LOG_LVL_INFO,
	    0.05, 10, 1, 1, 64 },
	{ "ipv6_any.conf", "[::]:65535", "::", 65535, LOG_LVL_INFO,
	    0.05, 10, 1, 1, 64 },
	{ "localhost.conf", "localhost:1", "127.0.0.1", 1, LOG_LVL_INFO,
	    0.05, 10, 1, 1, 64 },
	{ "quoted.conf", "0.0.0.0:9723", "0.0.0.0", 9723, LOG_LVL_ERROR,
	    0.001, 0.1, 0, 1, 64 },
	{ "edges.conf", "127.0.0.1:9723", "127.0.0.1", 9723, LOG_LVL_INFO,
	    10, 3600, 3600, 1, 10000 },
	{ "bare_seconds.conf", "127.0.0.1:9723", "127.0.0.1", 9723,
	    LOG_LVL_INFO, 0.5, 30, 0, 1, 64 },
};

static void
test_good_fixtures(void **state)
{
	struct config	*conf;
	char		 path[256], err[512];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];

		snprintf(path, sizeof(path), FIX "%s", g->file);
		if ((conf = build(path, NULL, err, sizeof(err))) == NULL) {
			print_error("%s: %s\n", path, err);
			fail();
		}
		EXPECT_STR(path, conf->file, path);
		EXPECT_STR(path, conf->listen, g->listen);
		EXPECT_STR(path, conf->listen_host, g->host);
		EXPECT_INT(path, conf->listen_port, g->port);
		EXPECT_STR(path, conf->target, "self");
		EXPECT_INT(path, conf->log_level, g->level);
		EXPECT_NEAR(path, conf->poll_interval, g->poll);
		EXPECT_NEAR(path, conf->scan_interval, g->scan);
		EXPECT_NEAR(path, conf->refresh_age, g->refresh);
		EXPECT_INT(path, conf->cmdline, g->cmdline);
		EXPECT_INT(path, conf->max_connections, g->maxconn);
		config_free(conf);
	}
}

struct bad {
	const char	*file;
	int		 line;
	const char	*keyword;	/* NULL: an error about the line itself */
	const char	*what;		/* part of the message after "file:line: " */
};

static const struct bad bads[] = {
	{ "bad_port.conf", 3, "listen", "port 70000 out of range" },
	{ "bad_port_zero.conf", 2, "listen", "port 0 out of range" },
	{ "bad_port_word.conf", 3, "listen", "port 'http' is not a number" },
	{ "bad_port_missing.conf", 2, "listen", "missing ':PORT'" },
	{ "bad_port_empty.conf", 2, "listen", "missing port after ':'" },
	{ "bad_addr.conf", 2, "listen", "'300.1.2.3' is not an IPv4 address" },
	{ "bad_addr_name.conf", 1, "listen",
	    "'example.com' is not an IPv4 address" },
	{ "bad_ipv6_unbracketed.conf", 3, "listen",
	    "IPv6 address needs brackets" },
	{ "bad_ipv6_addr.conf", 1, "listen", "'::g' is not an IPv6 address" },
	{ "bad_unknown.conf", 3, NULL,
	    "unknown keyword 'lisen' (did you mean 'listen'?)" },
	{ "bad_unknown_far.conf", 1, NULL, "unknown keyword 'frobnicate' "
	    "(accepted: auth_token_file, cmdline, connection_timeout, "
	    "events_buffer, group, group_by_comm, listen, log_level, main, "
	    "max_connections, max_connections_per_ip, max_groups, max_streams, "
	    "metrics_token_file, per_process_limit, per_process_metrics, "
	    "poll_interval, redact, redact_defaults, refresh_age, scan_interval, "
	    "target, tls_cert, tls_key, user)" },
	{ "bad_missing_value.conf", 2, "poll_interval", "missing value" },
	{ "bad_extra_words.conf", 2, "listen",
	    "extra word '0.0.0.0:9723' after the value" },
	{ "bad_target.conf", 2, "target",
	    "'pid:12abc': bad PID (a decimal from 1 to 4194304) (accepted: self, "
	    "pid:N, ns:PATH, cgroup:PATH or container:NAME)" },
	{ "bad_log_level.conf", 1, "log_level", "unknown level 'verbose' "
	    "(accepted: error, warning, info, debug)" },
	{ "bad_duration.conf", 2, "poll_interval",
	    "'5parsecs' is not a duration" },
	{ "bad_duration_negative.conf", 1, "refresh_age",
	    "'-1s' is not a duration" },
	{ "bad_duration_space.conf", 1, "scan_interval", "extra word 's'" },
	{ "bad_poll_range.conf", 2, "poll_interval",
	    "20s out of range (accepted: DURATION 1ms-10s" },
	{ "bad_poll_zero.conf", 1, "poll_interval", "0 out of range" },
	{ "bad_scan_range.conf", 1, "scan_interval",
	    "10ms out of range (accepted: DURATION 100ms-1h" },
	{ "bad_refresh_range.conf", 2, "refresh_age",
	    "2h out of range (accepted: DURATION 0-1h" },
	{ "bad_cmdline.conf", 1, "cmdline",
	    "'maybe' is neither yes nor no (accepted: yes, no)" },
	{ "bad_max_zero.conf", 1, "max_connections",
	    "0 out of range (accepted: an integer 1-10000)" },
	{ "bad_max_big.conf", 2, "max_connections", "10001 out of range" },
	{ "bad_max_word.conf", 1, "max_connections",
	    "'lots' is not a number" },
	{ "bad_quote_open.conf", 2, "listen", "unterminated quoted value" },
	{ "bad_quote_after.conf", 1, "listen",
	    "unexpected 'x' after closing quote" },
	{ "bad_quote_empty.conf", 2, "target", "missing value" },
	{ "bad_first_error.conf", 2, "cmdline", "'perhaps'" },
	{ "bad_long_line.conf", 2, NULL, "line longer than 4096 bytes" },
	{ "bad_nul.conf", 4, NULL, "NUL byte in line" },
};

static void
test_bad_fixtures(void **state)
{
	struct config	*conf;
	char		 path[256], want[512], err[1024];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];

		snprintf(path, sizeof(path), FIX "%s", b->file);
		err[0] = '\0';
		conf = build(path, NULL, err, sizeof(err));
		if (conf != NULL) {
			print_error("%s: parsed, expected an error\n", path);
			config_free(conf);
			fail();
		}
		if (b->keyword != NULL)
			snprintf(want, sizeof(want), "%s:%d: %s: %s", path,
			    b->line, b->keyword, b->what);
		else
			snprintf(want, sizeof(want), "%s:%d: %s", path,
			    b->line, b->what);
		if (strncmp(err, want, strlen(want)) != 0) {
			print_error("%s:\n  got  '%s'\n  want '%s...'\n", path,
			    err, want);
			fail();
		}
	}
}

static void
test_exact_messages(void **state)
{
	struct config	*conf;
	char		 err[512];

	(void)state;
	conf = build(FIX "bad_port.conf", NULL, err, sizeof(err));
	assert_null(conf);
	assert_string_equal(err, FIX "bad_port.conf:3: listen: port 70000 out "
	    "of range (accepted: ADDR:PORT, port 1-65535)");
	conf = build(FIX "bad_unknown.conf", NULL, err, sizeof(err));
	assert_null(conf);
	assert_string_equal(err, FIX "bad_unknown.conf:3: unknown keyword "
	    "'lisen' (did you mean 'listen'?)");
	conf = build(FIX "nonexistent.conf", NULL, err, sizeof(err));
	assert_null(conf);
	assert_string_equal(err, FIX "nonexistent.conf: No such file or "
	    "directory");
	conf = build("tests/data/config", NULL, err, sizeof(err));
	assert_null(conf);
	assert_string_equal(err, "tests/data/config: Is a directory");
}

/* Returns the file's text with "#keyword" lines uncommented (caller frees). */
static char *
uncomment_defaults(const char *path, size_t *len)
{
	FILE		*fp;
	struct buf	 b;
	char		 line[1024];

	assert_non_null(fp = fopen(path, "r"));
	buf_init(&b, 0);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z')
			buf_puts(&b, line + 1);
		else
			buf_puts(&b, line);
	}
	fclose(fp);
	return buf_release(&b, len);
}

static void
assert_same_config(const struct config *a, const struct config *b)
{
	assert_string_equal(a->listen, b->listen);
	assert_string_equal(a->listen_host, b->listen_host);
	assert_int_equal(a->listen_port, b->listen_port);
	assert_string_equal(a->target, b->target);
	assert_int_equal(a->log_level, b->log_level);
	assert_true(near(a->poll_interval, b->poll_interval));
	assert_true(near(a->scan_interval, b->scan_interval));
	assert_true(near(a->refresh_age, b->refresh_age));
	assert_int_equal(a->cmdline, b->cmdline);
	assert_int_equal(a->max_connections, b->max_connections);
}

/* The example parses, and the defaults it shows commented out are the real ones. */
static void
test_example(void **state)
{
	struct config	*conf, *def, *unc;
	char		 err[512], *text, pat[64];
	size_t		 len, i;

	(void)state;
	conf = build(EXAMPLE, NULL, err, sizeof(err));
	if (conf == NULL) {
		print_error("%s\n", err);
		fail();
	}
	assert_string_equal(conf->file, EXAMPLE);
	assert_string_equal(conf->listen, "127.0.0.1:9723");
	assert_string_equal(conf->target, "self");
	def = config_defaults();
	assert_same_config(conf, def);

	text = uncomment_defaults(EXAMPLE, &len);
	for (i = 0; i < NALL; i++) {
		snprintf(pat, sizeof(pat), "\n%s ", all_keywords[i]);
		expect_contains(text, pat, "example, uncommented");
	}
	unc = config_defaults();
	if (config_parse_buffer(unc, EXAMPLE, text, len, err,
	    sizeof(err)) == -1) {
		print_error("%s\n", err);
		fail();
	}
	assert_same_config(unc, def);
	free(text);
	config_free(unc);
	config_free(def);
	config_free(conf);
}

static void
test_precedence(void **state)
{
	char *const	 env[] = { "HOME=/root", "PIDCAR_LISTEN=127.0.0.2:2",
			    "PIDCAR_LOG_LEVEL=error", NULL };
	char		*argv[] = { "pidcar", "-f", FIX "full.conf",
			    "--listen", "127.0.0.3:3", NULL };
	struct config_args	 args;
	struct config		*conf;
	char			 err[512];

	(void)state;
	/* default < file */
	assert_non_null(conf = build(FIX "full.conf", NULL, err, sizeof(err)));
	assert_string_equal(conf->listen, "0.0.0.0:8080");
	assert_int_equal(conf->log_level, LOG_LVL_DEBUG);
	config_free(conf);
	/* file < environment; keywords the environment lacks keep the file's */
	assert_non_null(conf = build(FIX "full.conf", env, err, sizeof(err)));
	assert_string_equal(conf->listen, "127.0.0.2:2");
	assert_int_equal(conf->listen_port, 2);
	assert_int_equal(conf->log_level, LOG_LVL_ERROR);
	assert_int_equal(conf->max_connections, 500);
	config_free(conf);
	/* environment < option */
	assert_int_equal(config_parse_args(5, argv, &args, err, sizeof(err)), 0);
	assert_non_null(conf = config_build(&args, env, err, sizeof(err)));
	assert_string_equal(conf->listen, "127.0.0.3:3");
	assert_string_equal(conf->listen_host, "127.0.0.3");
	assert_int_equal(conf->log_level, LOG_LVL_ERROR);
	assert_int_equal(conf->cmdline, 0);
	assert_string_equal(conf->file, FIX "full.conf");
	config_free(conf);
	config_args_free(&args);
}

/* Options apply in argv order: the last one wins. */
static void
test_option_order(void **state)
{
	char	*argv[] = { "pidcar", "-f", FIX "empty.conf", "--listen",
		    "127.0.0.1:1", "--listen=127.0.0.1:2", "--max_connections",
		    "7", NULL };
	struct config_args	 args;
	struct config		*conf;
	char			 err[512];

	(void)state;
	assert_int_equal(config_parse_args(8, argv, &args, err, sizeof(err)), 0);
	assert_int_equal(args.nopts, 3);
	assert_non_null(conf = config_build(&args, NULL, err, sizeof(err)));
	assert_int_equal(conf->listen_port, 2);
	assert_int_equal(conf->max_connections, 7);
	config_free(conf);
	config_args_free(&args);
}

static void
test_env(void **state)
{
	char *const	 bad[] = { "PIDCAR_LISTEN=127.0.0.1:0", NULL };
	char *const	 empty[] = { "PIDCAR_TARGET=", NULL };
	char *const	 unknown[] = { "PIDCAR_BIN=/usr/bin/pidcar",
			    "PIDCAR_LISTN=1.2.3.4:5", "PIDCAR_listen=1.2.3.4:5",
			    "PIDCARLISTEN=1.2.3.4:5", "PIDCAR_CMDLINE=no", NULL };
	struct config	*conf;
	char		 err[512];
	unsigned long	 warned;

	(void)state;
	assert_null(build(FIX "empty.conf", bad, err, sizeof(err)));
	assert_string_equal(err, "environment PIDCAR_LISTEN: listen: port 0 out "
	    "of range (accepted: ADDR:PORT, port 1-65535)");
	assert_null(build(FIX "empty.conf", empty, err, sizeof(err)));
	assert_string_equal(err, "environment PIDCAR_TARGET: target: missing "
	    "value (accepted: self, pid:N, ns:PATH, cgroup:PATH or container:NAME)");
	/* Names that are no keyword are warned about, one each, and ignored. */
	warned = log_warnings();
	assert_non_null(conf = build(FIX "empty.conf", unknown, err,
	    sizeof(err)));
	assert_int_equal(log_warnings() - warned, 3);
	assert_string_equal(conf->listen, "127.0.0.1:9723");
	assert_int_equal(conf->cmdline, 0);
	config_free(conf);
}

static void
test_option_errors(void **state)
{
	char	*argv[] = { "pidcar", "-f", FIX "full.conf",
		    "--max_connections", "0", NULL };
	char	*argv2[] = { "pidcar", "--target", "host", NULL };
	struct config_args	 args;
	char			 err[512];

	(void)state;
	/* A bad value passes argv parsing and fails in config_build. */
	assert_int_equal(config_parse_args(5, argv, &args, err, sizeof(err)), 0);
	assert_null(config_build(&args, NULL, err, sizeof(err)));
	assert_string_equal(err, "option --max_connections: max_connections: "
	    "0 out of range (accepted: an integer 1-10000)");
	config_args_free(&args);
	assert_int_equal(config_parse_args(3, argv2, &args, err, sizeof(err)),
	    0);
	args.file = FIX "empty.conf";
	assert_null(config_build(&args, NULL, err, sizeof(err)));
	assert_string_equal(err, "option --target: target: 'host' is not a "
	    "target (accepted: self, pid:N, ns:PATH, cgroup:PATH or container:NAME)");
	config_args_free(&args);
}

struct argcase {
	const char	*argv[8];
	int		 rc;
	const char	*file;
	int		 check, help, version, nopts;
	const char	*last_key, *last_val;
	const char	*err;
};

static const struct argcase argcases[] = {
	{ { "pidcar" }, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
	{ { "pidcar", "-f", "a.conf", "-n" }, 0, "a.conf", 1, 0, 0, 0,
	    NULL, NULL, NULL },
	{ { "pidcar", "--config=b.conf", "--check", "--help", "--version" }, 0,
	    "b.conf", 1, 1, 1, 0, NULL, NULL, NULL },
	{ { "pidcar", "-nhV", "-fc.conf" }, 0, "c.conf", 1, 1, 1, 0, NULL, NULL,
	    NULL },
	{ { "pidcar", "--listen", "0.0.0.0:1", "--cmdline=no" }, 0, NULL, 0, 0,
	    0, 2, "cmdline", "no", NULL },
	{ { "pidcar", "--listen", "garbage" }, 0, NULL, 0, 0, 0, 1, "listen",
	    "garbage", NULL },
	{ { "pidcar", "--lisen", "x" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "unknown option '--lisen' (did you mean '--listen'?)" },
	{ { "pidcar", "--bogus" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "unknown option '--bogus' (see --help)" },
	{ { "pidcar", "-x" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "unknown option '-x'" },
	{ { "pidcar", "--check", "-nx" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "unknown option '-x'" },
	{ { "pidcar", "--help=yes" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "option '--help' takes no argument" },
	{ { "pidcar", "--listen" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "option --listen needs an argument (ADDR:PORT)" },
	{ { "pidcar", "-n", "-f" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "option -f/--config needs an argument (FILE)" },
	{ { "pidcar", "--config" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "option -f/--config needs an argument (FILE)" },
	/* An error mid-cluster, then a clean argv: no state may leak over. */
	{ { "pidcar", "-xn" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "unknown option '-x'" },
	{ { "pidcar", "--target", "self" }, 0, NULL, 0, 0, 0, 1, "target",
	    "self", NULL },
	{ { "pidcar", "-n", "extra" }, -1, NULL, 0, 0, 0, 0, NULL, NULL,
	    "unexpected argument 'extra'" },
	{ { "pidcar", "--listen", "1.2.3.4:5", "extra", "-n" }, -1, NULL, 0, 0,
	    0, 0, NULL, NULL, "unexpected argument 'extra'" },
};

static void
test_parse_args(void **state)
{
	struct config_args	 args;
	char			*argv[8], err[512], ctx[64];
	size_t			 i;
	int			 argc, rc;

	(void)state;
	for (i = 0; i < sizeof(argcases) / sizeof(argcases[0]); i++) {
		const struct argcase *c = &argcases[i];

		for (argc = 0; c->argv[argc] != NULL; argc++)
			argv[argc] = (char *)c->argv[argc];
		argv[argc] = NULL;
		err[0] = '\0';
		rc = config_parse_args(argc, argv, &args, err, sizeof(err));
		snprintf(ctx, sizeof(ctx), "args case %zu (%s)", i,
		    argc > 1 ? argv[1] : "");
		EXPECT_INT(ctx, rc, c->rc);
		if (c->rc == -1) {
			EXPECT_STR(ctx, err, c->err);
			EXPECT_INT(ctx, args.nopts, 0);
			assert_null(args.opt_keys);
			continue;
		}
		if (c->file == NULL)
			assert_null(args.file);
		else
			EXPECT_STR(ctx, args.file, c->file);
		EXPECT_INT(ctx, args.check_only, c->check);
		EXPECT_INT(ctx, args.help, c->help);
		EXPECT_INT(ctx, args.version, c->version);
		EXPECT_INT(ctx, args.nopts, c->nopts);
		if (c->nopts > 0) {
			EXPECT_STR(ctx, args.opt_keys[c->nopts - 1],
			    c->last_key);
			EXPECT_STR(ctx, args.opt_vals[c->nopts - 1],
			    c->last_val);
		}
		config_args_free(&args);
	}
}

struct durcase {
	const char	*s;
	int		 rc;
	double		 seconds;
};

static const struct durcase durcases[] = {
	{ "50ms", 0, 0.05 }, { "2s", 0, 2 }, { "1.5s", 0, 1.5 },
	{ "1m", 0, 60 }, { "1h", 0, 3600 }, { "1.5", 0, 1.5 }, { "0", 0, 0 },
	{ "10", 0, 10 }, { "0.25m", 0, 15 }, { "1.5ms", 0, 0.0015 },
	{ "007s", 0, 7 }, { "0.0000000001s", 0, 0 },
	{ "", -1, 0 }, { "s", -1, 0 }, { "ms", -1, 0 }, { "-1s", -1, 0 },
	{ "+1s", -1, 0 }, { "1.", -1, 0 }, { ".5s", -1, 0 }, { "1 s", -1, 0 },
	{ " 1s", -1, 0 }, { "1sec", -1, 0 }, { "1d", -1, 0 }, { "1e3", -1, 0 },
	{ "0x10", -1, 0 }, { "inf", -1, 0 }, { "nan", -1, 0 },
	{ "1.2.3s", -1, 0 }, { "99999999999999999999h", -1, 0 },
};

static void
test_durations(void **state)
{
	double	v;
	size_t	i;
	int	rc;

	(void)state;
	for (i = 0; i < sizeof(durcases) / sizeof(durcases[0]); i++) {
		v = -42;
		rc = config_parse_duration(durcases[i].s, &v);
		if (rc != durcases[i].rc ||
		    (rc == 0 && !near(v, durcases[i].seconds))) {
			print_error("duration '%s': rc %d value %g\n",
			    durcases[i].s, rc, v);
			fail();
		}
	}
	assert_int_equal(config_parse_duration(NULL, &v), -1);
}

struct textcase {
	const char	*text;
	const char	*err;		/* NULL: parses */
};

static const struct textcase textcases[] = {
	{ "listen \"127.0.0.1:80\" # c\n", NULL },
	{ "listen \"127.0.0.1:80\"#c", NULL },
	{ "\n\n  listen 127.0.0.1:80\t#c\r\n", NULL },
	{ "listen \"a b\"", "t.conf:1: listen: missing ':PORT' in 'a b'" },
	{ "listen \"#1.2.3.4:5\"", "t.conf:1: listen: '#1.2.3.4' is not an IPv4" },
	{ "log_level \"de\\\"bug\"", "t.conf:1: log_level: unknown level 'de\"bug'" },
	{ "log_level \"de\\\\bug\"", "t.conf:1: log_level: unknown level 'de\\bug'" },
	{ "log_level \"\\debug\"", "t.conf:1: log_level: unknown level '\\debug'" },
	{ "log_level \"debug\\\"", "t.conf:1: log_level: unterminated quoted value" },
	{ "target \"se\nlf\"", "t.conf:1: target: unterminated quoted value" },
	{ "\"listen\" 127.0.0.1:80\nlog_level", "t.conf:2: log_level: missing value" },
	{ "listen 127.0.0.1:80 \"\"", "t.conf:1: listen: extra word '' after" },
	{ "Listen 127.0.0.1:80", "t.conf:1: unknown keyword 'Listen' (did you mean 'listen'?)" },
	{ "# ok\nlog_level\tinfo\n\n\ttarget\t\"self\"\n  max_connections 0x10",
	    "t.conf:5: max_connections: '0x10' is not a number" },
	{ "cmdline \"yes\"\"no\"", "t.conf:1: cmdline: unexpected '\"' after closing quote" },
};

static void
test_quoting_and_lines(void **state)
{
	struct config	*conf;
	char		 err[512], ctx[32];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(textcases) / sizeof(textcases[0]); i++) {
		err[0] = '\0';
		conf = parse_text(textcases[i].text, err, sizeof(err));
		snprintf(ctx, sizeof(ctx), "text case %zu", i);
		if (textcases[i].err == NULL) {
			if (conf == NULL) {
				print_error("%s: %s\n", ctx, err);
				fail();
			}
			EXPECT_INT(ctx, conf->listen_port, 80);
		} else {
			if (conf != NULL) {
				print_error("%s: parsed, expected an error\n", ctx);
				config_free(conf);
				fail();
			}
			expect_contains(err, textcases[i].err, ctx);
		}
		config_free(conf);
	}
}

/* 4096 bytes is the longest line; a NUL anywhere is refused. */
static void
test_line_limits(void **state)
{
	struct config	*conf = config_defaults();
	char		 text[4200], err[512];

	(void)state;
	memset(text, ' ', sizeof(text));
	memcpy(text, "cmdline no", 10);
	text[4096] = '\n';
	memcpy(text + 4097, "log_level debug\n", 16);
	assert_int_equal(config_parse_buffer(conf, "t", text, 4097 + 16, err,
	    sizeof(err)), 0);
	assert_int_equal(conf->cmdline, 0);
	assert_int_equal(conf->log_level, LOG_LVL_DEBUG);
	text[4096] = ' ';
	text[4097] = '\n';
	assert_int_equal(config_parse_buffer(conf, "t", text, 4098, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "t:1: line longer than 4096 bytes");
	assert_int_equal(config_parse_buffer(conf, "t", "\n\ntarget self\0",
	    14, err, sizeof(err)), -1);
	assert_string_equal(err, "t:3: NUL byte in line");
	config_free(conf);
}

static void
test_config_set(void **state)
{
	struct config	*conf = config_defaults();
	char		 err[512];

	(void)state;
	assert_int_equal(config_set(conf, "here", "listen", "[::1]:1", err,
	    sizeof(err)), 0);
	assert_string_equal(conf->listen_host, "::1");
	assert_int_equal(config_set(conf, "here", "nope", "1", err,
	    sizeof(err)), -1);
	expect_contains(err, "here: unknown keyword 'nope' (accepted: "
	    "auth_token_file, cmdline, ", "config_set");
	/* A failed set leaves the old value in place. */
	assert_int_equal(config_set(conf, "here", "listen", "[::1]:0", err,
	    sizeof(err)), -1);
	assert_string_equal(conf->listen, "[::1]:1");
	assert_int_equal(conf->listen_port, 1);
	assert_int_equal(config_set(conf, "here", "poll_interval", "11s", err,
	    sizeof(err)), -1);
	assert_true(near(conf->poll_interval, 0.05));
	/* Control bytes in a bad value are not echoed raw. */
	assert_int_equal(config_set(conf, "here", "target", "a\033[2Jb", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "here: target: 'a?[2Jb' is not a target "
	    "(accepted: self, pid:N, ns:PATH, cgroup:PATH or container:NAME)");
	config_free(conf);
}

static void
test_default_file(void **state)
{
	struct config	*conf;
	char		 err[512];

	(void)state;
	if (access(CONFIG_DEFAULT_FILE, F_OK) == 0)
		skip();
	assert_non_null(conf = build(NULL, NULL, err, sizeof(err)));
	assert_null(conf->file);
	assert_string_equal(conf->listen, "127.0.0.1:9723");
	config_free(conf);
}

static void
test_usage(void **state)
{
	const char *const	 syntax[] = { "--cmdline yes|no",
				    "--listen ADDR:PORT",
				    "--log_level error|warning|info|debug",
				    "--max_connections N",
				    "--poll_interval DURATION",
				    "--refresh_age DURATION",
				    "--scan_interval DURATION", "--target SPEC" };
	const char *const	 defaults[] = { "(default yes)",
				    "(default 127.0.0.1:9723)", "(default info)",
				    "(default 64)", "(default 50ms)",
				    "(default 1s)", "(default 10s)",
				    "(default self)" };
	char			*text = NULL;
	size_t			 len = 0, i;
	FILE			*fp;

	(void)state;
	assert_non_null(fp = open_memstream(&text, &len));
	config_usage(fp, "pidcar");
	fclose(fp);
	expect_contains(text, "usage: pidcar ", "usage");
	expect_contains(text, "-f, --config FILE", "usage");
	expect_contains(text, "-n, --check", "usage");
	expect_contains(text, "-h, --help", "usage");
	expect_contains(text, "-V, --version", "usage");
	expect_contains(text, "PIDCAR_", "usage");
	for (i = 0; i < NALL; i++) {
		const char *line = strstr(text, syntax[i]);

		expect_contains(line, all_keywords[i], "usage");
		expect_contains(line, defaults[i], "usage");
		assert_true(strstr(line, defaults[i]) < strchr(line, '\n'));
	}
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_good_fixtures),
		cmocka_unit_test(test_bad_fixtures),
		cmocka_unit_test(test_exact_messages),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_option_order),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_parse_args),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_quoting_and_lines),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_config_set),
		cmocka_unit_test(test_default_file),
		cmocka_unit_test(test_usage),
	};

	/* The environment tests warn on purpose; keep the output readable. */
	log_init(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
