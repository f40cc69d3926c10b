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

size_t
utf8_len(const unsigned char *s, size_t n, unsigned long *cpp)
{
	unsigned long	cp;
	size_t		len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		len = 1;
		cp = s[0];
	} else if (s[0] < 0xc2)
		return 0;
	else if (s[0] < 0xe0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* jansson and Prometheus reject these too. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	if (cpp != NULL)
		*cpp = cp;
	return len;
}

const char *
regex_skip_bracket(const char *s)
{
	char	close;

	s++;
	if (*s == '^')
		s++;
	if (*s == ']')
		s++;
	for (; *s != '\0' && *s != ']'; s++) {
		if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
			close = s[1];
			for (s += 2; *s != '\0' && !(s[0] == close && s[1] == ']'); s++)
				;
			if (*s == '\0')
				return NULL;
			s++;
		}
	}
	return *s == ']' ? s : NULL;
}
