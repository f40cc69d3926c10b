/*
 * redact: each built-in rule, configured rules, rule errors, and hostile
 * command lines (long, many arguments, no final NUL, non-UTF-8).  Inputs are
 * NUL-separated argv as /proc/PID/cmdline gives them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "config.h"
#include "redact.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
/* A literal with its embedded NULs, and its length without the C terminator. */
#define A(s)		s, sizeof(s) - 1

struct rcase {
	const char	*in;
	size_t		 inlen;
	const char	*want;
	size_t		 wantlen;
};

/* Shows a NUL-separated buffer readably in a failure message. */
static const char *
show(const char *b, size_t n, char *out, size_t outlen)
{
	size_t	i, j = 0;

	for (i = 0; i < n && j + 5 < outlen; i++) {
		unsigned char	c = (unsigned char)b[i];

		if (c == '\0')
			j += (size_t)snprintf(out + j, outlen - j, "\\0");
		else if (c < 0x20 || c >= 0x7f)
			j += (size_t)snprintf(out + j, outlen - j, "\\x%02x", c);
		else
			out[j++] = (char)c;
	}
	out[j] = '\0';
	return out;
}

static void
check(const struct redact *r, const char *in, size_t inlen, const char *want,
    size_t wantlen)
{
	char	*got, a[512], b[512], c[512];
	size_t	 gotlen = 12345;

	got = redact_apply(r, in, inlen, &gotlen);
	assert_non_null(got);
	if (gotlen != wantlen || memcmp(got, want, wantlen) != 0)
		fail_msg("redact(%s)\n  got  %s\n  want %s",
		    show(in, inlen, a, sizeof(a)), show(got, gotlen, b, sizeof(b)),
		    show(want, wantlen, c, sizeof(c)));
	assert_int_equal(got[gotlen], '\0');
	free(got);
}

/* The built-in rules, one or more cases each, and what they must leave alone. */
static const struct rcase builtin_cases[] = {
	/* --password=… and --password … (the next argument) */
	{ A("app\0--password=hunter2\0"), A("app\0--password=***\0") },
	{ A("app\0--password\0hunter2\0-v\0"), A("app\0--password\0***\0-v\0") },
	{ A("app\0-password\0hunter2\0"), A("app\0-password\0***\0") },
	{ A("app\0--PASSWORD=hunter2\0"), A("app\0--PASSWORD=***\0") },
	{ A("app\0--passwd=hunter2\0"), A("app\0--passwd=***\0") },
	{ A("app\0--db-password\0hunter2\0"), A("app\0--db-password\0***\0") },
	{ A("app\0--dbPassword=hunter2\0"), A("app\0--dbPassword=***\0") },
	{ A("app\0--password=my secret\0x\0"), A("app\0--password=***\0x\0") },
	{ A("app\0--password=ab\ncd\0"), A("app\0--password=***\0") },
	{ A("app\0--password=\0next\0"), A("app\0--password=\0next\0") },
	{ A("app\0--password\0--verbose\0"), A("app\0--password\0--verbose\0") },
	{ A("app\0--password\0-dash-start\0"), A("app\0--password\0***\0") },
	{ A("app\0--password\0"), A("app\0--password\0") },
	{ A("app\0--password-file\0/run/pw\0"), A("app\0--password-file\0/run/pw\0") },
	{ A("app\0--password-stdin\0-u\0me\0"), A("app\0--password-stdin\0-u\0me\0") },
	{ A("app\0--password-file=/run/pw\0"), A("app\0--password-file=***\0") },
	/* --token, --secret… */
	{ A("app\0--token\0abc\0"), A("app\0--token\0***\0") },
	{ A("app\0--token=abc\0"), A("app\0--token=***\0") },
	{ A("app\0-token=abc\0"), A("app\0-token=***\0") },
	{ A("app\0--auth-token\0abc\0"), A("app\0--auth-token\0***\0") },
	{ A("app\0--secret=abc\0"), A("app\0--secret=***\0") },
	{ A("app\0--secret\0abc\0"), A("app\0--secret\0***\0") },
	{ A("app\0--secret-key\0abc\0"), A("app\0--secret-key\0***\0") },
	{ A("app\0--secret_key=abc\0"), A("app\0--secret_key=***\0") },
	{ A("app\0--client-secret\0abc\0"), A("app\0--client-secret\0***\0") },
	{ A("app\0--api-key\0abc\0"), A("app\0--api-key\0***\0") },
	{ A("app\0--apiKey=abc\0"), A("app\0--apiKey=***\0") },
	{ A("app\0--access-key=abc\0"), A("app\0--access-key=***\0") },
	{ A("openssl\0enc\0-pass\0pass:hunter2\0"), A("openssl\0enc\0-pass\0***\0") },
	{ A("java\0-Dspring.datasource.password=hunter2\0-jar\0a.jar\0"),
	  A("java\0-Dspring.datasource.password=***\0-jar\0a.jar\0") },
	/* -pSECRET after mysql-like clients */
	{ A("mysql\0-uroot\0-phunter2\0db\0"), A("mysql\0-uroot\0-p***\0db\0") },
	{ A("/usr/bin/mysqldump\0-phunter2\0db\0"), A("/usr/bin/mysqldump\0-p***\0db\0") },
	{ A("mariadb\0-P3306\0-phunter2\0"), A("mariadb\0-P3306\0-p***\0") },
	{ A("mysqladmin\0-h\0db\0-phunter2\0status\0"),
	  A("mysqladmin\0-h\0db\0-p***\0status\0") },
	{ A("sudo\0mysql\0-phunter2\0"), A("sudo\0mysql\0-p***\0") },
	{ A("mysql\0-p\0db\0"), A("mysql\0-p\0db\0") },
	{ A("sleep\0-phunter2\0"), A("sleep\0-phunter2\0") },
	{ A("mysqld\0-phunter2\0"), A("mysqld\0-phunter2\0") },
	{ A("sh\0-c\0mysql -uroot -phunter2 db\0"), A("sh\0-c\0mysql -uroot -p***\0") },
	/* PASSWORD=…, *_TOKEN=…, *_SECRET=… assignments */
	{ A("env\0PASSWORD=hunter2\0cmd\0"), A("env\0PASSWORD=***\0cmd\0") },
	{ A("env\0GITHUB_TOKEN=ghp_1\0AWS_SECRET_ACCESS_KEY=k\0cmd\0"),
	  A("env\0GITHUB_TOKEN=***\0AWS_SECRET_ACCESS_KEY=***\0cmd\0") },
	{ A("env\0APP_SECRET=s\0PGPASSWORD=p\0MYSQL_PWD=w\0"),
	  A("env\0APP_SECRET=***\0PGPASSWORD=***\0MYSQL_PWD=***\0") },
	{ A("psql\0host=db password=hunter2 user=me\0"), A("psql\0host=db password=***\0") },
	{ A("env\0PASSWORD=\0cmd\0"), A("env\0PASSWORD=\0cmd\0") },
	/* URLs: keep the user, hide the password */
	{ A("curl\0https://user:hunter2@example.com/path\0"),
	  A("curl\0https://user:***@example.com/path\0") },
	{ A("redis-cli\0-u\0redis://:hunter2@host:6379/0\0"),
	  A("redis-cli\0-u\0redis://:***@host:6379/0\0") },
	{ A("x\0postgres://u:p@ss@h/db\0"), A("x\0postgres://u:***@h/db\0") },
	{ A("x\0DATABASE_URL=postgres://app:hunter2@db:5432/app\0"),
	  A("x\0DATABASE_URL=postgres://app:***@db:5432/app\0") },
	{ A("x\0a://u:1@b://v:2@c\0"), A("x\0a://u:***@b://v:***@c\0") },
	{ A("x\0https://example.com:8443/a@b\0"), A("x\0https://example.com:8443/a@b\0") },
	{ A("x\0https://user@example.com/\0"), A("x\0https://user@example.com/\0") },
	{ A("x\0://u:p@h\0"), A("x\0://u:p@h\0") },
	/* query strings and connection strings */
	{ A("x\0https://h/x?access_token=abc&y=1#f\0"),
	  A("x\0https://h/x?access_token=***&y=1#f\0") },
	{ A("x\0Server=db;User=sa;Password=hunter2;Db=x\0"),
	  A("x\0Server=db;User=sa;Password=***;Db=x\0") },
	/* what must stay */
	{ A("ptest-plain-0\00086400\0"), A("ptest-plain-0\00086400\0") },
	{ A("python\0--tokenizer\0bert\0tokenizer=bert\0"),
	  A("python\0--tokenizer\0bert\0tokenizer=bert\0") },
	{ A("x\0--bypass\0y\0--passthrough\0z\0secretary=1\0"),
	  A("x\0--bypass\0y\0--passthrough\0z\0secretary=1\0") },
	{ A("x\0--key\0/etc/tls.key\0--token-ttl\03600\0"),
	  A("x\0--key\0/etc/tls.key\0--token-ttl\03600\0") },
	/* shapes of the buffer */
	{ A(""), A("") },
	{ A("\0\0\0"), A("\0\0\0") },
	{ A("app --password=x y"), A("app --password=***") },
	{ A("app\0--password"), A("app\0--password") },
	{ A("app\0--password\0x"), A("app\0--password\0***") },
	{ A("app\0--password=\xff\xfe\0\xc3(\0"), A("app\0--password=***\0\xc3(\0") },
	{ A("\xff\0--token\0\xc3\x28\xa0\xa1\0"), A("\xff\0--token\0***\0") },
	{ A("app\0\t--token \t\0abc\0"), A("app\0\t--token \t\0***\0") },
};

static void
test_builtin(void **state)
{
	struct redact	*r = redact_create();
	size_t		 i;

	(void)state;
	assert_int_equal(redact_defaults(r), 1);
	for (i = 0; i < nitems(builtin_cases); i++) {
		const struct rcase *c = &builtin_cases[i];

		check(r, c->in, c->inlen, c->want, c->wantlen);
		check(NULL, c->in, c->inlen, c->want, c->wantlen);
	}
	redact_free(r);
}

static void
test_defaults_off(void **state)
{
	struct redact	*r = redact_create();
	size_t		 i;

	(void)state;
	redact_set_defaults(r, 0);
	assert_int_equal(redact_defaults(r), 0);
	for (i = 0; i < nitems(builtin_cases); i++)
		check(r, builtin_cases[i].in, builtin_cases[i].inlen,
		    builtin_cases[i].in, builtin_cases[i].inlen);
	redact_free(r);
}

struct rule_case {
	const char	*rule;
	const char	*in;
	size_t		 inlen;
	const char	*want;
	size_t		 wantlen;
};

/* Configured rules, with the built-ins off so that only the rule acts. */
static const struct rule_case rule_cases[] = {
	/* no group: the whole match */
	{ "hunter[0-9]", A("x\0ahunter2b\0"), A("x\0a***b\0") },
	{ "hunter[0-9]", A("hunter1\0hunter2\0"), A("***\0***\0") },
	/* a group: its text only */
	{ "--db-pass=(.*)", A("x\0--db-pass=abc\0"), A("x\0--db-pass=***\0") },
	/* the last outermost group is the value */
	{ "(--|-)key=(.*)", A("x\0-key=abc\0"), A("x\0-key=***\0") },
	{ "k=(([a-z]+)-([0-9]+))", A("k=abc-123\0"), A("k=***\0") },
	{ "(a)|(b)", A("xbx\0"), A("x***x\0") },
	{ "(a)|(b)", A("xax\0"), A("x***x\0") },
	{ "(a)(b)?", A("xax\0"), A("x***x\0") },
	/* '.' and [^...] stay in one argument; ^ and $ anchor at each */
	{ "pw=.*", A("pw=a\0b\0"), A("***\0b\0") },
	{ "pw=([^,]*)", A("pw=a\0b\0"), A("pw=***\0b\0") },
	{ "^secret$", A("a\0secret\0b\0"), A("a\0***\0b\0") },
	{ "^secret$", A("a\0secretx\0xsecret\0"), A("a\0secretx\0xsecret\0") },
	/* [[:space:]] is the boundary: the next argument */
	{ "--db-pass[[:space:]](.*)", A("x\0--db-pass\0abc\0"), A("x\0--db-pass\0***\0") },
	{ "--pw[[:space:]][^[:space:]]+", A("--pw\0x\0y\0"), A("***\0***\0y\0") },
	/* a newline inside an argument is a space */
	{ "a b", A("a\nb\0"), A("***\0") },
	{ "a$", A("a\nb\0"), A("a\nb\0") },
	/* empty matches hide nothing and do not loop */
	{ "x*", A("abc\0"), A("abc\0") },
	{ "()", A("abc\0"), A("abc\0") },
	{ "^", A("a\0b\0"), A("a\0b\0") },
	/* bytes past ASCII match as bytes */
	{ "\xff+", A("a\xff\xff" "b\0"), A("a***b\0") },
	{ "[^a]+", A("a\xc3(a\0"), A("a***a\0") },
	/* the README's examples */
	{ "--db-pass[=[:space:]](.*)", A("x\0--db-pass=a\0--db-pass\0b\0"),
	  A("x\0--db-pass=***\0--db-pass\0***\0") },
	{ "(-u|--user)[[:space:]]+[^:]*:(.*)", A("curl\0-u\0bob:pw\0-uroot\0"),
	  A("curl\0-u\0bob:***\0-uroot\0") },
	/* brackets and escapes do not count as groups */
	{ "[(]x=(.*)", A("(x=1\0"), A("(x=***\0") },
	{ "\\(x=(.*)", A("(x=1\0"), A("(x=***\0") },
	{ "[[:alpha:](]=(.*)", A("q=1\0"), A("q=***\0") },
};

static void
test_rules(void **state)
{
	size_t	i;
	char	err[256];

	(void)state;
	for (i = 0; i < nitems(rule_cases); i++) {
		const struct rule_case *c = &rule_cases[i];
		struct redact *r = redact_create();

		redact_set_defaults(r, 0);
		if (redact_add(r, c->rule, err, sizeof(err)) == -1)
			fail_msg("rule %s: %s", c->rule, err);
		assert_int_equal(redact_count(r), 1);
		check(r, c->in, c->inlen, c->want, c->wantlen);
		redact_free(r);
	}
}

static void
test_rules_and_builtins_merge(void **state)
{
	struct redact	*r = redact_create();
	char		 err[256];

	(void)state;
	assert_int_equal(redact_add(r, "hunter[0-9]", err, sizeof(err)), 0);
	assert_int_equal(redact_add(r, "=hun", err, sizeof(err)), 0);
	assert_int_equal(redact_count(r), 2);
	/* Overlapping finds of three rules give one mask. */
	check(r, A("x\0--password=hunter2\0hunter3\0"),
	    A("x\0--password***\0***\0"));
	check(r, A("mysql\0-phunter2\0"), A("mysql\0-p***\0"));
	redact_free(r);
}

static const struct {
	const char	*rule;
	const char	*err;
} bad_rules[] = {
	{ "(", "bad regular expression" },
	{ "a[", "bad regular expression" },
	{ "a{2,1}", "bad regular expression" },
	{ "[[:nope:]]", "bad regular expression" },
	{ "(a)\\1", "back-references" },
	{ "((a{100}){100}){100}", "too complex" },
	{ "a{1000000}", "too complex" },
	{ "(a)++++++++++++++++++++++++++++++", "too complex" },
	{ "z()()++++++++++++++++++++++++++++++", "too complex" },
	{ "((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))",
	  "too complex" },
};

static void
test_bad_rules(void **state)
{
	struct redact	*r = redact_create();
	char		 err[256], *longrule;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(bad_rules); i++) {
		err[0] = '\0';
		if (redact_add(r, bad_rules[i].rule, err, sizeof(err)) != -1)
			fail_msg("rule %s was accepted", bad_rules[i].rule);
		if (strstr(err, bad_rules[i].err) == NULL)
			fail_msg("rule %s: error '%s' lacks '%s'", bad_rules[i].rule,
			    err, bad_rules[i].err);
	}
	longrule = malloc(REDACT_RULE_MAX + 2);
	assert_non_null(longrule);
	memset(longrule, 'a', REDACT_RULE_MAX + 1);
	longrule[REDACT_RULE_MAX + 1] = '\0';
	assert_int_equal(redact_add(r, longrule, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
	longrule[REDACT_RULE_MAX] = '\0';
	assert_int_equal(redact_add(r, longrule, err, sizeof(err)), 0);
	free(longrule);
	assert_int_equal(redact_count(r), 1);
	redact_free(r);
	redact_free(NULL);
}

/* The keywords: rules from a file, file:line for a bad one, defaults on by default. */
static void
test_config_keywords(void **state)
{
	static const char good[] = "redact \"--db-pass[[:space:]](.*)\"\n"
	    "redact_defaults no\nredact k=(.*)   # a comment\n";
	static const char bad[] = "redact ok\n\nredact (x\n";
	struct config	*c;
	char		 err[512];

	(void)state;
	c = config_defaults();
	assert_int_equal(redact_defaults(c->redact), 1);
	assert_int_equal(redact_count(c->redact), 0);
	if (config_parse_buffer(c, "t.conf", good, sizeof(good) - 1, err,
	    sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(redact_count(c->redact), 2);
	assert_int_equal(redact_defaults(c->redact), 0);
	assert_int_equal(c->redact_defaults, 0);
	check(c->redact, A("app\0--password=x\0k=v\0--db-pass\0y\0"),
	    A("app\0--password=x\0k=***\0--db-pass\0***\0"));
	config_free(c);

	c = config_defaults();
	assert_int_equal(config_parse_buffer(c, "t.conf", bad, sizeof(bad) - 1, err,
	    sizeof(err)), -1);
	if (strncmp(err, "t.conf:3: redact: bad regular expression", 40) != 0)
		fail_msg("error: %s", err);
	config_free(c);
}

/* Builds "pre" + n copies of unit + "post" (units may hold NULs). */
static char *
repeat(const char *pre, size_t prelen, const char *unit, size_t unitlen,
    size_t n, const char *post, size_t postlen, size_t *len)
{
	char	*b;
	size_t	 i;

	*len = prelen + unitlen * n + postlen;
	b = malloc(*len + 1);
	assert_non_null(b);
	memcpy(b, pre, prelen);
	for (i = 0; i < n; i++)
		memcpy(b + prelen + i * unitlen, unit, unitlen);
	memcpy(b + prelen + unitlen * n, post, postlen);
	return b;
}

static double
seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Long and repetitive command lines: right, and fast enough that a hostile
 * process cannot stall the daemon (the built-ins are one linear pass).
 */
static const struct {
	const char	*pre;
	size_t		 prelen;
	const char	*unit;
	size_t		 unitlen;
	size_t		 n;
	const char	*post;
	size_t		 postlen;
	const char	*gone;		/* must not be in the output */
	const char	*kept;		/* must be */
} long_cases[] = {
	{ A("app\0--password="), A("x"), 100000, A("\0tail\0"), "xxx", "tail" },
	{ A("app\0"), A("--token\0s3cr3t\0"), 8000, A(""), "s3cr3t", "--token" },
	{ A(""), A("mysql\0"), 20000, A("-phunter2\0"), "hunter2", "-p***" },
	{ A(""), A("a"), 130000, A(""), NULL, "aaaa" },
	{ A(""), A("-a-a"), 32000, A(""), NULL, "-a-a" },
	{ A(""), A("x://a:"), 20000, A("pw@h"), "pw@", "x://a:***@h" },
	{ A(""), A("s://a:b@"), 16000, A(""), "b@", "://a:***@" },
	{ A("x "), A("?token=a&"), 12000, A(""), "=a&", "?token=***&" },
	{ A(""), A("PASSWORD_"), 12000, A("=v"), "=v", "PASSWORD_" },
	{ A(""), A("a\n"), 60000, A("--password\nx"), NULL, "--password" },
};

static void
test_long(void **state)
{
	struct redact	*r = redact_create();
	char		*in, *out, err[256];
	size_t		 i, len, outlen;
	double		 t0, took;

	(void)state;
	assert_int_equal(redact_add(r, "^zz[a-z]*=(.*)", err, sizeof(err)), 0);
	for (i = 0; i < nitems(long_cases); i++) {
		in = repeat(long_cases[i].pre, long_cases[i].prelen,
		    long_cases[i].unit, long_cases[i].unitlen, long_cases[i].n,
		    long_cases[i].post, long_cases[i].postlen, &len);
		t0 = seconds();
		out = redact_apply(r, in, len, &outlen);
		took = seconds() - t0;
		/* Generous for sanitizer builds; a quadratic scan takes minutes. */
		if (took > 2.0)
			fail_msg("case %zu: %zu bytes took %.2f s", i, len, took);
		if (long_cases[i].gone != NULL &&
		    memmem(out, outlen, long_cases[i].gone,
		    strlen(long_cases[i].gone)) != NULL)
			fail_msg("case %zu: '%s' survived", i, long_cases[i].gone);
		if (memmem(out, outlen, long_cases[i].kept,
		    strlen(long_cases[i].kept)) == NULL)
			fail_msg("case %zu: '%s' is missing", i, long_cases[i].kept);
		free(in);
		free(out);
	}
	redact_free(r);
}

/* Counts the arguments the way the JSON renderer does. */
static size_t
nargs(const char *b, size_t n)
{
	size_t	i, k = 0;

	for (i = 0; i < n; i++)
		k += b[i] == '\0';
	return k + (n > 0 && b[n - 1] != '\0');
}

/*
 * Random words from an alphabet rich in what the rules look for: the argument
 * count never changes, the size at most triples, and the built-ins alone are
 * idempotent (a configured rule may turn a name into one, so not with it).
 */
static void
test_random_invariants(void **state)
{
	static const char *const parts[] = {
		"--password", "=", "\0", " ", "mysql", "-p", "x", "://", ":", "@",
		"/", "?", "&", "token", "_", "PASSWORD", "\n", "\xff", "--", "-",
	};
	struct redact	*builtin = redact_create(), *withrule = redact_create();
	struct redact	*r;
	char		 in[512], err[256], *out, *again;
	size_t		 i, j, len, outlen, againlen;
	unsigned	 seed = 12345;

	(void)state;
	assert_int_equal(redact_add(withrule, "x+", err, sizeof(err)), 0);
	for (i = 0; i < 40000; i++) {
		r = i % 2 ? withrule : builtin;
		len = 0;
		for (j = 0; j < 24; j++) {
			const char	*p;
			size_t		 n;

			seed = seed * 1103515245u + 12345u;
			p = parts[(seed >> 16) % nitems(parts)];
			n = *p == '\0' ? 1 : strlen(p);
			if (len + n > sizeof(in))
				break;
			memcpy(in + len, p, n);
			len += n;
		}
		out = redact_apply(r, in, len, &outlen);
		assert_int_equal(nargs(out, outlen), nargs(in, len));
		assert_true(outlen <= 3 * len);
		if (r == builtin) {
			again = redact_apply(r, out, outlen, &againlen);
			if (againlen != outlen || memcmp(again, out, outlen) != 0)
				fail_msg("not idempotent on input %zu", i);
			free(again);
		}
		free(out);
	}
	redact_free(builtin);
	redact_free(withrule);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_defaults_off),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_rules_and_builtins_merge),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_config_keywords),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_random_invariants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
