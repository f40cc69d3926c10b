/*
 * Perf side-band task records (sidecar source perf_task_events): a pure
 * decoder of FORK, EXIT, COMM and LOST records and of a ring's wrap-around,
 * and a thin shell that opens one PERF_COUNT_SW_DUMMY event per CPU and
 * drives the table through the poller (kernel.md §12.4).
 */
#ifndef PIDCAR_PERFEV_H
#define PIDCAR_PERFEV_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

enum perf_rec_type {
	PERF_REC_FORK,
	PERF_REC_EXIT,
	PERF_REC_COMM,
	PERF_REC_LOST,
	PERF_REC_OTHER		/* a type this decoder does not need */
};

/*
 * One decoded record.  PIDs are of the reader's PID namespace: 0 for a task
 * outside it (kernel.md §12.4).
 */
struct perf_rec {
	enum perf_rec_type	 type;
	int			 exec;		/* COMM: PERF_RECORD_MISC_COMM_EXEC */
	pid_t			 pid;		/* the task's process */
	pid_t			 tid;		/* the task: pid != tid is a thread */
	pid_t			 ppid;		/* FORK, EXIT: the parent's process */
	pid_t			 ptid;
	uint64_t		 time;		/* FORK, EXIT: perf clock, ns */
	uint64_t		 lost;		/* LOST: records dropped */
	char			 comm[17];	/* COMM, NUL-terminated */
};

/*
 * Decodes one record of len bytes (perf_event_header included, attributes
 * without sample_id_all).  Returns 0, or -1 when it is malformed.
 */
int	perfev_decode(const void *rec, size_t len, struct perf_rec *r);

/*
 * Copies the record at position tail of a ring of size bytes (a power of
 * two; positions grow without bound, as data_head and data_tail do) into buf
 * of cap bytes, joining the two parts of a record that wraps.  Returns its
 * size (the amount to advance tail by), or 0 when no whole, sane record lies
 * before head.  A record longer than cap is skipped: only its header is copied.
 */
size_t	perfev_ring_copy(const unsigned char *data, uint64_t size,
	    uint64_t head, uint64_t tail, void *buf, size_t cap);

struct daemon;
struct perfev;
struct poller;

/*
 * Opens the dummy event on every online CPU and maps a ring on each (before
 * privileges are dropped).  Returns NULL with errno (EACCES without
 * CAP_PERFMON or CAP_SYS_ADMIN at perf_event_paranoid > 0).
 */
struct perfev	*perfev_open(void);
/* Drives the table from the rings on d->base; the probe stops meanwhile. */
void		 perfev_start(struct perfev *, struct daemon *, struct poller *);
/* CPUs watched and the ring size per CPU, for the log. */
int		 perfev_ncpus(const struct perfev *);
size_t		 perfev_ring_bytes(const struct perfev *);
/* Unmaps and closes everything; NULL is a no-op.  Call before poller_free. */
void		 perfev_free(struct perfev *);

#endif
