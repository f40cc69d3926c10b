/* Unit tests of auth.c: which token opens which endpoint, and the compare. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "config.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#define MAIN_TOKEN	"s3cret-Token_0123456789"
#define METRICS_TOKEN	"prom.Token~abcdefghij=="

static struct config_file	main_tok = { "main", MAIN_TOKEN,
				    sizeof(MAIN_TOKEN) - 1 };
static struct config_file	metrics_tok = { "metrics", METRICS_TOKEN,
				    sizeof(METRICS_TOKEN) - 1 };
static struct config_file	unset = { NULL, NULL, 0 };

static const enum route	all_routes[] = {
	ROUTE_NONE, ROUTE_ROOT, ROUTE_HEALTHZ, ROUTE_READYZ, ROUTE_STATUS,
	ROUTE_PROCESSES, ROUTE_PROCESS, ROUTE_TREE_JSON, ROUTE_PS,
	ROUTE_TREE_TEXT, ROUTE_METRICS,
};

static int
is_probe(enum route r)
{
	return r == ROUTE_HEALTHZ || r == ROUTE_READYZ;
}

/* Without a token configured every request passes, whatever it carries. */
static void
test_no_token_configured(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(all_routes); i++) {
		assert_int_equal(auth_check(&unset, &unset, all_routes[i], NULL),
		    AUTH_OK);
		assert_int_equal(auth_check(&unset, &unset, all_routes[i],
		    "Bearer nonsense"), AUTH_OK);
		assert_int_equal(auth_check(NULL, NULL, all_routes[i], NULL),
		    AUTH_OK);
	}
}

static const struct {
	const char		*authz;
	enum auth_result	 other;		/* on every route but probes, /metrics */
	enum auth_result	 metrics;	/* on /metrics */
} cases[] = {
	{ NULL,					AUTH_MISSING, AUTH_MISSING },
	{ "",					AUTH_MISSING, AUTH_MISSING },
	{ "Basic dXNlcjpwYXNz",			AUTH_MISSING, AUTH_MISSING },
	{ "Bearer",				AUTH_MISSING, AUTH_MISSING },
	{ "Bearer" MAIN_TOKEN,			AUTH_MISSING, AUTH_MISSING },
	{ "Bearer " MAIN_TOKEN,			AUTH_OK, AUTH_OK },
	{ "bearer " MAIN_TOKEN,			AUTH_OK, AUTH_OK },
	{ "BEARER\t" MAIN_TOKEN "  ",		AUTH_OK, AUTH_OK },
	{ "  Bearer   " MAIN_TOKEN,		AUTH_OK, AUTH_OK },
	{ "Bearer " METRICS_TOKEN,		AUTH_SCOPE, AUTH_OK },
	{ "Bearer ",				AUTH_INVALID, AUTH_INVALID },
	{ "Bearer x",				AUTH_INVALID, AUTH_INVALID },
	{ "Bearer " MAIN_TOKEN "x",		AUTH_INVALID, AUTH_INVALID },
	{ "Bearer s3cret-Token_012345678",	AUTH_INVALID, AUTH_INVALID },
	{ "Bearer S3cret-Token_0123456789",	AUTH_INVALID, AUTH_INVALID },
	{ "Bearer " METRICS_TOKEN MAIN_TOKEN,	AUTH_INVALID, AUTH_INVALID },
	{ "Bearer " MAIN_TOKEN " " MAIN_TOKEN,	AUTH_INVALID, AUTH_INVALID },
};

static void
test_tokens(void **state)
{
	enum auth_result	 want, got;
	size_t			 i, j;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		for (j = 0; j < nitems(all_routes); j++) {
			if (is_probe(all_routes[j]))
				want = AUTH_OK;
			else if (all_routes[j] == ROUTE_METRICS)
				want = cases[i].metrics;
			else
				want = cases[i].other;
			got = auth_check(&main_tok, &metrics_tok, all_routes[j],
			    cases[i].authz);
			if (got != want)
				fail_msg("authz '%s' on route %d: got %d, want %d",
				    cases[i].authz ? cases[i].authz : "(none)",
				    (int)all_routes[j], (int)got, (int)want);
		}
	}
}

/* Without a metrics token, that token's bytes are just a wrong token. */
static void
test_metrics_token_unset(void **state)
{
	(void)state;
	assert_int_equal(auth_check(&main_tok, &unset, ROUTE_METRICS,
	    "Bearer " METRICS_TOKEN), AUTH_INVALID);
	assert_int_equal(auth_check(&main_tok, NULL, ROUTE_METRICS,
	    "Bearer " MAIN_TOKEN), AUTH_OK);
}

static void
test_equal(void **state)
{
	(void)state;
	assert_true(auth_equal("abc", 3, "abc", 3));
	assert_false(auth_equal("abd", 3, "abc", 3));
	assert_false(auth_equal("ab", 2, "abc", 3));
	assert_false(auth_equal("abcd", 4, "abc", 3));
	assert_false(auth_equal("", 0, "abc", 3));
	assert_true(auth_equal("", 0, "", 0));
	/* A NUL inside what was sent is a difference, not an end. */
	assert_false(auth_equal("ab\0", 3, "abc", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_token_configured),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_metrics_token_unset),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
