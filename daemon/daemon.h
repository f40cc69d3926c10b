/* The daemon's state, built in main and passed to every module: no mutable globals. */
#ifndef PIDCAR_DAEMON_H
#define PIDCAR_DAEMON_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct config;
struct ptable;
struct poller;
struct refresh;
struct http;
struct users;
struct groups;
struct events;

enum exit_outcome {
	EXIT_ZERO,		/* exited_zero */
	EXIT_NONZERO,		/* exited_nonzero */
	EXIT_SIGNALED,		/* signaled */
	EXIT_UNKNOWN,		/* unknown: the status could not be read */
	EXIT_NOUTCOMES
};

struct counters {
	uint64_t	 forks;		/* processes discovered (sidecar) or FORKs (agent) */
	uint64_t	 execs;		/* sidecar: a new comm with a new exe or cmdline */
	uint64_t	 exits[EXIT_NOUTCOMES];
	uint64_t	 read_errors;	/* /proc reads that failed for a live process */
	uint64_t	 scans;		/* full /proc diffs */
	uint64_t	 probes;	/* ns_last_pid probes that moved */
	uint64_t	 refreshes;	/* stats refreshes completed */
	uint64_t	 resyncs;
	uint64_t	 events_lost;	/* agent: ENOBUFS episodes + per-CPU seq gaps */
	uint64_t	 pidfd_short;	/* processes watched without a pidfd (fd limit) */
	uint64_t	 perf_records;	/* sidecar: side-band records read, outsiders' too */
	uint64_t	 requests;
	uint64_t	 ts_joined;	/* agent: exits whose taskstats record was found */
	uint64_t	 ts_missing;	/* agent: exits of the target without one */
	uint64_t	 ts_lost;	/* taskstats receive buffer overruns */
	uint64_t	 attaches;	/* the target attached again after it was gone */
};

/* Kernel interfaces detected at start, never assumed. */
struct features {
	char		 release[65];	/* uname -r */
	int		 pidfd;		/* pidfd_open works */
	int		 pidfd_info_exit;	/* PIDFD_GET_INFO + PIDFD_INFO_EXIT (6.15+) */
	int		 ns_last_pid;	/* /proc/sys/kernel/ns_last_pid readable */
	int		 fd_count_stat;	/* st_size of /proc/PID/fd is the count (6.2+) */
	int		 perf;		/* sidecar: perf side-band task records open */
	int		 perf_errno;	/* why not (EACCES: no CAP_PERFMON), 0 */
	int		 fanotify;	/* sidecar: FAN_OPEN_EXEC marks in place */
	int		 fanotify_errno;	/* why not (EPERM: no CAP_SYS_ADMIN), 0 */
};

struct daemon {
	struct event_base	*base;
	struct config		*conf;		/* owned; replaced whole on reload */
	char			*const *envp;
	struct config_args	*args;
	struct ptable		*pt;
	struct poller		*poller;
	struct refresh		*refresh;
	struct http		*http;
	struct users		*users;		/* target's /etc/passwd */
	struct groups		*groups;	/* owned; survives reloads */
	struct events		*events;	/* lifecycle event ring */
	const char		*users_file;	/* where the names came from */
	int			 procfd;	/* O_DIRECTORY fd of the target's procfs */
	int			 nsfd;		/* agent mode: the target's pid ns; -1 in sidecar */
	const char		*mode;		/* "agent" | "sidecar" */
	const char		*source;	/* "procfs_poll" ... */
	int			 target_up;
	int			 ready;		/* first scan done */
	int			 execs_from_events;	/* perf: every exec counted as it happens */
	int			 taskstats;	/* agent: exit records joined */
	long			 clk_tck;
	long			 page_size;
	unsigned long long	 btime;		/* boot time, seconds since the epoch */
	double			 started;	/* epoch seconds */
	double			 last_scrape;	/* seconds the last /metrics took */
	struct counters		 c;
	pid_t			 self_pid;	/* our own PID as the target sees it, or 0 */
	pid_t			 init_host_pid;	/* the target's PID 1 in pidcar's namespace */
	unsigned long long	 pidns_ino;	/* inode of the target's PID namespace */
	struct features		 feat;
	double			 refreshed_at;	/* epoch seconds of the last stats refresh, 0 none */
	double			 refresh_took;	/* seconds the last refresh took */
};

/* Seconds on CLOCK_MONOTONIC. */
double	now_mono(void);
/* Seconds since the epoch, CLOCK_REALTIME. */
double	now_real(void);
/*
 * Length of the valid UTF-8 sequence at s (n bytes left), 0 when none starts
 * there (overlong forms, surrogates and beyond U+10FFFF are invalid); *cp, when
 * not NULL, gets the code point.
 */
size_t	utf8_len(const unsigned char *s, size_t n, unsigned long *cp);
/*
 * The ']' that ends the POSIX bracket expression starting at s ('['), or NULL
 * when it is unterminated (regcomp then says why).  For the regex cost guards.
 */
const char *regex_skip_bracket(const char *s);
/* Maps a wait status to an outcome (-1: unknown). */
enum exit_outcome	exit_outcome_of(int wstatus);
/* The metric label value of an outcome. */
const char		*exit_outcome_name(enum exit_outcome);

#endif
