/*
 * Fresh CPU and memory numbers on demand: a refresh re-reads every process in
 * slices on the loop (no callback over ~10 ms), concurrent requests share one,
 * and one younger than refresh_age is reused.
 */
#ifndef PIDCAR_REFRESH_H
#define PIDCAR_REFRESH_H

struct daemon;

/* Called once the table is fresh (ok 1) or the daemon is stopping (ok 0). */
typedef void refresh_cb(void *arg, int ok);

struct refresh	*refresh_create(struct daemon *);
/* Fails every waiter (ok 0), stops the slices; NULL is a no-op. */
void		 refresh_free(struct refresh *);
/*
 * Returns 1 when the numbers are fresh enough now (cb is not called), or 0
 * when cb(arg, ...) will be called later from the loop.
 */
int		 refresh_request(struct refresh *, refresh_cb *cb, void *arg);
/* Forgets a waiter (its connection went away). */
void		 refresh_cancel(struct refresh *, void *arg);
/* Fails every waiter now with ok 0 (shutdown). */
void		 refresh_abort(struct refresh *);

#endif
