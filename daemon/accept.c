/*
 * Accepts connections for libmicrohttpd (which gets them by MHD_add_connection)
 * so that running out of connection slots or file descriptors pauses the listen
 * event instead of spinning on a socket that stays readable: libmicrohttpd
 * 0.9.75's own accept busy-waits on EMFILE when no connection is open.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "accept.h"
#include "log.h"
#include "xmalloc.h"

#define ACCEPT_BATCH	32
#define RETRY_MS	100	/* after EMFILE, unless a connection closes first */
#define PEEK_MAX	32768	/* libmicrohttpd's per-connection pool */

struct acceptor {
	const struct acceptor_ops *ops;
	void			*arg;
	int			 lfd;
	unsigned int		 max;
	int			 peek;
	struct event		*ev_listen;
	struct event		*ev_retry;
	int			 listening;	/* ev_listen is pending */
	int			 starved;	/* out of fds: wait */
	int			 starved_said;	/* logged once per episode */
};

/* Pending connections wait in the kernel's backlog meanwhile. */
static void
pause_listen(struct acceptor *a)
{
	if (!a->listening)
		return;
	event_del(a->ev_listen);
	a->listening = 0;
}

void
acceptor_update(struct acceptor *a)
{
	if (a == NULL || a->listening || a->starved ||
	    a->ops->count(a->arg) >= a->max)
		return;
	event_add(a->ev_listen, NULL);
	a->listening = 1;
}

void
acceptor_closed(struct acceptor *a)
{
	if (a == NULL || !a->starved)
		return;
	a->starved = 0;
	evtimer_del(a->ev_retry);
}

/* Out of fds: wait for a close or RETRY_MS, whichever comes first. */
static void
starve(struct acceptor *a, int err)
{
	struct timeval	tv = { 0, RETRY_MS * 1000 };
	struct rlimit	rl;

	pause_listen(a);
	a->starved = 1;
	evtimer_add(a->ev_retry, &tv);
	if (a->starved_said)
		return;
	a->starved_said = 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = 0;
	log_warnx("http: accept: %s (RLIMIT_NOFILE %llu, %u connections): "
	    "not accepting until one closes", strerror(err),
	    (unsigned long long)rl.rlim_cur, a->ops->count(a->arg));
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor	*a = arg;

	(void)fd;
	(void)what;
	a->starved = 0;
	acceptor_update(a);
}

/*
 * A client that sent part of a request and hung up while its connection waited
 * in the backlog (a pause at max_connections or EMFILE) has data and EOF both
 * pending.  libmicrohttpd 0.9.75's edge-triggered epoll then sees one edge,
 * reads the data and never notices the EOF, so the dead connection would hold
 * its slot for connection_timeout.  Its request can never complete.
 */
static int
abandoned(int s)
{
	static char	 buf[PEEK_MAX];		/* one thread: one buffer */
	struct pollfd	 pfd = { s, POLLRDHUP, 0 };
	ssize_t		 n;

	if (poll(&pfd, 1, 0) != 1 || (pfd.revents & (POLLRDHUP | POLLHUP)) == 0)
		return 0;
	n = recv(s, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	return n > 0 && memmem(buf, (size_t)n, "\r\n\r\n", 4) == NULL &&
	    memmem(buf, (size_t)n, "\n\n", 2) == NULL;
}

static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor		*a = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 s, i;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		if (a->ops->count(a->arg) >= a->max) {
			pause_listen(a);
			break;
		}
		len = sizeof(ss);
		s = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (s == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				starve(a, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_debug("http: accept: %s", strerror(errno));
			break;
		}
		if (a->starved_said) {
			log_info("http: accepting connections again");
			a->starved_said = 0;
		}
		if (a->peek && abandoned(s))
			close(s);
		else
			a->ops->take(a->arg, s, (struct sockaddr *)&ss, len);
	}
	a->ops->done(a->arg);
}

struct acceptor *
acceptor_start(struct event_base *base, int lfd, unsigned int max, int peek,
    const struct acceptor_ops *ops, void *arg)
{
	struct acceptor	*a = xcalloc(1, sizeof(*a));

	a->ops = ops;
	a->arg = arg;
	a->lfd = lfd;
	a->max = max;
	a->peek = peek;
	a->ev_listen = event_new(base, lfd, EV_READ | EV_PERSIST, accept_cb, a);
	a->ev_retry = evtimer_new(base, retry_cb, a);
	acceptor_update(a);
	return a;
}

void
acceptor_free(struct acceptor *a)
{
	if (a == NULL)
		return;
	event_free(a->ev_listen);
	event_free(a->ev_retry);
	close(a->lfd);
	free(a);
}
