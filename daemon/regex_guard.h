/*
 * A guard in front of glibc's regcomp (pure): whether compiling an extended
 * regular expression could stall or exhaust the daemon.
 */
#ifndef PIDCAR_REGEX_GUARD_H
#define PIDCAR_REGEX_GUARD_H

enum {
	REGEX_OK,		/* compile it (regcomp still judges the syntax) */
	REGEX_TOO_BIG,		/* repeats too large or nested, or looping over empty */
	REGEX_BACKREF		/* \1 ... \9: matching could take exponential time */
};

/*
 * Estimates what regcomp would build from re: it copies the operand of x{n,m}
 * m times and of x+ twice, its closures grow with the square of the nodes that
 * may be skipped, and exponentially when *, + or {n,} repeat something that
 * can match empty (refused whatever its size).  Returns REGEX_OK, or why not,
 * with max_nodes as the limit.
 */
int	regex_guard(const char *re, unsigned long long max_nodes);

#endif
