/* The HTTP server: libmicrohttpd driven from the libevent loop, and the routes. */
#ifndef PIDCAR_HTTP_H
#define PIDCAR_HTTP_H

struct daemon;

/* Binds host:port; returns the listening fd or -1 with a message logged. */
int		 http_listen(const char *host, int port);
/* Serves on fd (taken over) from d->base; NULL with a message logged on failure. */
struct http	*http_start(struct daemon *, int fd);
/* Fails suspended requests, closes every connection and the socket; NULL is a no-op. */
void		 http_stop(struct http *);

#endif
