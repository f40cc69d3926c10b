/*
 * procscan: the /proc floor of one snapshot, for `make bench`.
 *
 *   procscan [-r REPEATS] [-p PROCDIR]
 *
 * A pass lists PROCDIR and, for every numeric entry, opens, reads and closes
 * stat, status and cmdline (what a process list needs).  Nothing is parsed:
 * no monitor that reads those three files per process can be faster.
 * Prints: pids=N repeats=R median_ms= min_ms= max_ms= cpu_ms= bytes=
 * (cpu_ms: this program's user+system CPU per pass, from getrusage).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];

static long
slurp(int dir, const char *name)
{
	long	 n = 0;
	ssize_t	 r;
	int	 fd = openat(dir, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		n += r;
	close(fd);
	return n;
}

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	const char	*procdir = "/proc";
	int		 reps = 5, c, i;
	long		 pids = 0, bytes = 0;
	double		*t, c0;

	while ((c = getopt(argc, argv, "r:p:")) != -1) {
		if (c == 'r')
			reps = atoi(optarg);
		else if (c == 'p')
			procdir = optarg;
		else
			return 2;
	}
	if (reps < 1)
		reps = 1;
	t = calloc((size_t)reps, sizeof(*t));
	if (t == NULL)
		return 1;
	c0 = cpu_ms();
	for (i = 0; i < reps; i++) {
		double		 t0 = mono_ms();
		DIR		*d = opendir(procdir);
		struct dirent	*de;

		if (d == NULL) {
			perror(procdir);
			return 1;
		}
		pids = bytes = 0;
		while ((de = readdir(d)) != NULL) {
			long	 r;
			int	 pd;

			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			pd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (pd < 0)
				continue;
			if ((r = slurp(pd, "stat")) >= 0) {
				pids++;
				bytes += r;
				if ((r = slurp(pd, "status")) > 0)
					bytes += r;
				if ((r = slurp(pd, "cmdline")) > 0)
					bytes += r;
			}
			close(pd);
		}
		closedir(d);
		t[i] = mono_ms() - t0;
	}
	c0 = (cpu_ms() - c0) / reps;
	qsort(t, (size_t)reps, sizeof(*t), cmp);
	printf("pids=%ld repeats=%d median_ms=%.3f min_ms=%.3f max_ms=%.3f "
	    "cpu_ms=%.3f bytes=%ld\n", pids, reps, t[reps / 2], t[0],
	    t[reps - 1], c0, bytes);
	return 0;
}
