/* The HTTP server: libmicrohttpd driven from the libevent loop, and the routes. */
#ifndef PIDCAR_HTTP_H
#define PIDCAR_HTTP_H

struct config;
struct daemon;

/* Binds host:port; returns the listening fd or -1 with a message logged. */
int		 http_listen(const char *host, int port);
/* Serves on fd (taken over) from d->base; NULL with a message logged on failure. */
struct http	*http_start(struct daemon *, int fd);
/*
 * Applies what a reload may change in a running server: the TLS certificate
 * (nc's, checked first).  Returns 0, or -1 with err set and nothing changed.
 */
int		 http_reload(struct http *, const struct config *nc, char *err,
		    size_t errlen);
/* Fails suspended requests, closes every connection and the socket; NULL is a no-op. */
void		 http_stop(struct http *);

#endif
