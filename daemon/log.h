/* Logging to stderr with levels, in the style of OpenBSD's log.c. */
#ifndef PIDCAR_LOG_H
#define PIDCAR_LOG_H

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARNING, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the lowest level printed; messages go to stderr. */
void log_init(enum log_level level);
/* Changes the level at run time (SIGHUP). */
void log_setlevel(enum log_level level);
enum log_level log_getlevel(void);
/* Counts warnings logged so far (tests and status read it). */
unsigned long log_warnings(void);

/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Logs and exits 1: only at start-up, on OOM and for broken invariants. */
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
