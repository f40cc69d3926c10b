/*
 * regex_guard: the expressions that stalled or exhausted glibc's regcomp under
 * the fuzzers are refused, ordinary ones pass, and whatever passes compiles
 * quickly (a random sweep, timed).
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "regex_guard.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char	*re;
	int		 want;
} cases[] = {
	/* what users write */
	{ "^ptest-[0-9]+ 86400$", REGEX_OK },
	{ "[a-z]+=[0-9]+,[a-z]+", REGEX_OK },
	{ "--db-pass[=[:space:]](.*)", REGEX_OK },
	{ "(-u|--user)[[:space:]]+[^:]*:(.*)", REGEX_OK },
	{ "([0-9]{1,3}\\.){3}[0-9]{1,3}", REGEX_OK },
	{ "(ab?)*", REGEX_OK },
	{ "(a*){1,40}{,9}", REGEX_OK },
	{ "(a{100}){100}", REGEX_OK },		/* 10 000 nodes: the limit */
	{ "a{,500}", REGEX_OK },
	{ "a{,501}", REGEX_TOO_BIG },
	{ "[(]+", REGEX_OK },
	{ "\\(+", REGEX_OK },
	/* too many nodes (3.4 GB and 9 s for the first, glibc 2.36) */
	{ "((a{255}){255}){255}", REGEX_TOO_BIG },
	{ "(a{100}){101}", REGEX_TOO_BIG },
	{ "(a)++++++++++++++++++++++++++++++", REGEX_TOO_BIG },
	{ "z()()++++++++++++++++++", REGEX_TOO_BIG },	/* fuzz_route, OOM */
	{ "\\\\\\*+++++++++++++++++", REGEX_TOO_BIG },	/* fuzz_redact, timeout */
	{ "((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))",
	  REGEX_TOO_BIG },
	/* optional nodes: closures grow with their square (a{,9999}: 0.7 s) */
	{ "a{,9999}", REGEX_TOO_BIG },
	{ "((a?){100}){100}", REGEX_TOO_BIG },
	/* a loop over what can match empty (over 30 s) */
	{ "\xe1{,2}{21,59}{32,}", REGEX_TOO_BIG },	/* fuzz_route, timeout */
	{ "((a?){1,20}){3,}", REGEX_TOO_BIG },
	{ "((a|b?){30})+", REGEX_TOO_BIG },
	{ "a?{,9}{0,2}{,9}()*", REGEX_TOO_BIG },	/* the random sweep, minutes */
	{ "((a*)*){1,40}{,9}", REGEX_TOO_BIG },
	{ "(a?)*", REGEX_TOO_BIG },
	{ "(x*)*", REGEX_TOO_BIG },
	{ "(a|bc|)+", REGEX_TOO_BIG },
	{ "x**", REGEX_TOO_BIG },
	{ "z(^^^^^^^^^^^^)*", REGEX_TOO_BIG },	/* fuzz_route: ^ matches empty */
	{ "(\\<)+", REGEX_TOO_BIG },
	{ "(^a|b$)*", REGEX_OK },
	/* back-references */
	{ "(a)\\1", REGEX_BACKREF },
	{ "[\\1]", REGEX_OK },			/* in brackets: two characters */
};

static void
test_cases(void **state)
{
	size_t	i;
	int	got;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		if ((got = regex_guard(cases[i].re, 10000)) != cases[i].want)
			fail_msg("%s: %d, want %d", cases[i].re, got, cases[i].want);
}

static double
seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Random shapes from the operators that matter: what passes compiles fast. */
static void
test_random_passed_compile_fast(void **state)
{
	static const char *const parts[] = {
		"a", "b", "(", ")", "|", "?", "*", "+", "{2}", "{,9}", "{3,}",
		"{1,40}", "{0,2}", "[ab]", ".", "x?", "()",
	};
	char		 re[128];
	regex_t		 rx;
	unsigned	 seed = 4242;
	size_t		 i, j, len, passed = 0;
	double		 t0, took, worst = 0;

	(void)state;
	for (i = 0; i < 3000; i++) {
		len = 0;
		re[0] = '\0';
		for (j = 0; j < 12; j++) {
			const char	*p;

			seed = seed * 1103515245u + 12345u;
			p = parts[(seed >> 16) % nitems(parts)];
			if (len + strlen(p) + 1 > sizeof(re))
				break;
			memcpy(re + len, p, strlen(p) + 1);
			len += strlen(p);
		}
		if (regex_guard(re, 10000) != REGEX_OK)
			continue;
		passed++;
		t0 = seconds();
		if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) == 0)
			regfree(&rx);
		if ((took = seconds() - t0) > worst)
			worst = took;
		/* Generous for sanitizer builds: the refused ones take seconds to minutes. */
		if (took > 0.5)
			fail_msg("'%s' passed the guard and took %.2f s", re, took);
	}
	assert_true(passed > 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_random_passed_compile_fast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
