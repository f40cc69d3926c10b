/*
 * burn: short-lived CPU burners with a known total CPU, for `make bench`.
 *
 *   burn -x PATH_OF_burn5ms [-n COUNT] [-m MS] [-j PARALLEL] [-l LINGER_S] [-a]
 *
 * The parent ("burnparent") starts COUNT children, PARALLEL at a time; each
 * execs PATH (this program under the name burn5ms, so its comm is "burn5ms")
 * which spins on its own CPU clock for MS milliseconds and exits.  The truth
 * is the parent's getrusage(RUSAGE_CHILDREN) after the last wait: the CPU of
 * every child, to the microsecond, fork and exec included.  With -a it prints
 * "armed" on stderr and starts on SIGUSR1.  After printing, the parent lives
 * on for LINGER_S seconds (a monitor may credit reaped children's CPU to it,
 * as it sees its cutime grow).  Prints on stdout:
 *   burners=N ms=M children_user_s= children_system_s= children_cpu_s=
 *   self_cpu_s= seconds=
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	const char	*path = NULL, *base = strrchr(argv[0], '/');
	int		 n = 2000, ms = 5, par = 1, armed = 0, c, started = 0, live = 0;
	double		 linger = 0;
	double		 t0;
	struct rusage	 ru, self;

	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "burn5ms") == 0) {
		double end = clock_s(CLOCK_PROCESS_CPUTIME_ID) +
		    (argc > 1 ? atof(argv[1]) : 5) / 1e3;
		volatile unsigned long x = 0;

		while (clock_s(CLOCK_PROCESS_CPUTIME_ID) < end)
			for (c = 0; c < 1000; c++)
				x += (unsigned long)c;
		return 0;
	}
	while ((c = getopt(argc, argv, "x:n:m:j:l:a")) != -1) {
		switch (c) {
		case 'x': path = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'm': ms = atoi(optarg); break;
		case 'j': par = atoi(optarg); break;
		case 'l': linger = atof(optarg); break;
		case 'a': armed = 1; break;
		default: return 2;
		}
	}
	if (path == NULL || n < 1 || ms < 1 || par < 1) {
		fprintf(stderr, "usage: burn -x PATH_OF_burn5ms [-n N] [-m MS] [-j PAR] [-a]\n");
		return 2;
	}
	prctl(PR_SET_NAME, "burnparent", 0, 0, 0);
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
	t0 = clock_s(CLOCK_MONOTONIC);
	while (started < n || live > 0) {
		if (started < n && live < par) {
			char	 arg[16];
			pid_t	 p;

			snprintf(arg, sizeof(arg), "%d", ms);
			p = fork();
			if (p == 0) {
				execl(path, "burn5ms", arg, (char *)NULL);
				_exit(127);
			}
			if (p > 0) {
				started++;
				live++;
			}
			continue;
		}
		if (wait(NULL) > 0)
			live--;
		else if (errno != EINTR)
			break;
	}
	getrusage(RUSAGE_CHILDREN, &ru);
	getrusage(RUSAGE_SELF, &self);
	printf("burners=%d ms=%d children_user_s=%.6f children_system_s=%.6f "
	    "children_cpu_s=%.6f self_cpu_s=%.6f seconds=%.3f\n", n, ms,
	    tv(ru.ru_utime), tv(ru.ru_stime), tv(ru.ru_utime) + tv(ru.ru_stime),
	    tv(self.ru_utime) + tv(self.ru_stime),
	    clock_s(CLOCK_MONOTONIC) - t0);
	fflush(stdout);
	if (linger > 0)		/* a parent that lives on, as shells and supervisors do */
		usleep((useconds_t)(linger * 1e6));
	return 0;
}
