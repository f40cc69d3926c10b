/* Target specs, and attaching to a real child PID namespace both ways. */
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "target.h"

static void
test_parse(void **state)
{
	static const struct {
		const char		*spec;
		int			 ok;
		enum target_kind	 kind;
		const char		*arg;	/* or the expected error fragment */
	} cases[] = {
		{ "self", 1, TARGET_SELF, "" },
		{ "pid:1", 1, TARGET_PID, "" },
		{ "pid:4194304", 1, TARGET_PID, "" },
		{ "ns:/proc/42/ns/pid", 1, TARGET_NS, "/proc/42/ns/pid" },
		{ "cgroup:/sys/fs/cgroup/app", 1, TARGET_CGROUP, "/sys/fs/cgroup/app" },
		{ "cgroup:system.slice/x.service", 1, TARGET_CGROUP,
		  "/sys/fs/cgroup/system.slice/x.service" },
		{ "container:app1", 1, TARGET_CONTAINER, "app1" },
		{ "container:my_app.v2-x", 1, TARGET_CONTAINER, "my_app.v2-x" },
		{ "pid:0", 0, 0, "bad PID" },
		{ "pid:12abc", 0, 0, "bad PID" },
		{ "pid:4194305", 0, 0, "bad PID" },
		{ "pid:-1", 0, 0, "bad PID" },
		{ "pid:", 0, 0, "is not a target" },
		{ "ns:relative/path", 0, 0, "must be absolute" },
		{ "container:-x", 0, 0, "not a container name" },
		{ "container:a/b", 0, 0, "not a container name" },
		{ "host", 0, 0, "'host' is not a target" },
		{ "", 0, 0, "is not a target" },
		{ "SELF", 0, 0, "is not a target" },
	};
	struct target_spec	t;
	char			err[256];
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		int r = target_parse(cases[i].spec, &t, err, sizeof(err));
		if (cases[i].ok) {
			assert_int_equal(r, 0);
			assert_int_equal(t.kind, cases[i].kind);
			assert_string_equal(t.arg, cases[i].arg);
		} else {
			assert_int_equal(r, -1);
			if (strstr(err, cases[i].arg) == NULL)
				fail_msg("%s: '%s' lacks '%s'", cases[i].spec, err,
				    cases[i].arg);
		}
	}
	assert_int_equal(target_parse("pid:77", &t, err, sizeof(err)), 0);
	assert_int_equal(t.pid, 77);
}

static void
test_self(void **state)
{
	struct target_spec	spec;
	struct target		t;
	char			err[256];
	int			fd;

	(void)state;
	assert_int_equal(target_parse("self", &spec, err, sizeof(err)), 0);
	assert_true((fd = target_open_ns(&spec, err, sizeof(err))) >= 0);
	assert_int_equal(target_attach(fd, &t, err, sizeof(err)), 0);
	assert_true(t.self);
	assert_string_equal(t.procfs_how, "own /proc");
	assert_int_equal(target_pid_in_ns(&t, getpid()), getpid());
	target_detach(&t);
	spec.kind = TARGET_PID;
	spec.pid = 4194303;		/* never a live PID here */
	assert_int_equal(target_open_ns(&spec, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no process 4194303"));
}

/* PIDs listed by a procfs root. */
static int
list_pids(int procfd, int *out, int max)
{
	DIR		*dir = fdopendir(dup(procfd));
	struct dirent	*de;
	int		 n = 0;

	rewinddir(dir);
	while ((de = readdir(dir)) != NULL && n < max)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			out[n++] = atoi(de->d_name);
	closedir(dir);
	return n;
}

/* A child PID namespace: its init (host PID returned) and one more process. */
static pid_t
make_ns(int *readyfd)
{
	int	p[2];
	pid_t	outer;

	if (pipe(p) == -1)
		return -1;
	if ((outer = fork()) == 0) {
		/* unshare(CLONE_NEWPID) affects children: the next fork is PID 1. */
		if (unshare(CLONE_NEWPID) == -1)
			_exit(1);
		pid_t init = fork();
		if (init == 0) {
			if (fork() == 0) {
				pause();
				_exit(0);
			}
			if (write(p[1], "r", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		int st;
		waitpid(init, &st, 0);
		_exit(0);
	}
	close(p[1]);
	*readyfd = p[0];
	return outer;
}

static void
test_child_ns(void **state)
{
	struct target_spec	spec;
	struct target		t;
	char			err[256], c, path[64];
	int			rfd = -1, fd, pids[16], n, ways;
	pid_t			outer, init;
	FILE			*f;

	(void)state;
	if (geteuid() != 0) {
		printf("skipped: namespaces need root\n");
		skip();
	}
	outer = make_ns(&rfd);
	assert_true(outer > 0);
	assert_int_equal(read(rfd, &c, 1), 1);
	/* The init is the only child of outer. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", outer, outer);
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%d", &init), 1);
	fclose(f);
	for (ways = 0; ways < 2; ways++) {
		spec.kind = TARGET_PID;
		spec.pid = init;
		assert_true((fd = target_open_ns(&spec, err, sizeof(err))) >= 0);
		if (ways == 0) {
			assert_int_equal(target_attach(fd, &t, err, sizeof(err)), 0);
			assert_false(t.self);
			assert_string_equal(t.procfs_how, "pidns= mount");
			assert_int_equal(t.init_host_pid, init);
			assert_true(t.initfd >= 0);
		} else {
			memset(&t, 0, sizeof(t));
			t.nsfd = fd;
			t.initfd = -1;
			t.procfd = target_procfs_helper(fd);
			assert_true(t.procfd >= 0);
		}
		n = list_pids(t.procfd, pids, 16);
		assert_int_equal(n, 2);		/* its init and one child: 1 and 2 */
		assert_int_equal(pids[0], 1);
		assert_int_equal(pids[1], 2);
		assert_int_equal(target_pid_in_ns(&t, init), 1);
		assert_int_equal(target_pid_in_ns(&t, getpid()), 0);
		target_detach(&t);
	}
	kill(init, SIGKILL);
	waitpid(outer, NULL, 0);
	close(rfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_child_ns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
