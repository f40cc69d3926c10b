/* Unit tests of privdrop.c's pure part (the plan, the flags, user lookup) and the `user` keyword. */
#include <sys/capability.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "privdrop.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define B(c)		((uint64_t)1 << (c))
#define ALL		(~(uint64_t)0)
#define READ_CAPS	(B(CAP_SYS_PTRACE) | B(CAP_DAC_READ_SEARCH))

static const struct {
	const char	*mode, *target;
	int		 flags;
} flag_cases[] = {
	{ "sidecar", "self", 0 },
	{ "agent", "self", PRIVDROP_AGENT },
	{ "agent", "pid:42", PRIVDROP_AGENT },
	{ "agent", "ns:/run/netns/x", PRIVDROP_AGENT },
	{ "agent", "container:app1", PRIVDROP_AGENT | PRIVDROP_REATTACH },
	{ "agent", "cgroup:/sys/fs/cgroup/x", PRIVDROP_AGENT | PRIVDROP_REATTACH },
	{ "sidecar", "container:app1", PRIVDROP_REATTACH },
	{ "agent", "bogus:1", PRIVDROP_AGENT },
	{ NULL, NULL, 0 },
};

static void
test_flags(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(flag_cases); i++)
		assert_int_equal(privdrop_flags(flag_cases[i].mode,
		    flag_cases[i].target), flag_cases[i].flags);
}

static const struct {
	int		 flags;
	uint64_t	 held;
	uint64_t	 keep, missing, missing_required;
} plan_cases[] = {
	/* root: only the readers stay; CAP_NET_ADMIN, CAP_SETUID... go. */
	{ 0, ALL, READ_CAPS, 0, 0 },
	{ PRIVDROP_AGENT, ALL, READ_CAPS, 0, 0 },
	{ PRIVDROP_AGENT | PRIVDROP_REATTACH, ALL, READ_CAPS | B(CAP_SYS_ADMIN),
	    0, 0 },
	/* A sidecar without capabilities loses detail, not function: no warning. */
	{ 0, 0, 0, READ_CAPS, 0 },
	{ 0, B(CAP_SYS_PTRACE) | B(CAP_NET_RAW), B(CAP_SYS_PTRACE),
	    B(CAP_DAC_READ_SEARCH), 0 },
	/* An agent without them is told. */
	{ PRIVDROP_AGENT | PRIVDROP_REATTACH, READ_CAPS, READ_CAPS,
	    B(CAP_SYS_ADMIN), B(CAP_SYS_ADMIN) },
	{ PRIVDROP_AGENT, B(CAP_NET_ADMIN), 0, READ_CAPS, READ_CAPS },
	/* Re-attach is agent mode's business. */
	{ PRIVDROP_REATTACH, ALL, READ_CAPS, 0, 0 },
};

static void
test_plan(void **state)
{
	struct privdrop_plan	p;
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(plan_cases); i++) {
		assert_true(privdrop_make_plan(plan_cases[i].flags,
		    plan_cases[i].held, &p) >= 3);
		if (p.keep != plan_cases[i].keep ||
		    p.missing != plan_cases[i].missing ||
		    p.missing_required != plan_cases[i].missing_required) {
			print_error("case %zu: keep %#llx missing %#llx "
			    "required %#llx\n", i, (unsigned long long)p.keep,
			    (unsigned long long)p.missing,
			    (unsigned long long)p.missing_required);
			fail();
		}
		/* Never more than was held. */
		assert_int_equal(p.keep & ~plan_cases[i].held, 0);
	}
}

static void
test_need_text(void **state)
{
	const struct privdrop_need	*n;

	(void)state;
	assert_non_null(n = privdrop_need_of(CAP_SYS_ADMIN));
	assert_non_null(strstr(n->without, "attach again"));
	assert_non_null(n = privdrop_need_of(CAP_SYS_PTRACE));
	assert_non_null(strstr(n->without, "exe"));
	assert_null(privdrop_need_of(CAP_NET_ADMIN));
	assert_null(privdrop_need_of(CAP_SETUID));
}

static void
test_lookup(void **state)
{
	const char	*name;
	uid_t		 uid;
	gid_t		 gid;
	char		 err[256];

	(void)state;
	assert_int_equal(privdrop_lookup("root", &uid, &gid, &name, err,
	    sizeof(err)), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(gid, 0);
	assert_string_equal(name, "root");
	/* A number: its passwd entry when there is one, else uid = gid. */
	assert_int_equal(privdrop_lookup("0", &uid, &gid, &name, err,
	    sizeof(err)), 0);
	assert_string_equal(name, "root");
	assert_int_equal(privdrop_lookup("4242424", &uid, &gid, &name, err,
	    sizeof(err)), 0);
	assert_int_equal(uid, 4242424);
	assert_int_equal(gid, 4242424);
	assert_null(name);
	assert_int_equal(privdrop_lookup("no-such-user-x", &uid, &gid, &name,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no user 'no-such-user-x'"));
	assert_int_equal(privdrop_lookup("a b", &uid, &gid, &name, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a user name or uid"));
	assert_int_equal(privdrop_lookup("-x", &uid, &gid, &name, err,
	    sizeof(err)), -1);
	assert_int_equal(privdrop_lookup("a\nb\x01", &uid, &gid, &name, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "'a?b?' is not a user name or uid");
	assert_int_equal(privdrop_lookup("99999999999", &uid, &gid, &name, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "too large"));
}

static void
test_user_keyword(void **state)
{
	struct config	*c = config_defaults();
	char		 err[512];

	(void)state;
	assert_null(c->user);
	assert_int_equal(config_set(c, "t.conf:1", "user", "root", err,
	    sizeof(err)), 0);
	assert_string_equal(c->user, "root");
	assert_int_equal(config_set(c, "t.conf:2", "user", "nope-nobody-x",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.conf:2: user: no user 'nope-nobody-x'"));
	/* A bad value keeps the previous one. */
	assert_string_equal(c->user, "root");
	assert_int_equal(config_set(c, "t.conf:3", "user", "none", err,
	    sizeof(err)), 0);
	assert_null(c->user);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_need_text),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_user_keyword),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
