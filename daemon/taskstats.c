/*
 * Taskstats exit records through libmnl: decode (pure) and register; joining
 * them to the connector's EXIT events is the agent mode's work.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/acct.h>
#include <linux/genetlink.h>
#include <linux/taskstats.h>

#include "taskstats.h"

struct ts_listener {
	struct mnl_socket	*nl;
	uint16_t		 family;
	char			 mask[64];	/* "0-N" */
	unsigned		 seq;
};

/* Copies the STATS attribute: min(len, sizeof) bytes, since v16 is v13 plus a tail. */
static int
copy_stats(const struct nlattr *a, struct taskstats *ts)
{
	size_t	n = mnl_attr_get_payload_len(a);

	memset(ts, 0, sizeof(*ts));
	if (n < offsetof(struct taskstats, ac_comm))
		return -1;
	/* memcpy: the attribute starts at 4 mod 8 on x86-64 (§10.1). */
	memcpy(ts, mnl_attr_get_payload(a), n < sizeof(*ts) ? n : sizeof(*ts));
	if (ts->version == 15)
		return -1;	/* the release whose max/min fields broke the layout */
	return 0;
}

static void
fill(struct ts_record *r, const struct taskstats *ts)
{
	r->version = ts->version;
	r->pid = (pid_t)ts->ac_pid;
	r->tgid = (pid_t)ts->ac_tgid;
	r->ppid = (pid_t)ts->ac_ppid;
	r->group_end = (ts->ac_flag & AGROUP) != 0;
	r->exit_code = (int)ts->ac_exitcode;
	memcpy(r->comm, ts->ac_comm, sizeof(r->comm) - 1);
	r->comm[sizeof(r->comm) - 1] = '\0';
	r->utime_us = ts->ac_utime;
	r->stime_us = ts->ac_stime;
	r->run_virtual_ns = ts->cpu_run_virtual_total;
	r->etime_us = ts->ac_etime;
	r->hiwater_rss_kb = ts->hiwater_rss;
	r->read_bytes = ts->read_bytes;
	r->write_bytes = ts->write_bytes;
	r->rchar = ts->read_char;
	r->wchar = ts->write_char;
}

void
taskstats_split(struct ts_record *r)
{
	uint64_t	rt = r->run_virtual_ns / 1000;

	if (rt == 0) {
		r->user_us = r->utime_us;
		r->system_us = r->stime_us;
		return;
	}
	/* kernel/sched/cputime.c: all to one side when the other has no ticks. */
	if (r->stime_us == 0) {
		r->user_us = rt;
		r->system_us = 0;
	} else if (r->utime_us == 0) {
		r->user_us = 0;
		r->system_us = rt;
	} else {
		/* 128 bits: a hostile record's times must not overflow (fuzz_netlink). */
		r->system_us = (uint64_t)((unsigned __int128)rt * r->stime_us /
		    ((unsigned __int128)r->utime_us + r->stime_us));
		r->user_us = rt - r->system_us;
	}
}

int
taskstats_decode(const void *msg, size_t len, struct ts_record *out)
{
	const struct nlmsghdr	*nh = msg;
	const struct nlattr	*a, *in;
	struct taskstats	 ts;
	int			 found = -1;

	memset(out, 0, sizeof(*out));
	/*
	 * mnl_nlmsg_ok compares nlmsg_len as an int (0x80000000 passed), and the
	 * attribute walk runs to the aligned end: both must lie in the buffer
	 * (fuzz_netlink found the overread).
	 */
	if (len < sizeof(*nh) || len > INT_MAX || nh->nlmsg_len > len ||
	    MNL_ALIGN(nh->nlmsg_len) > len || !mnl_nlmsg_ok(nh, (int)len) ||
	    nh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(GENL_HDRLEN))
		return -1;
	mnl_attr_for_each(a, nh, GENL_HDRLEN) {
		if (!mnl_attr_ok(a, (int)((const char *)mnl_nlmsg_get_payload_tail(nh) -
		    (const char *)a)))
			return -1;
		if (mnl_attr_get_type(a) != TASKSTATS_TYPE_AGGR_PID)
			continue;	/* the TGID aggregate: summed by the caller instead */
		mnl_attr_for_each_nested(in, a) {
			if (!mnl_attr_ok(in, (int)((const char *)mnl_attr_get_payload(a) +
			    mnl_attr_get_payload_len(a) - (const char *)in)))
				return -1;
			if (mnl_attr_get_type(in) != TASKSTATS_TYPE_STATS)
				continue;
			if (copy_stats(in, &ts) == -1)
				return -1;
			fill(out, &ts);
			taskstats_split(out);
			found = 0;
		}
	}
	return found;
}

/*
 * Sends one request and waits for its ACK, giving answers to cb.  Exit records
 * may be queued already (a reused port inherits a registration, §10.6) and
 * carry per-CPU sequence numbers: anything not ours is skipped, not an error.
 */
static int
request(struct ts_listener *t, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	char			 buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlmsghdr	*nh;
	int			 n;

	req->nlmsg_seq = ++t->seq;
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (mnl_socket_sendto(t->nl, req, req->nlmsg_len) == -1)
		return -1;
	for (;;) {
		if ((n = (int)mnl_socket_recvfrom(t->nl, buf, sizeof(buf))) == -1) {
			if (errno == ENOBUFS)
				continue;
			return -1;
		}
		for (nh = (const struct nlmsghdr *)(void *)buf; mnl_nlmsg_ok(nh, n);
		    nh = mnl_nlmsg_next(nh, &n)) {
			if (nh->nlmsg_seq != t->seq)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nh);

				if (e->error == 0)
					return 0;
				errno = -e->error;
				return -1;
			}
			if (cb != NULL)
				cb(nh, data);
		}
	}
}

static int
family_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
	    mnl_attr_validate(a, MNL_TYPE_U16) == 0)
		*(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static int
family_cb(const struct nlmsghdr *nh, void *data)
{
	mnl_attr_parse(nh, GENL_HDRLEN, family_attr_cb, data);
	return MNL_CB_OK;
}

static struct nlmsghdr *
genl_header(char *buf, uint16_t type, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr		*nh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr	*g;

	nh->nlmsg_type = type;
	g = mnl_nlmsg_put_extra_header(nh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nh;
}

static int
cpumask_ctl(struct ts_listener *t, uint16_t attr)
{
	char		 buf[256];
	struct nlmsghdr	*nh;

	nh = genl_header(buf, t->family, TASKSTATS_CMD_GET, TASKSTATS_GENL_VERSION);
	mnl_attr_put_strz(nh, attr, t->mask);
	return request(t, nh, NULL, NULL);
}

struct ts_listener *
taskstats_open(int rcvbuf)
{
	struct ts_listener	*t = calloc(1, sizeof(*t));
	char			 buf[256];
	struct nlmsghdr		*nh;
	long			 ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int			 saved;

	if (t == NULL)
		return NULL;
	if ((t->nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC)) == NULL ||
	    mnl_socket_bind(t->nl, 0, MNL_SOCKET_AUTOPID) == -1)
		goto fail;
	if (setsockopt(mnl_socket_get_fd(t->nl), SOL_SOCKET, SO_RCVBUFFORCE,
	    &rcvbuf, sizeof(rcvbuf)) == -1)
		setsockopt(mnl_socket_get_fd(t->nl), SOL_SOCKET, SO_RCVBUF,
		    &rcvbuf, sizeof(rcvbuf));
	t->seq = (unsigned)time(NULL);
	nh = genl_header(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nh, CTRL_ATTR_FAMILY_NAME, TASKSTATS_GENL_NAME);
	if (request(t, nh, family_cb, &t->family) == -1 || t->family == 0)
		goto fail;
	snprintf(t->mask, sizeof(t->mask), "0-%ld", ncpu > 1 ? ncpu - 1 : 0);
	if (cpumask_ctl(t, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK) == -1)
		goto fail;
	return t;
fail:
	saved = errno;
	if (t->nl != NULL)
		mnl_socket_close(t->nl);
	free(t);
	errno = saved;
	return NULL;
}

int
taskstats_fd(const struct ts_listener *t)
{
	return mnl_socket_get_fd(t->nl);
}

void
taskstats_close(struct ts_listener *t)
{
	if (t == NULL)
		return;
	cpumask_ctl(t, TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK);
	mnl_socket_close(t->nl);
	free(t);
}
