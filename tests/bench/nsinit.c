/*
 * nsinit: PID 1 of a throw-away target namespace for `make bench`.
 *
 *   unshare --pid --fork --mount-proc nsinit N [-d DEPTH] [-w W] [-t T] [-g G]
 *
 * Creates N processes that sleep in pause(): chains of DEPTH (each process
 * forks the next link), the first W processes with T extra threads each, and
 * the comm names bench00..bench(G-1) spread over them.  Prints "ready N SECS"
 * on stdout once every process exists, then reaps whatever it inherits (the
 * storms and burners of the bench run in here too).  SIGTERM: kill(-1) every
 * member, SIGKILL after 5 s, exit; the namespace goes with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int ready_fd = -1;

static void *
sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void
alarm_kill(int sig)
{
	(void)sig;
	kill(-1, SIGKILL);
}

/* One member: name itself, start its threads, fork the rest of its chain. */
static void __attribute__((noreturn))
member(int idx, int left, int w, int t, int g)
{
	char		 name[16];
	pthread_t	 th;
	sigset_t	 none;
	int		 i, fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	for (;;) {
		snprintf(name, sizeof(name), "bench%02d", idx % g);
		prctl(PR_SET_NAME, name, 0, 0, 0);
		for (i = 0; idx < w && i < t; i++)
			if (pthread_create(&th, NULL, sleeper, NULL) != 0)
				break;
		if (left > 1) {
			pid_t p = fork();

			if (p == 0) {
				idx++;
				left--;
				continue;
			}
		}
		break;
	}
	if (write(ready_fd, "x", 1) != 1)
		_exit(1);
	close(ready_fd);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	for (;;)
		pause();
}

int
main(int argc, char **argv)
{
	int		 n, d = 4, w = 50, t = 2, g = 8, c, i, pfd[2], got = 0;
	sigset_t	 set;
	struct timespec	 t0, t1;
	char		 buf[4096];

	if (argc < 2 || (n = atoi(argv[1])) < 0) {
		fprintf(stderr, "usage: nsinit N [-d depth] [-w W] [-t T] [-g G]\n");
		return 2;
	}
	optind = 2;
	while ((c = getopt(argc, argv, "d:w:t:g:")) != -1) {
		switch (c) {
		case 'd': d = atoi(optarg); break;
		case 'w': w = atoi(optarg); break;
		case 't': t = atoi(optarg); break;
		case 'g': g = atoi(optarg); break;
		default: return 2;
		}
	}
	if (d < 1 || g < 1)
		return 2;
	prctl(PR_SET_NAME, "nsinit", 0, 0, 0);
	/* Signals are taken synchronously below; members restore them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return 1;
	ready_fd = pfd[1];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i += d) {
		int	 len = n - i < d ? n - i : d;
		pid_t	 p = fork();

		if (p == 0) {
			close(pfd[0]);
			member(i, len, w, t, g);
		}
		if (p < 0) {
			perror("nsinit: fork");
			kill(-1, SIGKILL);
			return 1;
		}
	}
	close(pfd[1]);
	while (got < n) {
		ssize_t r = read(pfd[0], buf, sizeof(buf));

		if (r <= 0 && errno != EINTR)
			break;
		if (r > 0)
			got += (int)r;
	}
	close(pfd[0]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (got < n) {
		fprintf(stderr, "nsinit: %d of %d processes ready\n", got, n);
		kill(-1, SIGKILL);
		return 1;
	}
	printf("ready %d %.3f\n", got, (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	fflush(stdout);
	for (;;) {
		int sig = sigwaitinfo(&set, NULL);

		if (sig == SIGTERM || sig == SIGINT)
			break;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			continue;
	}
	signal(SIGALRM, alarm_kill);
	kill(-1, SIGTERM);
	alarm(5);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		continue;
	return 0;
}
