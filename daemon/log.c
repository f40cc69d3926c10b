/* Logging to stderr with a level prefix; the journal or the terminal adds the time. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static enum log_level log_level = LOG_LVL_INFO;
static unsigned long log_nwarn;

void
log_init(enum log_level level)
{
	log_level = level;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void
log_setlevel(enum log_level level)
{
	log_level = level;
}

enum log_level
log_getlevel(void)
{
	return log_level;
}

unsigned long
log_warnings(void)
{
	return log_nwarn;
}

static void
vlog(enum log_level level, const char *prefix, const char *fmt, va_list ap,
    const char *suffix)
{
	char	msg[1024];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suffix != NULL)
		fprintf(stderr, "pidcar: %s%s: %s\n", prefix, msg, suffix);
	else
		fprintf(stderr, "pidcar: %s%s\n", prefix, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	log_nwarn++;
	va_start(ap, fmt);
	vlog(LOG_LVL_WARNING, "warning: ", fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	log_nwarn++;
	va_start(ap, fmt);
	vlog(LOG_LVL_WARNING, "warning: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_INFO, "", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_DEBUG, "debug: ", fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, "fatal: ", fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, "fatal: ", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
