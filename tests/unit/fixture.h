/*
 * Loads a captured binary fixture, tests/data/DIR/NAME.bin, into buf (at most
 * cap bytes); fails the test when it cannot.  For the decoders' unit tests.
 * Include after <cmocka.h>.
 */
#ifndef PIDCAR_TEST_FIXTURE_H
#define PIDCAR_TEST_FIXTURE_H

#include <stdio.h>

static size_t
load_fixture(const char *dir, const char *name, unsigned char *buf, size_t cap)
{
	char	 path[256];
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "tests/data/%s/%s.bin", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

#endif
