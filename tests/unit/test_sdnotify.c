/* Unit tests of sdnotify.c's pure part: NOTIFY_SOCKET addresses and the watchdog period. */
#include <sys/socket.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sdnotify.h"

static void
test_addr(void **state)
{
	struct sockaddr_un	sun;
	char			long_path[200];

	(void)state;
	assert_int_equal(sdnotify_parse_addr("/run/systemd/notify", &sun,
	    sizeof(sun)), offsetof(struct sockaddr_un, sun_path) + 20);
	assert_int_equal(sun.sun_family, AF_UNIX);
	assert_string_equal(sun.sun_path, "/run/systemd/notify");
	/* Abstract: leading NUL, no trailing one counted. */
	assert_int_equal(sdnotify_parse_addr("@pidcar/test", &sun, sizeof(sun)),
	    offsetof(struct sockaddr_un, sun_path) + 12);
	assert_int_equal(sun.sun_path[0], '\0');
	assert_memory_equal(sun.sun_path + 1, "pidcar/test", 11);
	assert_int_equal(sdnotify_parse_addr("relative", &sun, sizeof(sun)), -1);
	assert_int_equal(sdnotify_parse_addr("@", &sun, sizeof(sun)), -1);
	assert_int_equal(sdnotify_parse_addr("", &sun, sizeof(sun)), -1);
	assert_int_equal(sdnotify_parse_addr(NULL, &sun, sizeof(sun)), -1);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(sdnotify_parse_addr(long_path, &sun, sizeof(sun)), -1);
	assert_int_equal(sdnotify_parse_addr("/x", &sun, 4), -1);
}

static void
test_watchdog(void **state)
{
	(void)state;
	assert_int_equal(sdnotify_watchdog_usec("30000000", NULL, 7), 30000000);
	assert_int_equal(sdnotify_watchdog_usec("200000", "7", 7), 200000);
	/* Meant for another process (a wrapper's child, say). */
	assert_int_equal(sdnotify_watchdog_usec("200000", "8", 7), 0);
	assert_int_equal(sdnotify_watchdog_usec(NULL, "7", 7), 0);
	assert_int_equal(sdnotify_watchdog_usec("0", NULL, 7), 0);
	assert_int_equal(sdnotify_watchdog_usec("12x", NULL, 7), 0);
	assert_int_equal(sdnotify_watchdog_usec("200000", "x", 7), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_watchdog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
