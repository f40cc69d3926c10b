/*
 * Exec paths from fanotify (source fanotify_exec): a FAN_OPEN_EXEC mark on the
 * filesystem of the target's root reports each exec's binary with the pid of
 * pidcar's namespace, before the process may vanish.  pidcar uses the path
 * where /proc/PID/exe cannot tell (no ptrace access); it does not discover
 * processes (kernel.md §12.3).
 */
#include <sys/fanotify.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "fanexec.h"
#include "log.h"
#include "ptable.h"
#include "xmalloc.h"

#ifndef FAN_REPORT_FD_ERROR
#define FAN_REPORT_FD_ERROR	0x00002000	/* 6.13+: fd = -errno, event kept */
#endif

#define NPENDING	256
#define APPLY_US	20000	/* after the exec's COMM record has re-read exe */
#define PENDING_SECONDS	2.0
#define READ_SECONDS	0.005

/* An exec's path, waiting for its process to be in the table. */
struct pending {
	pid_t	 pid;
	char	*path;
	double	 at;		/* monotonic */
};

struct fanexec {
	struct daemon	*d;
	int		 fd;
	pid_t		 self;
	struct event	*ev_read;
	struct event	*ev_apply;
	struct pending	 pend[NPENDING];
	size_t		 npend;
	int		 overflowed;
	char		 buf[65536];
};

int
fanexec_next(const void *buf, size_t len, size_t *off, struct fan_event *ev)
{
	struct fanotify_event_metadata	m;

	memset(ev, 0, sizeof(*ev));
	if (*off >= len)
		return 0;
	if (len - *off < sizeof(m))
		return -1;
	memcpy(&m, (const char *)buf + *off, sizeof(m));
	if (m.vers != FANOTIFY_METADATA_VERSION || m.metadata_len < sizeof(m) ||
	    m.event_len < m.metadata_len || m.event_len > len - *off)
		return -1;
	*off += m.event_len;	/* info records, if any, follow the metadata */
	ev->mask = m.mask;
	ev->fd = m.fd;
	ev->pid = (pid_t)m.pid;
	ev->overflow = (m.mask & FAN_Q_OVERFLOW) != 0;
	return 1;
}

int
fanexec_is_interp(const char *path)
{
	const char	*base = strrchr(path, '/');

	base = base != NULL ? base + 1 : path;
	return strncmp(base, "ld-", 3) == 0 || strncmp(base, "ld.so", 5) == 0;
}

static void	apply_cb(evutil_socket_t, short, void *);

static void
pending_add(struct fanexec *fe, pid_t pid, const char *path)
{
	struct timeval	 tv = { 0, APPLY_US };
	struct pending	*pe;
	size_t		 i;

	for (i = 0; i < fe->npend; i++)
		if (fe->pend[i].pid == pid)
			break;
	if (i == fe->npend) {
		if (fe->npend == NPENDING)
			return;		/* a storm: /proc will do for the rest */
		fe->npend++;
	} else
		free(fe->pend[i].path);
	pe = &fe->pend[i];
	pe->pid = pid;
	pe->path = xstrdup(path);
	pe->at = now_mono();
	if (!evtimer_pending(fe->ev_apply, NULL))
		evtimer_add(fe->ev_apply, &tv);
}

/*
 * The path of the latest exec goes where /proc/PID/exe gave nothing; later,
 * because the exec's own re-read (perf's COMM record) clears exe first.
 */
static void
apply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fanexec	*fe = arg;
	struct timeval	 tv = { 0, APPLY_US };
	double		 now = now_mono();
	size_t		 i, n = 0;

	(void)fd;
	(void)what;
	for (i = 0; i < fe->npend; i++) {
		struct pending	*pe = &fe->pend[i];
		struct proc	*p = ptable_find(fe->d->pt, pe->pid);

		if (p != NULL && p->exe == NULL && !p->exited) {
			p->exe = pe->path;
			pe->path = NULL;
		}
		if (pe->path == NULL || now - pe->at > PENDING_SECONDS) {
			free(pe->path);
			continue;
		}
		fe->pend[n++] = *pe;
	}
	if ((fe->npend = n) > 0)
		evtimer_add(fe->ev_apply, &tv);
}

static void
on_event(struct fanexec *fe, const struct fan_event *ev)
{
	char	link[64], path[4096];
	ssize_t	n;

	if (ev->overflow) {
		if (!fe->overflowed++)
			log_warnx("fanotify: exec events lost (queue overflow)");
		return;
	}
	/* Outsiders (pid 0), ourselves, or no fd to name the file by. */
	if (ev->pid <= 0 || ev->pid == fe->self || ev->fd < 0 ||
	    !(ev->mask & FAN_OPEN_EXEC))
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", ev->fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0)
		return;
	path[n] = '\0';
	if (!fanexec_is_interp(path))
		pending_add(fe, ev->pid, path);
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fanexec		*fe = arg;
	struct fan_event	 ev;
	double			 start = now_mono();
	ssize_t			 n;

	(void)what;
	while ((n = read(fd, fe->buf, sizeof(fe->buf))) > 0) {
		size_t	off = 0;
		int	r;

		while ((r = fanexec_next(fe->buf, (size_t)n, &off, &ev)) == 1) {
			on_event(fe, &ev);
			if (ev.fd >= 0)
				close(ev.fd);
		}
		if (r == -1)
			log_warnx("fanotify: malformed event buffer");
		if (now_mono() - start > READ_SECONDS)
			break;	/* the rest on the next turn */
	}
}

struct fanexec *
fanexec_open(const char *root)
{
	struct fanexec	*fe;
	unsigned	 flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
			    FAN_UNLIMITED_QUEUE;
	int		 fd, saved;

	/*
	 * FAN_REPORT_FD_ERROR (6.13+): without a free fd an event still comes,
	 * with fd = -EMFILE, where plain fd mode drops it silently (§12.3).
	 */
	if ((fd = fanotify_init(flags | FAN_REPORT_FD_ERROR,
	    O_RDONLY | O_LARGEFILE | O_CLOEXEC)) == -1 && errno == EINVAL)
		fd = fanotify_init(flags, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	/* Every exec of a file on that filesystem; outsiders come with pid 0. */
	if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC,
	    AT_FDCWD, root) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	fe = xcalloc(1, sizeof(*fe));
	fe->fd = fd;
	return fe;
}

void
fanexec_start(struct fanexec *fe, struct daemon *d)
{
	fe->d = d;
	fe->self = getpid();
	fe->ev_read = event_new(d->base, fe->fd, EV_READ | EV_PERSIST, read_cb, fe);
	fe->ev_apply = evtimer_new(d->base, apply_cb, fe);
	event_add(fe->ev_read, NULL);
}

void
fanexec_free(struct fanexec *fe)
{
	size_t	i;

	if (fe == NULL)
		return;
	if (fe->ev_read != NULL)
		event_free(fe->ev_read);
	if (fe->ev_apply != NULL)
		event_free(fe->ev_apply);
	for (i = 0; i < fe->npend; i++)
		free(fe->pend[i].path);
	close(fe->fd);
	free(fe);
}
