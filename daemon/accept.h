/* Accepting TCP connections for the HTTP server, paused instead of spinning. */
#ifndef PIDCAR_ACCEPT_H
#define PIDCAR_ACCEPT_H

#include <sys/socket.h>

struct event_base;
struct acceptor;

/* What the acceptor asks of the server it feeds; arg is acceptor_start's. */
struct acceptor_ops {
	/* Connections open now (counted against max). */
	unsigned int	(*count)(void *arg);
	/* Takes over fd, a new connection from sa. */
	void		(*take)(void *arg, int fd, const struct sockaddr *sa,
			    socklen_t salen);
	/* After a batch of takes: let the server run. */
	void		(*done)(void *arg);
};

/*
 * Watches lfd (taken over) on base and hands each connection to ops->take
 * while ops->count is below max.  peek: plain HTTP, so a connection whose
 * client sent half a request and hung up can be recognised and dropped.
 * Returns a new acceptor (acceptor_free frees it).
 */
struct acceptor	*acceptor_start(struct event_base *, int lfd, unsigned int max,
		    int peek, const struct acceptor_ops *, void *arg);
/* Watches the listen socket again when there is room; call after each server run. */
void		 acceptor_update(struct acceptor *);
/* A connection closed: its fd is free, so an EMFILE pause may end. */
void		 acceptor_closed(struct acceptor *);
/* Stops, closes the listen socket; NULL is a no-op. */
void		 acceptor_free(struct acceptor *);

#endif
