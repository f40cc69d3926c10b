/*
 * cnlisten: a bare proc-connector listener, the floor of event capture.
 *
 *   cnlisten -r ROOT_HOST_PID [-b RCVBUF_BYTES]
 *
 * Subscribes (PROC_CN_MCAST_LISTEN) and waits for the kernel's ACK to it
 * (matched by the ack number), prints "listening" on stderr, then counts
 * until SIGTERM: FORK events of the process tree under ROOT (children =
 * depth 1, grandchildren = depth 2: a storm's workers and what they create),
 * all events, and ENOBUFS returns.  One recv per message, nothing else: no
 * /proc reads.  Sends PROC_CN_MCAST_IGNORE before closing (the kernel's
 * listener count is global).  Prints on stdout:
 *   forks_d1= forks_d2= events= nobufs= rcvbuf= cpu_s=
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PID_LIMIT	(1 << 22)

static unsigned char		 depth[PID_LIMIT];	/* 0: not in the tree, else depth + 1 */
static volatile sig_atomic_t	 stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int
mcast(int s, enum proc_cn_mcast_op op, unsigned int ack)
{
	struct {
		struct nlmsghdr		 nl;
		struct cn_msg		 cn;
		enum proc_cn_mcast_op	 op;
	} __attribute__((packed)) m;

	memset(&m, 0, sizeof(m));
	m.nl.nlmsg_len = sizeof(m);
	m.nl.nlmsg_type = NLMSG_DONE;
	m.nl.nlmsg_pid = (unsigned int)getpid();
	m.cn.id.idx = CN_IDX_PROC;
	m.cn.id.val = CN_VAL_PROC;
	m.cn.seq = ack;
	m.cn.ack = ack;
	m.cn.len = sizeof(m.op);
	m.op = op;
	return send(s, &m, sizeof(m), 0) == (ssize_t)sizeof(m) ? 0 : -1;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int
main(int argc, char **argv)
{
	long			 root = 0, rcvbuf = 0;
	int			 s, c, acked = 0, rb = 0;
	unsigned int		 ack = (unsigned int)getpid() * 2654435761u;
	unsigned long long	 d1 = 0, d2 = 0, events = 0, nobufs = 0;
	struct sockaddr_nl	 sa;
	struct sigaction	 act;
	socklen_t		 sl = sizeof(rb);
	char			 b[8192] __attribute__((aligned(NLMSG_ALIGNTO)));

	while ((c = getopt(argc, argv, "r:b:")) != -1) {
		if (c == 'r')
			root = atol(optarg);
		else if (c == 'b')
			rcvbuf = atol(optarg);
		else
			return 2;
	}
	if (root <= 0 || root >= PID_LIMIT) {
		fprintf(stderr, "usage: cnlisten -r ROOT_HOST_PID [-b RCVBUF]\n");
		return 2;
	}
	depth[root] = 1;
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_term;	/* no SA_RESTART: recv returns EINTR */
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (s < 0) {
		perror("cnlisten: socket");
		return 1;
	}
	if (rcvbuf > 0 && setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	    sizeof(int)) < 0)
		perror("cnlisten: SO_RCVBUFFORCE");
	getsockopt(s, SOL_SOCKET, SO_RCVBUF, &rb, &sl);
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = CN_IDX_PROC;
	sa.nl_pid = (unsigned int)getpid();
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    mcast(s, PROC_CN_MCAST_LISTEN, ack) < 0) {
		perror("cnlisten: bind/listen");
		return 1;
	}
	while (!stop) {
		struct nlmsghdr	*nh;
		struct cn_msg	*cn;
		struct proc_event *ev;
		ssize_t		 len;

		if (!acked) {
			struct pollfd pfd = { .fd = s, .events = POLLIN };

			if (poll(&pfd, 1, 3000) <= 0) {
				fprintf(stderr, "cnlisten: no ACK to LISTEN\n");
				mcast(s, PROC_CN_MCAST_IGNORE, ack);
				close(s);
				return 1;
			}
		}
		len = recv(s, b, sizeof(b), 0);
		if (len < 0) {
			if (errno == ENOBUFS)
				nobufs++;
			continue;
		}
		for (nh = (struct nlmsghdr *)(void *)b; NLMSG_OK(nh, (size_t)len);
		    nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_type == NLMSG_ERROR ||
			    nh->nlmsg_type == NLMSG_NOOP)
				continue;
			cn = NLMSG_DATA(nh);
			if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
				continue;
			ev = (struct proc_event *)(void *)cn->data;
			if (ev->what == PROC_EVENT_NONE) {
				if (!acked && cn->ack == ack + 1) {
					acked = 1;
					fprintf(stderr, "listening\n");
				}
				continue;
			}
			events++;
			if (ev->what == PROC_EVENT_FORK) {
				pid_t pt = ev->event_data.fork.parent_tgid;
				pid_t ct = ev->event_data.fork.child_tgid;

				if (ev->event_data.fork.child_pid != ct || ct <= 0 ||
				    ct >= PID_LIMIT)
					continue;	/* a thread */
				depth[ct] = 0;		/* a recycled PID */
				if (pt > 0 && pt < PID_LIMIT && depth[pt] &&
				    depth[pt] < 3) {
					depth[ct] = (unsigned char)(depth[pt] + 1);
					if (depth[ct] == 2)
						d1++;
					else
						d2++;
				}
			}
		}
	}
	mcast(s, PROC_CN_MCAST_IGNORE, ack);
	close(s);
	printf("forks_d1=%llu forks_d2=%llu events=%llu nobufs=%llu rcvbuf=%d "
	    "cpu_s=%.3f\n", d1, d2, events, nobufs, rb, cpu_s());
	return 0;
}
