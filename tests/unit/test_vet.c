/* Unit tests of vet.c: raw request targets, split request lines, header names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vet.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char	*target;
	int		 status;
	const char	*err;
} targets[] = {
	{ "/",					0, NULL },
	{ "/healthz",				0, NULL },
	{ "/api/v1/processes?name=a%20b&match=%5Bx%5D", 0, NULL },
	{ "/api/v1/processes/%31",		0, NULL },
	{ "/api/v1/processes?match=a%2Fb",	0, NULL },	/* %2F in the query is fine */
	{ "/%zz",				0, NULL },	/* route.c says 404 */
	{ "/%",					0, NULL },
	{ "/healthz%00",			400, "NUL byte (%00)" },
	{ "/x?name=a%00",			400, "NUL byte (%00)" },
	{ "/x?%00=1",				400, "NUL byte (%00)" },
	{ "/api%2fv1/status",			400, "encoded '/' (%2F)" },
	{ "/api%2Fv1/status",			400, "encoded '/' (%2F)" },
	{ "/h\xc3\xa9",				400, "byte 0xc3" },
	{ "/\xff",				400, "byte 0xff" },
	{ "/a b",				400, "byte 0x20" },
	{ "/a\tb",				400, "byte 0x09" },
	{ "/a\x7f",				400, "byte 0x7f" },
	{ "/?q=\x01",				400, "byte 0x01" },
};

static void
test_targets(void **state)
{
	char	err[256];
	size_t	i;
	int	rc;

	(void)state;
	for (i = 0; i < nitems(targets); i++) {
		err[0] = '\0';
		rc = vet_target(targets[i].target, err, sizeof(err));
		if (rc != targets[i].status)
			fail_msg("'%s': got %d, want %d (%s)", targets[i].target,
			    rc, targets[i].status, err);
		if (targets[i].err != NULL && strstr(err, targets[i].err) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'",
			    targets[i].target, err, targets[i].err);
	}
}

static void
test_target_length(void **state)
{
	char	t[VET_TARGET_MAX + 2], err[256];

	(void)state;
	memset(t, 'a', sizeof(t));
	t[0] = '/';
	t[VET_TARGET_MAX] = '\0';
	assert_int_equal(vet_target(t, err, sizeof(err)), 0);
	t[VET_TARGET_MAX] = 'a';
	t[VET_TARGET_MAX + 1] = '\0';
	assert_int_equal(vet_target(t, err, sizeof(err)), 414);
	assert_non_null(strstr(err, "longer than 8192 bytes"));
	/* A tiny buffer is never overrun. */
	assert_int_equal(vet_target("/\xff", err, 4), 400);
	assert_int_equal(strlen(err), 3);
}

/* A request line split in place, the way libmicrohttpd 0.9.75 does. */
static void
split(char *line, size_t len, char **method, char **uri, size_t *urilen,
    char **version)
{
	char	*sp1 = memchr(line, ' ', len), *sp2 = line + len - 1;

	while (*sp2 != ' ')
		sp2--;
	*sp1 = '\0';
	*sp2 = '\0';
	*method = line;
	*uri = sp1 + 1;
	*urilen = strlen(*uri);
	*version = sp2 + 1;
}

static void
test_line_gap(void **state)
{
	static const struct {
		const char	*line;
		size_t		 len;
		int		 gap;
	} lines[] = {
		{ "GET /healthz HTTP/1.1", 21, 0 },
		{ "GET /healthz\0junk HTTP/1.1", 26, 1 },
		{ "GET\0 /healthz HTTP/1.1", 22, 1 },
		{ "GET /a\0 HTTP/1.1", 16, 1 },
		{ "HEAD /x?y=1 HTTP/1.0", 20, 0 },
	};
	char	 buf[64], *m, *u, *v;
	size_t	 i, ulen;

	(void)state;
	for (i = 0; i < nitems(lines); i++) {
		memcpy(buf, lines[i].line, lines[i].len);
		split(buf, lines[i].len, &m, &u, &ulen, &v);
		if (vet_line_gap(m, u, ulen, v) != lines[i].gap)
			fail_msg("line %zu: gap %d expected", i, lines[i].gap);
	}
	/* Pointers not laid out as one split line are not judged. */
	assert_int_equal(vet_line_gap("GET", "/x", 2, "HTTP/1.1"), 0);
	assert_int_equal(vet_line_gap(NULL, "/x", 2, "HTTP/1.1"), 0);
	memcpy(buf, "GET /x", 7);
	assert_int_equal(vet_line_gap(buf, buf + 4, 2, ""), 0);
}

static void
test_header_names(void **state)
{
	(void)state;
	assert_int_equal(vet_header_name("Host", 4), 0);
	assert_int_equal(vet_header_name("X-Forwarded-For", 15), 0);
	assert_int_equal(vet_header_name("a!#$%&'*+-.^_`|~9", 17), 0);
	assert_int_equal(vet_header_name("", 0), 1);
	assert_int_equal(vet_header_name(NULL, 0), 1);
	assert_int_equal(vet_header_name("Bad Name", 8), 1);
	assert_int_equal(vet_header_name("Bad:", 4), 1);
	assert_int_equal(vet_header_name("X\0Y", 3), 1);
	assert_int_equal(vet_header_name("X-\xc3\xa9", 4), 1);
	assert_int_equal(vet_header_name("X(", 2), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_target_length),
		cmocka_unit_test(test_line_gap),
		cmocka_unit_test(test_header_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
