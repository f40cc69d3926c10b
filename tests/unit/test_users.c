/*
 * users: passwd(5) fixtures in tests/data/passwd (a real Debian file and
 * hostile ones), and users_load on files that are not what they claim.
 * Run from the repository root.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "users.h"

#define FIXTURES	"tests/data/passwd"
#define CAP		(4 * 1024 * 1024)	/* users.c's USERS_MAX_FILE */
#define END		{ LLONG_MIN, NULL }	/* ends a lookup list */
#define REND		{ NULL, 0 }

/* Parses a fixture from a buffer of exactly its size, so ASan sees any overread. */
static struct users *
parse_fixture(const char *name)
{
	char		 path[256];
	struct users	*t;
	struct stat	 st;
	char		*buf;
	int		 fd;

	snprintf(path, sizeof(path), FIXTURES "/%s", name);
	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	buf = malloc(st.st_size == 0 ? 1 : (size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	t = users_parse(buf, (size_t)st.st_size);
	free(buf);
	return t;
}

struct lookup {
	long long	 uid;
	const char	*name;		/* users_name(uid), NULL when unknown */
};

struct rlookup {
	const char	*name;
	long long	 uid;		/* users_uid(name), -1 when unknown */
};

struct users_case {
	const char		*file;
	size_t			 count;
	struct lookup		 byuid[16];
	struct rlookup		 byname[16];
};

static const struct users_case cases[] = {
	{ "debian", 26, {
		{ 0, "root" }, { 1, "daemon" }, { 42, "_apt" },
		{ 65534, "nobody" }, { 1000, "cloudsdk" }, { 103, "uuidd" },
		{ 998, "systemd-network" }, { 11, NULL }, { -1, NULL }, END,
	    }, {
		{ "root", 0 }, { "www-data", 33 }, { "postgres", 101 },
		{ "uuidd", 103 }, { "nobody", 65534 }, { "Root", -1 },
		{ "roo", -1 }, { "", -1 }, REND,
	    } },
	{ "hostile", 9, {
		{ 0, "root" }, { 1000, "alice" }, { 1001, "alice" },
		{ 3000, "zed" }, { 42, "lead0" }, { 2000, "crlf" },
		{ 2003, "last" }, { 4294967294LL, "big" }, { 65534, "nobody" },
		{ 4294967295LL, NULL }, { 1002, NULL }, { 4000, NULL }, END,
	    }, {
		{ "toor", 0 }, { "alice", 1000 }, { "abe", 3000 },
		{ "zed", 3000 }, { "bob", -1 }, { "carol", -1 },
		{ "+nis", -1 }, { "#ghost", -1 }, { "heidi", -1 },
		{ "tab\tname", -1 }, { "nul", -1 }, { "", -1 }, REND,
	    } },
	{ "binary", 2, {
		{ 0, "root" }, { 7, "svc" }, { 1, NULL }, END,
	    }, {
		{ "svc", 7 }, { "root", 0 }, REND,
	    } },
	{ "shadow", 0, {
		{ 0, NULL }, { 19000, NULL }, END,
	    }, {
		{ "root", -1 }, { "alice", -1 }, REND,
	    } },
	{ "empty", 0, {
		{ 0, NULL }, END,
	    }, {
		{ "root", -1 }, REND,
	    } },
};

static void
check_case(const struct users_case *c, const struct users *t)
{
	const struct lookup	*l;
	const struct rlookup	*r;
	const char		*got;

	assert_int_equal(users_count(t), c->count);
	for (l = c->byuid; l->uid != LLONG_MIN; l++) {
		got = users_name(t, l->uid);
		if (l->name == NULL)
			assert_null(got);
		else
			assert_string_equal(got, l->name);
	}
	for (r = c->byname; r->name != NULL; r++)
		assert_int_equal(users_uid(t, r->name), r->uid);
}

static void
test_parse_fixtures(void **state)
{
	struct users	*t;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("passwd fixture %s\n", cases[i].file);
		t = parse_fixture(cases[i].file);
		check_case(&cases[i], t);
		users_free(t);
	}
}

/* users_load gives the same table as users_parse over the same bytes. */
static void
test_load_fixtures(void **state)
{
	char		 path[256];
	struct users	*t;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), FIXTURES "/%s", cases[i].file);
		t = users_load(path);
		check_case(&cases[i], t);
		users_free(t);
	}
}

/* Whatever is at the path, users_load returns (at once) an empty table. */
static void
test_load_not_a_file(void **state)
{
	char		 dir[] = "/tmp/users-test.XXXXXX", fifo[64];
	const char	*paths[] = {
		"/nonexistent/etc/passwd", FIXTURES, "/dev/zero", fifo, ""
	};
	struct users	*t;
	size_t		 i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/passwd", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* A FIFO without a writer would block a plain open(2) for ever. */
	alarm(10);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		t = users_load(paths[i]);
		assert_non_null(t);
		assert_int_equal(users_count(t), 0);
		assert_null(users_name(t, 0));
		assert_int_equal(users_uid(t, "root"), -1);
		users_free(t);
	}
	alarm(0);
	unlink(fifo);
	rmdir(dir);
	users_free(NULL);
}

/* Past the size cap the cut last line is dropped, never kept as half a name. */
static void
test_load_capped(void **state)
{
	char		 path[] = "/tmp/users-big.XXXXXX", line[64], want[16];
	struct users	*t;
	size_t		 linelen, nlines, loaded, i;
	FILE		*f;
	int		 fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(f = fdopen(fd, "w"));
	linelen = (size_t)snprintf(line, sizeof(line),
	    "u%06d:x:%06d:%06d::/:/usr/sbin/nologin\n", 0, 0, 0);
	/* The cap must cut a line inside its shell, where it still has 7 fields. */
	assert_true(CAP % linelen > strlen("u000000:x:000000:000000::/:"));
	assert_true(CAP % linelen < linelen - 1);
	nlines = CAP / linelen + 1000;
	for (i = 0; i < nlines; i++)
		fprintf(f, "u%06zu:x:%06zu:%06zu::/:/usr/sbin/nologin\n", i, i, i);
	assert_int_equal(fclose(f), 0);

	t = users_load(path);
	loaded = CAP / linelen;
	assert_int_equal(users_count(t), loaded);
	for (i = 0; i < loaded; i++) {
		snprintf(want, sizeof(want), "u%06zu", i);
		assert_string_equal(users_name(t, (long long)i), want);
	}
	assert_null(users_name(t, (long long)loaded));
	snprintf(want, sizeof(want), "u%06zu", loaded - 1);
	assert_int_equal(users_uid(t, want), (long long)loaded - 1);
	users_free(t);
	unlink(path);
}

/* Every prefix of a file parses without reading past it; cut names never match. */
static void
test_parse_prefixes(void **state)
{
	const char	 text[] = "root:x:0:0:root:/root:/bin/sh\n"
	    "daemon:x:1:1::/:/sbin/nologin\n";
	struct users	*t;
	size_t		 cut;
	char		*buf;

	(void)state;
	for (cut = 0; cut < sizeof(text); cut++) {
		buf = malloc(cut == 0 ? 1 : cut);
		memcpy(buf, text, cut);
		t = users_parse(buf, cut);
		/* Seven fields once the sixth ':' is in: a cut shell still counts. */
		assert_int_equal(users_count(t), (cut >= 22) + (cut >= 46));
		if (cut >= 22)
			assert_string_equal(users_name(t, 0), "root");
		if (cut >= 46)
			assert_string_equal(users_name(t, 1), "daemon");
		else
			assert_null(users_name(t, 1));
		assert_int_equal(users_uid(t, "daemo"), -1);
		users_free(t);
		free(buf);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fixtures),
		cmocka_unit_test(test_load_fixtures),
		cmocka_unit_test(test_load_not_a_file),
		cmocka_unit_test(test_load_capped),
		cmocka_unit_test(test_parse_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
