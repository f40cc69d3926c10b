/*
 * The netlink proc connector: decoding its messages (pure) and subscribing
 * with proof by ACK.  Not the event loop's handler: the agent mode owns that.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include "cnproc.h"

/* struct proc_input (6.6+), missing from Debian 12's 6.1 uapi headers. */
struct cnproc_input {
	uint32_t	mcast_op;
	uint32_t	event_type;
};
#define CNPROC_EVENT_ALL	0xe00003c7u	/* PROC_EVENT_ALL of 6.6+ */

/* Bytes of the event body each type needs after proc_event's header. */
static size_t
body_size(uint32_t what)
{
	const struct proc_event	*pe = NULL;

	switch (what) {
	case PROC_EVENT_NONE:		return sizeof(pe->event_data.ack);
	case PROC_EVENT_FORK:		return sizeof(pe->event_data.fork);
	case PROC_EVENT_EXEC:		return sizeof(pe->event_data.exec);
	case PROC_EVENT_UID:
	case PROC_EVENT_GID:		return sizeof(pe->event_data.id);
	case PROC_EVENT_SID:		return sizeof(pe->event_data.sid);
	case PROC_EVENT_PTRACE:		return sizeof(pe->event_data.ptrace);
	case PROC_EVENT_COMM:		return sizeof(pe->event_data.comm);
	case PROC_EVENT_COREDUMP:	return sizeof(pe->event_data.coredump);
	case PROC_EVENT_EXIT:		return sizeof(pe->event_data.exit);
	default:			return 0;
	}
}

static void
decode_body(const struct proc_event *pe, struct cn_event *ev)
{
	switch (pe->what) {
	case PROC_EVENT_NONE:
		ev->type = CN_NONE;
		ev->err = pe->event_data.ack.err;
		break;
	case PROC_EVENT_FORK:
		ev->type = CN_FORK;
		ev->ppid = pe->event_data.fork.parent_pid;
		ev->ptgid = pe->event_data.fork.parent_tgid;
		ev->pid = pe->event_data.fork.child_pid;
		ev->tgid = pe->event_data.fork.child_tgid;
		break;
	case PROC_EVENT_EXEC:
		ev->type = CN_EXEC;
		ev->pid = pe->event_data.exec.process_pid;
		ev->tgid = pe->event_data.exec.process_tgid;
		break;
	case PROC_EVENT_UID:
	case PROC_EVENT_GID:
		ev->type = pe->what == PROC_EVENT_UID ? CN_UID : CN_GID;
		ev->pid = pe->event_data.id.process_pid;
		ev->tgid = pe->event_data.id.process_tgid;
		ev->id_real = pe->event_data.id.r.ruid;
		ev->id_eff = pe->event_data.id.e.euid;
		break;
	case PROC_EVENT_SID:
		ev->type = CN_SID;
		ev->pid = pe->event_data.sid.process_pid;
		ev->tgid = pe->event_data.sid.process_tgid;
		break;
	case PROC_EVENT_PTRACE:
		ev->type = CN_PTRACE;
		ev->pid = pe->event_data.ptrace.process_pid;
		ev->tgid = pe->event_data.ptrace.process_tgid;
		ev->ppid = pe->event_data.ptrace.tracer_pid;
		ev->ptgid = pe->event_data.ptrace.tracer_tgid;
		break;
	case PROC_EVENT_COMM:
		ev->type = CN_COMM;
		ev->pid = pe->event_data.comm.process_pid;
		ev->tgid = pe->event_data.comm.process_tgid;
		memcpy(ev->comm, pe->event_data.comm.comm, 16);
		ev->comm[16] = '\0';
		break;
	case PROC_EVENT_COREDUMP:
		ev->type = CN_COREDUMP;
		ev->pid = pe->event_data.coredump.process_pid;
		ev->tgid = pe->event_data.coredump.process_tgid;
		ev->ppid = pe->event_data.coredump.parent_pid;
		ev->ptgid = pe->event_data.coredump.parent_tgid;
		break;
	case PROC_EVENT_EXIT:
		ev->type = CN_EXIT;
		ev->pid = pe->event_data.exit.process_pid;
		ev->tgid = pe->event_data.exit.process_tgid;
		ev->exit_code = (int)pe->event_data.exit.exit_code;
		ev->exit_signal = (int)pe->event_data.exit.exit_signal;
		ev->ppid = pe->event_data.exit.parent_pid;
		ev->ptgid = pe->event_data.exit.parent_tgid;
		break;
	default:
		ev->type = CN_OTHER;
		break;
	}
}

int
cnproc_decode(const void *msg, size_t len, struct cn_event *ev)
{
	const size_t		 head = offsetof(struct proc_event, event_data);
	struct nlmsghdr		 nh;
	struct cn_msg		 cn;
	struct proc_event	 pe;
	size_t			 need;

	memset(ev, 0, sizeof(*ev));
	if (len < NLMSG_HDRLEN + sizeof(cn))
		return -1;
	/* memcpy, not casts: proc_event sits at offset 36, not 8-aligned. */
	memcpy(&nh, msg, sizeof(nh));
	if (nh.nlmsg_len < NLMSG_HDRLEN + sizeof(cn) || nh.nlmsg_len > len)
		return -1;
	memcpy(&cn, (const char *)msg + NLMSG_HDRLEN, sizeof(cn));
	if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC)
		return -1;
	if ((size_t)cn.len > nh.nlmsg_len - NLMSG_HDRLEN - sizeof(cn) ||
	    cn.len < head)
		return -1;
	memset(&pe, 0, sizeof(pe));
	memcpy(&pe, (const char *)msg + NLMSG_HDRLEN + sizeof(cn),
	    cn.len < sizeof(pe) ? cn.len : sizeof(pe));
	need = body_size(pe.what);
	if (cn.len < head + need)
		return -1;
	ev->cpu = pe.cpu;
	ev->seq = cn.seq;
	ev->ack = cn.ack;
	ev->timestamp_ns = pe.timestamp_ns;
	decode_body(&pe, ev);
	return 0;
}

uint64_t
cnproc_seq_gap(struct cn_seq *s, unsigned cpu, uint32_t seq)
{
	uint32_t	gap;

	if (cpu >= CNPROC_MAXCPU)
		return 0;
	if (!s->seen[cpu]) {
		s->seen[cpu] = 1;
		s->last[cpu] = seq;
		return 0;
	}
	/* Unsigned arithmetic wraps with the kernel's 32-bit counter. */
	gap = seq - s->last[cpu] - 1;
	s->last[cpu] = seq;
	/* A counter that went backwards is a resubscription, not 4 billion losses. */
	return gap > UINT32_MAX / 2 ? 0 : gap;
}

void
cnproc_seq_reset(struct cn_seq *s)
{
	memset(s->seen, 0, sizeof(s->seen));
}

static int
send_op(int fd, uint32_t op, int filtered, uint32_t ack)
{
	char			 buf[NLMSG_SPACE(sizeof(struct cn_msg) +
				    sizeof(struct cnproc_input))];
	struct nlmsghdr		*nh = (struct nlmsghdr *)(void *)buf;
	struct cn_msg		 cn;
	struct cnproc_input	 in;
	struct sockaddr_nl	 to;
	size_t			 dlen = filtered ? sizeof(in) : sizeof(op);

	memset(buf, 0, sizeof(buf));
	nh->nlmsg_len = NLMSG_LENGTH(sizeof(cn) + dlen);
	nh->nlmsg_type = NLMSG_DONE;
	nh->nlmsg_pid = 0;
	memset(&cn, 0, sizeof(cn));
	cn.id.idx = CN_IDX_PROC;
	cn.id.val = CN_VAL_PROC;
	cn.ack = ack;
	cn.len = (uint16_t)dlen;
	memcpy(buf + NLMSG_HDRLEN, &cn, sizeof(cn));
	in.mcast_op = op;
	in.event_type = CNPROC_EVENT_ALL;
	memcpy(buf + NLMSG_HDRLEN + sizeof(cn), filtered ? (void *)&in :
	    (void *)&op, dlen);
	memset(&to, 0, sizeof(to));
	to.nl_family = AF_NETLINK;
	if (sendto(fd, buf, nh->nlmsg_len, 0, (struct sockaddr *)&to,
	    sizeof(to)) == -1)
		return -1;
	return 0;
}

static long long
ms_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits for the ACK whose cn_msg.ack is ours + 1: ACKs are multicast, so other
 * listeners' ACKs arrive too, and its seq is overwritten (§1.3).  1, 0 or -1.
 */
static int
wait_ack(int fd, uint32_t ack, int timeout_ms)
{
	long long	deadline = ms_now() + timeout_ms, left;
	char		buf[8192];
	struct cn_event	ev;

	while ((left = deadline - ms_now()) > 0) {
		struct pollfd	pfd = { fd, POLLIN, 0 };
		ssize_t		n;
		size_t		off;

		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if ((n = recv(fd, buf, sizeof(buf), 0)) == -1) {
			if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
				continue;
			return -1;
		}
		for (off = 0; off + NLMSG_HDRLEN <= (size_t)n;) {
			struct nlmsghdr	nh;

			memcpy(&nh, buf + off, sizeof(nh));
			if (nh.nlmsg_len < NLMSG_HDRLEN ||
			    off + nh.nlmsg_len > (size_t)n)
				break;
			if (cnproc_decode(buf + off, nh.nlmsg_len, &ev) == 0 &&
			    ev.type == CN_NONE && ev.ack == ack + 1) {
				if (ev.err == 0)
					return 1;
				errno = (int)ev.err;
				return -1;
			}
			off += NLMSG_ALIGN(nh.nlmsg_len);
		}
	}
	return 0;
}

static int
set_rcvbuf(int fd, int want)
{
	int		got = 0;
	socklen_t	len = sizeof(got);

	/* SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF stops at rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len);
	return got;
}

int
cnproc_open(int rcvbuf, int timeout_ms, enum cn_sub *sub, int *rcvbuf_got)
{
	struct sockaddr_nl	sa;
	uint32_t		ack;
	int			fd, r, saved;

	*sub = CN_SUB_NONE;
	fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    NETLINK_CONNECTOR);
	if (fd == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = CN_IDX_PROC;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		goto fail;
	*rcvbuf_got = set_rcvbuf(fd, rcvbuf);
	ack = (uint32_t)getpid() ^ (uint32_t)ms_now() ^ 0x70696463u;
	/* Kernels before 6.6 drop a control message that is not 4 bytes: no ACK. */
	if (send_op(fd, PROC_CN_MCAST_LISTEN, 1, ack) == -1)
		goto fail;
	if ((r = wait_ack(fd, ack, timeout_ms)) == 1) {
		*sub = CN_SUB_FILTERED;
		return fd;
	}
	if (r == -1)
		goto fail;
	ack += 2;
	if (send_op(fd, PROC_CN_MCAST_LISTEN, 0, ack) == -1)
		goto fail;
	if ((r = wait_ack(fd, ack, timeout_ms)) == 1) {
		*sub = CN_SUB_LEGACY;
		return fd;
	}
	if (r == -1)
		goto fail;
	/* Ignored (not in the initial namespaces): nothing to undo. */
	close(fd);
	return -1;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

void
cnproc_close(int fd, enum cn_sub sub)
{
	if (fd == -1)
		return;
	if (sub != CN_SUB_NONE)
		send_op(fd, PROC_CN_MCAST_IGNORE, sub == CN_SUB_FILTERED, 0);
	close(fd);
}
