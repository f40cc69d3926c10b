/*
 * Taskstats exit records (agent mode): the final CPU, memory high-water mark
 * and I/O of every exiting task, decoded (pure) from generic netlink, and the
 * per-CPU listener registration (kernel.md §10).
 */
#ifndef PIDCAR_TASKSTATS_H
#define PIDCAR_TASKSTATS_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/* One exiting task, global PIDs. */
struct ts_record {
	pid_t		 pid;		/* the task (thread) */
	pid_t		 tgid;
	pid_t		 ppid;		/* the process's real parent */
	int		 group_end;	/* AGROUP: the last task of its process */
	int		 exit_code;	/* wait status of this task */
	unsigned	 version;
	char		 comm[33];
	uint64_t	 utime_us;	/* tick-sampled (4 ms here) */
	uint64_t	 stime_us;
	uint64_t	 run_virtual_ns; /* precise, but 0 if never descheduled */
	uint64_t	 user_us;	/* run time split as getrusage does (below) */
	uint64_t	 system_us;
	uint64_t	 etime_us;	/* this task's lifetime */
	uint64_t	 hiwater_rss_kb;
	uint64_t	 read_bytes;	/* storage I/O */
	uint64_t	 write_bytes;
	uint64_t	 rchar;		/* rounded down to KiB by the kernel */
	uint64_t	 wchar;
};

/*
 * Decodes one TASKSTATS_CMD_NEW message (nlmsghdr + genlmsghdr + attributes)
 * into the AGGR_PID record.  Returns 0, or -1 when it holds none or is
 * malformed (including version 15, whose layout is broken).
 */
int	taskstats_decode(const void *msg, size_t len, struct ts_record *out);
/*
 * The CPU a parent's getrusage(RUSAGE_CHILDREN) will count for r: the task's
 * run time (sum_exec_runtime, precise) split between user and system in the
 * ratio of the tick samples, as the kernel's cputime_adjust does; the tick
 * samples alone when no run time was recorded.  Sets r->user_us, system_us;
 * summing threads' records first is the caller's (sums split the same way).
 */
void	taskstats_split(struct ts_record *r);

struct ts_listener;

/*
 * Opens a generic netlink socket, resolves the TASKSTATS family and registers
 * for exit records of every possible CPU.  Needs CAP_NET_ADMIN and the initial
 * user and PID namespaces.  Returns a listener, or NULL with errno (EPERM,
 * EINVAL outside the initial namespaces).
 */
struct ts_listener *taskstats_open(int rcvbuf);
/* Its socket, for the event loop. */
int	taskstats_fd(const struct ts_listener *);
/* Deregisters (a dead port stays registered until the next exit, §10.6) and closes. */
void	taskstats_close(struct ts_listener *);

#endif
