/*
 * Sliced stats refresh: re-reads stat, io and fds of every process, a slice of
 * PIDs per loop turn, so the loop keeps serving; waiters are called at the end.
 */
#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "poller.h"
#include "procfs.h"
#include "ptable.h"
#include "refresh.h"
#include "xmalloc.h"

#define SLICE_SECONDS	0.005	/* well under the ~10 ms a callback may take */

struct waiter {
	refresh_cb	*cb;
	void		*arg;
};

struct refresh {
	struct daemon	*d;
	struct event	*ev_slice;
	pid_t		*pids;		/* the PIDs this refresh reads, in order */
	size_t		 npids, pos;
	double		 started;	/* monotonic */
	double		 fresh_at;	/* monotonic start of the last complete refresh */
	struct waiter	*waiters;
	size_t		 nwaiters, capwaiters;
};

static void
refresh_finish(struct refresh *r, int ok)
{
	struct waiter	*w = r->waiters;
	size_t		 n = r->nwaiters, i;

	/* Callbacks may queue new waiters: hand them a fresh list. */
	r->waiters = NULL;
	r->nwaiters = r->capwaiters = 0;
	for (i = 0; i < n; i++)
		w[i].cb(w[i].arg, ok);
	free(w);
}

static void
slice_cb(evutil_socket_t fd, short what, void *arg)
{
	struct refresh	*r = arg;
	struct daemon	*d = r->d;
	double		 start = now_mono(), now = start;
	size_t		 done = 0;

	(void)fd;
	(void)what;
	while (r->pos < r->npids) {
		struct proc	*p = ptable_find(d->pt, r->pids[r->pos++]);

		/* Gone meanwhile: its pidfd or the next scan will say so. */
		if (p != NULL && poller_read_stats(d, p, now) == -1 &&
		    !PROCFS_VANISHED(errno))
			d->c.read_errors++;
		if (++done % 32 == 0 && (now = now_mono()) - start > SLICE_SECONDS)
			break;
	}
	if (r->pos < r->npids) {
		event_active(r->ev_slice, EV_TIMEOUT, 0);
		return;
	}
	free(r->pids);
	r->pids = NULL;
	r->npids = r->pos = 0;
	r->fresh_at = r->started;
	d->refresh_took = now_mono() - r->started;
	d->refreshed_at = now_real() - d->refresh_took;
	d->c.refreshes++;
	log_debug("refresh of %zu processes took %.1f ms", ptable_count(d->pt),
	    d->refresh_took * 1e3);
	refresh_finish(r, 1);
}

static void
refresh_begin(struct refresh *r)
{
	struct proc	*p;
	size_t		 n = 0;

	r->pids = xreallocarray(NULL, ptable_count(r->d->pt) + 1, sizeof(pid_t));
	for (p = ptable_first(r->d->pt); p != NULL; p = ptable_next(p))
		r->pids[n++] = p->pid;
	r->npids = n;
	r->pos = 0;
	r->started = now_mono();
	event_active(r->ev_slice, EV_TIMEOUT, 0);
}

struct refresh *
refresh_create(struct daemon *d)
{
	struct refresh	*r = xcalloc(1, sizeof(*r));

	r->d = d;
	r->fresh_at = -1e9;
	r->ev_slice = event_new(d->base, -1, 0, slice_cb, r);
	return r;
}

int
refresh_request(struct refresh *r, refresh_cb *cb, void *arg)
{
	if (r->pids == NULL &&
	    now_mono() - r->fresh_at <= r->d->conf->refresh_age)
		return 1;
	if (r->nwaiters == r->capwaiters) {
		r->capwaiters = r->capwaiters ? r->capwaiters * 2 : 8;
		r->waiters = xreallocarray(r->waiters, r->capwaiters,
		    sizeof(*r->waiters));
	}
	r->waiters[r->nwaiters].cb = cb;
	r->waiters[r->nwaiters].arg = arg;
	r->nwaiters++;
	if (r->pids == NULL)
		refresh_begin(r);
	return 0;
}

void
refresh_cancel(struct refresh *r, void *arg)
{
	size_t	i;

	for (i = 0; i < r->nwaiters; i++) {
		if (r->waiters[i].arg == arg) {
			r->waiters[i] = r->waiters[--r->nwaiters];
			i--;
		}
	}
}

void
refresh_abort(struct refresh *r)
{
	refresh_finish(r, 0);
}

void
refresh_free(struct refresh *r)
{
	if (r == NULL)
		return;
	refresh_abort(r);
	event_free(r->ev_slice);
	free(r->pids);
	free(r);
}
