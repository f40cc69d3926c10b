/*
 * Replays every fuzz target over its seeds and over the inputs that once made
 * it fail (tests/fuzz/regress/TARGET), with gcc and the sanitizers of the unit
 * build, so fixed crashes stay fixed without clang.  Run from the repository root.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
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

#define LLVMFuzzerTestOneInput	fuzz_procfs_one
#include "../fuzz/fuzz_procfs.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput	fuzz_users_one
#include "../fuzz/fuzz_users.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput	fuzz_config_one
#define LLVMFuzzerInitialize	fuzz_config_init
#include "../fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#undef LLVMFuzzerInitialize
#define LLVMFuzzerTestOneInput	fuzz_route_one
#include "../fuzz/fuzz_route.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput	fuzz_redact_one
#include "../fuzz/fuzz_redact.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput	fuzz_netlink_one
#include "../fuzz/fuzz_netlink.c"
#undef LLVMFuzzerTestOneInput

typedef int (*fuzz_one_cb)(const uint8_t *, size_t);

/* Runs one on every regular file of dir; returns how many (a missing dir: 0). */
static size_t
replay_dir(const char *dir, fuzz_one_cb one)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		 path[1024];
	uint8_t		*buf;
	size_t		 n = 0;
	int		 fd;

	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			fail_msg("%s: %s", dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if ((fd = open(path, O_RDONLY)) == -1)
			fail_msg("%s: %s", path, strerror(errno));
		/* Exactly the file's size, as libFuzzer passes it: ASan sees overreads. */
		buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
		assert_non_null(buf);
		assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
		close(fd);
		one(buf, (size_t)st.st_size);
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

static void
replay(const char *target, fuzz_one_cb one, const char *seeds)
{
	char	dir[256];
	size_t	n;

	n = replay_dir(seeds, one);
	snprintf(dir, sizeof(dir), "tests/fuzz/seeds/%s", target);
	if (strcmp(dir, seeds) != 0)
		n += replay_dir(dir, one);
	snprintf(dir, sizeof(dir), "tests/fuzz/regress/%s", target);
	n += replay_dir(dir, one);
	if (n == 0)
		fail_msg("fuzz_%s: no inputs (run from the repository root)", target);
}

static void
test_procfs(void **state)
{
	(void)state;
	replay("procfs", fuzz_procfs_one, "tests/data/proc");
}

static void
test_users(void **state)
{
	(void)state;
	replay("users", fuzz_users_one, "tests/data/passwd");
}

static void
test_config(void **state)
{
	(void)state;
	replay("config", fuzz_config_one, "tests/data/config");
}

static void
test_route(void **state)
{
	(void)state;
	replay("route", fuzz_route_one, "tests/fuzz/seeds/route");
}

static void
test_redact(void **state)
{
	(void)state;
	replay("redact", fuzz_redact_one, "tests/fuzz/seeds/redact");
}

static void
test_netlink(void **state)
{
	(void)state;
	replay("netlink", fuzz_netlink_one, "tests/data/netlink");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procfs),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_netlink),
	};

	/* Files that config lines name resolve in the repository: harmless reads. */
	log_init(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
