/* Clocks and exit-status decoding shared by the modules. */
#include <sys/wait.h>
#include <time.h>

#include "daemon.h"

double
now_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
now_real(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum exit_outcome
exit_outcome_of(int wstatus)
{
	if (wstatus < 0)
		return EXIT_UNKNOWN;
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus) == 0 ? EXIT_ZERO : EXIT_NONZERO;
	if (WIFSIGNALED(wstatus))
		return EXIT_SIGNALED;
	return EXIT_UNKNOWN;
}

const char *
exit_outcome_name(enum exit_outcome o)
{
	static const char *names[EXIT_NOUTCOMES] = {
		"exited_zero", "exited_nonzero", "signaled", "unknown"
	};

	return (unsigned)o < EXIT_NOUTCOMES ? names[o] : "unknown";
}
