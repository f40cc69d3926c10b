/*
 * sd_notify(3) by hand: one datagram socket connected to NOTIFY_SOCKET before
 * privileges are dropped (sends on a connected socket need no access to the
 * path afterwards), timers on the one event base.  No libsystemd.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <event2/event.h>

#include "daemon.h"
#include "log.h"
#include "ptable.h"
#include "sdnotify.h"
#include "xmalloc.h"

#define READY_POLL_MS	10	/* until the first scan is done, then never */

struct sdnotify {
	struct daemon	*d;
	int		 fd;
	int		 ready_sent;
	struct event	*ev_ready;	/* polls d->ready until READY=1 is sent */
	struct event	*ev_watchdog;
	struct event	*ev_hup;
	struct event	*ev_reloaded;	/* READY=1 after main's reload ran */
};

int
sdnotify_parse_addr(const char *value, void *addr, size_t addrsize)
{
	struct sockaddr_un	*sun = addr;
	size_t			 len;

	if (value == NULL || addrsize < sizeof(*sun))
		return -1;
	len = strlen(value);
	if (len < 2 || (value[0] != '/' && value[0] != '@') ||
	    len >= sizeof(sun->sun_path))
		return -1;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, value, len);
	/* Abstract namespace: a leading NUL, and the length counts every byte. */
	if (value[0] == '@') {
		sun->sun_path[0] = '\0';
		return (int)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

uint64_t
sdnotify_watchdog_usec(const char *usec, const char *wpid, long pid)
{
	const char	*errstr;
	long long	 n, p;

	if (usec == NULL)
		return 0;
	if (wpid != NULL) {
		p = strtonum(wpid, 1, 0x7fffffffLL, &errstr);
		if (errstr != NULL || p != pid)
			return 0;
	}
	n = strtonum(usec, 1, 0x7fffffffffffffffLL, &errstr);
	return errstr != NULL ? 0 : (uint64_t)n;
}

static void
notify(struct sdnotify *sn, const char *msg)
{
	ssize_t	n;

	/* Datagrams are atomic: one send or none, and never a block. */
	n = send(sn->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1)
		log_debug("sd_notify: %s", strerror(errno));
}

static void
send_ready(struct sdnotify *sn)
{
	char	msg[256];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=watching %zu processes "
	    "(mode %s, source %s)", sn->d->pt != NULL ?
	    ptable_count(sn->d->pt) : 0, sn->d->mode, sn->d->source);
	notify(sn, msg);
	sn->ready_sent = 1;
}

static void
ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sdnotify	*sn = arg;

	(void)fd;
	(void)what;
	if (!sn->d->ready)
		return;
	event_del(sn->ev_ready);
	send_ready(sn);
	log_debug("sd_notify: READY=1");
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	notify(arg, "WATCHDOG=1");
}

/*
 * SIGHUP: main.c's own SIGHUP event reloads in this same loop turn, and
 * ev_reloaded, activated here, runs after it: RELOADING=1 ... READY=1
 * brackets the reload as systemd's notify-reload protocol asks.
 */
static void
hup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sdnotify	*sn = arg;
	struct timespec	 ts;
	char		 msg[96];

	(void)fd;
	(void)what;
	if (!sn->ready_sent)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	notify(sn, msg);
	event_active(sn->ev_reloaded, EV_TIMEOUT, 0);
}

static void
reloaded_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_ready(arg);
}

/* Opens the socket and connects it; -1 with a warning logged. */
static int
notify_open(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, len;

	if ((len = sdnotify_parse_addr(path, &sun, sizeof(sun))) == -1) {
		log_warnx("NOTIFY_SOCKET '%.100s' is not an absolute path or "
		    "@abstract name; not notifying systemd", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("NOTIFY_SOCKET: socket");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, (socklen_t)len) == -1) {
		log_warn("NOTIFY_SOCKET %.100s: connect", path);
		close(fd);
		return -1;
	}
	return fd;
}

struct sdnotify *
sdnotify_start(struct daemon *d)
{
	struct sdnotify	*sn;
	struct timeval	 tv;
	const char	*env = getenv("NOTIFY_SOCKET");
	char		 path[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 1];
	uint64_t	 usec;
	int		 fd;

	usec = sdnotify_watchdog_usec(getenv("WATCHDOG_USEC"),
	    getenv("WATCHDOG_PID"), (long)getpid());
	if (env == NULL)
		return NULL;
	strlcpy(path, env, sizeof(path));
	fd = notify_open(path);
	/* Not for children: the helper and the self-check must stay silent. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (fd == -1)
		return NULL;
	sn = xcalloc(1, sizeof(*sn));
	sn->d = d;
	sn->fd = fd;
	sn->ev_ready = event_new(d->base, -1, EV_PERSIST, ready_cb, sn);
	tv.tv_sec = 0;
	tv.tv_usec = READY_POLL_MS * 1000;
	event_add(sn->ev_ready, &tv);
	sn->ev_hup = evsignal_new(d->base, SIGHUP, hup_cb, sn);
	event_add(sn->ev_hup, NULL);
	sn->ev_reloaded = event_new(d->base, -1, 0, reloaded_cb, sn);
	if (usec > 0) {
		/* Half the period, as sd_watchdog_enabled(3) advises. */
		usec /= 2;
		tv.tv_sec = (time_t)(usec / 1000000);
		tv.tv_usec = (suseconds_t)(usec % 1000000);
		sn->ev_watchdog = event_new(d->base, -1, EV_PERSIST,
		    watchdog_cb, sn);
		event_add(sn->ev_watchdog, &tv);
		notify(sn, "WATCHDOG=1");
	}
	log_info("sd_notify: notifying %s%s", path, usec > 0 ?
	    ", watchdog on" : "");
	return sn;
}

void
sdnotify_free(struct sdnotify *sn)
{
	if (sn == NULL)
		return;
	notify(sn, "STOPPING=1");
	event_free(sn->ev_ready);
	event_free(sn->ev_hup);
	event_free(sn->ev_reloaded);
	if (sn->ev_watchdog != NULL)
		event_free(sn->ev_watchdog);
	close(sn->fd);
	free(sn);
}
