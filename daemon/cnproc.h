/*
 * The netlink proc connector (agent mode): a pure decoder of its messages and
 * per-CPU loss accounting, and a thin shell that subscribes and proves the
 * subscription by the kernel's ACK (kernel.md §1.3, §2.4).
 */
#ifndef PIDCAR_CNPROC_H
#define PIDCAR_CNPROC_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

enum cn_type {
	CN_NONE,	/* PROC_EVENT_NONE: the ACK of a control message */
	CN_FORK,
	CN_EXEC,
	CN_UID,
	CN_GID,
	CN_SID,
	CN_PTRACE,
	CN_COMM,
	CN_COREDUMP,
	CN_EXIT,
	CN_OTHER	/* a type this decoder does not know */
};

/* One decoded event.  PIDs are global (initial namespace) PIDs. */
struct cn_event {
	enum cn_type	 type;
	unsigned	 cpu;
	uint32_t	 seq;		/* cn_msg.seq: a per-CPU counter */
	uint32_t	 ack;		/* cn_msg.ack: ours + 1 on our ACK */
	uint64_t	 timestamp_ns;	/* CLOCK_MONOTONIC */
	pid_t		 pid;		/* the task (child for FORK) */
	pid_t		 tgid;
	pid_t		 ppid;		/* FORK, EXIT, COREDUMP: the parent; PTRACE: tracer */
	pid_t		 ptgid;
	uint32_t	 id_real;	/* UID/GID */
	uint32_t	 id_eff;
	int		 exit_code;	/* EXIT: wait status */
	int		 exit_signal;	/* EXIT: 17 for a process, -1 for a thread */
	uint32_t	 err;		/* NONE: the ACK's error */
	char		 comm[17];	/* COMM, NUL-terminated */
};

/*
 * Decodes one netlink message (nlmsghdr + cn_msg + proc_event) of len bytes.
 * Returns 0, or -1 when it is not a well-formed proc connector message.
 */
int	cnproc_decode(const void *msg, size_t len, struct cn_event *ev);

/* Per-CPU sequence tracking: gaps in cn_msg.seq count lost events exactly (§7). */
#define CNPROC_MAXCPU	1024
struct cn_seq {
	uint32_t	last[CNPROC_MAXCPU];
	uint8_t		seen[CNPROC_MAXCPU];
};

/* Returns how many events of this CPU were lost before seq (0 for the first seen). */
uint64_t cnproc_seq_gap(struct cn_seq *, unsigned cpu, uint32_t seq);
/* Forgets every CPU's position (after a resubscription). */
void	 cnproc_seq_reset(struct cn_seq *);

/* How a subscription went. */
enum cn_sub {
	CN_SUB_NONE,		/* no ACK: not in the initial namespaces, or no connector */
	CN_SUB_FILTERED,	/* struct proc_input accepted (6.6+) */
	CN_SUB_LEGACY		/* the 4-byte LISTEN accepted */
};

/*
 * Opens a connector socket, sets an rcvbuf of rcvbuf bytes (SO_RCVBUFFORCE,
 * else SO_RCVBUF), subscribes and waits up to timeout_ms for the ACK matched by
 * its ack number.  Returns the non-blocking fd with *sub set, or -1 with errno
 * (ECONNREFUSED in a non-initial network namespace) or *sub CN_SUB_NONE.
 * Events read while waiting are dropped: the caller resyncs from /proc anyway.
 * The subscription is never narrowed: filtered-out events still take per-CPU
 * sequence numbers, and the gaps would no longer count losses (kernel.md §1.3).
 */
int	cnproc_open(int rcvbuf, int timeout_ms, enum cn_sub *sub, int *rcvbuf_got);
/* Sends PROC_CN_MCAST_IGNORE (the listener count is global, §2.3), then closes. */
void	cnproc_close(int fd, enum cn_sub sub);

#endif
