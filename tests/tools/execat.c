/*
 * execat PROG ARGS...: prints "PID SECONDS" (CLOCK_REALTIME, just before the
 * exec) on stdout, then executes PROG.  The start line of the exec-to-visible
 * latency measurement (tests/bench/exec_latency.py).
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct timespec	ts;

	if (argc < 2) {
		fprintf(stderr, "usage: execat PROG ARGS...\n");
		return 2;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%d %lld.%09ld\n", (int)getpid(), (long long)ts.tv_sec, ts.tv_nsec);
	fflush(stdout);
	execvp(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
