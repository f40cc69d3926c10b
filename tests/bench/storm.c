/*
 * storm: fork or fork+exec at the machine's full rate, counting exactly.
 *
 *   storm [-m fork|exec] [-k WORKERS] [-d SECONDS] [-x PATH] [-a]
 *
 * K workers (re-executed as "stormworker") each fork as fast as they can for
 * D seconds: in fork mode the child _exit(0)s at once, in exec mode it execs
 * PATH (default /bin/true); the worker waits for it and counts it.  With -a
 * it prints "armed" on stderr and starts only on SIGUSR1, so that listeners
 * can subscribe first.  Prints on stdout:
 *   created=C workers=K mode=M seconds=S rate=C/S failed=F
 * Processes in the namespace that this run made: 1 (storm) + K + C.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
worker(char **argv)
{
	unsigned long long	 made = 0, failed = 0;
	int			 exec_mode = strcmp(argv[1], "exec") == 0, st;
	double			 end = strtod(argv[2], NULL);
	char *const		 targv[] = { (char *)"true", NULL };

	while (mono() < end) {
		pid_t p = fork();

		if (p == 0) {
			if (exec_mode)
				execv(argv[3], targv);
			_exit(exec_mode ? 127 : 0);
		}
		if (p < 0) {
			failed++;
			usleep(1000);
			continue;
		}
		made++;
		while (waitpid(p, &st, 0) < 0 && errno == EINTR)
			continue;
	}
	printf("%llu %llu\n", made, failed);
	return 0;
}

int
main(int argc, char **argv)
{
	const char		*mode = "exec", *path = "/bin/true";
	int			 k = 2, armed = 0, c, i, pfd[2];
	double			 dur = 5, t0;
	unsigned long long	 made = 0, failed = 0, a, f;
	char			 end[64];
	FILE			*in;

	if (strcmp(argv[0], "stormworker") == 0 && argc == 4)
		return worker(argv);
	while ((c = getopt(argc, argv, "m:k:d:x:a")) != -1) {
		switch (c) {
		case 'm': mode = optarg; break;
		case 'k': k = atoi(optarg); break;
		case 'd': dur = strtod(optarg, NULL); break;
		case 'x': path = optarg; break;
		case 'a': armed = 1; break;
		default: return 2;
		}
	}
	if (k < 1 || dur <= 0 || (strcmp(mode, "fork") && strcmp(mode, "exec")))
		return 2;
	if (armed) {
		sigset_t	 set;
		int		 sig;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		fprintf(stderr, "armed\n");
		fflush(stderr);
		sigwait(&set, &sig);
	}
	if (pipe(pfd) < 0)
		return 1;
	t0 = mono();
	snprintf(end, sizeof(end), "%.6f", t0 + dur);
	for (i = 0; i < k; i++) {
		pid_t p = fork();

		if (p == 0) {
			char *wargv[] = { (char *)"stormworker", (char *)mode,
			    end, (char *)path, NULL };

			dup2(pfd[1], 1);
			close(pfd[0]);
			close(pfd[1]);
			execv("/proc/self/exe", wargv);
			_exit(1);
		}
	}
	close(pfd[1]);
	in = fdopen(pfd[0], "r");
	for (i = 0; i < k && in != NULL; i++)
		if (fscanf(in, "%llu %llu", &a, &f) == 2) {
			made += a;
			failed += f;
		}
	while (wait(NULL) > 0)
		continue;
	printf("created=%llu workers=%d mode=%s seconds=%.3f rate=%.1f failed=%llu\n",
	    made, k, mode, mono() - t0, (double)made / (mono() - t0), failed);
	return 0;
}
