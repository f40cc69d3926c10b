/*
 * Server-Sent Events.  libmicrohttpd pulls each client's bytes through a
 * content reader; a client that has read everything is suspended (so MHD does
 * not poll it) and resumed by the next event or by the keep-alive beat, which
 * is also how a client that went away is noticed.  A client that falls
 * behind the ring is told how many events it missed and goes on.
 */
#include <sys/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "config.h"
#include "daemon.h"
#include "events.h"
#include "log.h"
#include "render.h"
#include "stream.h"
#include "xmalloc.h"

#define BEAT_SECONDS	15	/* a comment line this often keeps proxies and us honest */
#define BLOCK		16384	/* bytes MHD asks for at most per call */

struct client {
	struct stream		*st;
	struct client		*prev, *next;
	struct MHD_Connection	*conn;
	uint64_t		 cursor;	/* next seq to send */
	unsigned		 types;
	int			 suspended;
	int			 beat;		/* owes a keep-alive comment */
	int			 closing;
	struct buf		 out;		/* formatted, not yet taken by MHD */
	size_t			 off;
};

struct stream {
	struct daemon	*d;
	struct event	*kick;
	struct event	*ev_beat;
	struct client	*head;
	unsigned	 n;
};

static void
wake(struct client *c)
{
	if (!c->suspended)
		return;
	c->suspended = 0;
	MHD_resume_connection(c->conn);
}

/* A new event in the ring: every waiting client reads on MHD's next turn. */
static void
on_event(void *arg)
{
	struct stream	*st = arg;
	struct client	*c;
	int		 any = 0;

	for (c = st->head; c != NULL; c = c->next) {
		if (c->suspended) {
			wake(c);
			any = 1;
		}
	}
	if (any)
		event_active(st->kick, EV_READ, 0);
}

static void
beat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*st = arg;
	struct client	*c;

	(void)fd;
	(void)what;
	for (c = st->head; c != NULL; c = c->next) {
		c->beat = 1;
		wake(c);
	}
	if (st->head != NULL)
		event_active(st->kick, EV_READ, 0);
}

/* Formats what the client has not had yet into c->out. */
static void
fill(struct client *c, size_t want)
{
	struct events		*e = c->st->d->events;
	const struct pevent	*ev;
	uint64_t		 oldest = events_oldest(e), next = events_next(e);

	if (c->cursor < oldest) {
		buf_printf(&c->out, "event: missed\ndata: {\"missed\":%llu,"
		    "\"next\":%llu}\n\n", (unsigned long long)(oldest - c->cursor),
		    (unsigned long long)oldest);
		c->cursor = oldest;
	}
	while (c->cursor < next && c->out.len - c->off < want) {
		ev = events_get(e, c->cursor++);
		if (ev == NULL || (c->types != 0 &&
		    (c->types & (1u << ev->type)) == 0))
			continue;
		buf_printf(&c->out, "id: %llu\nevent: %s\ndata: ",
		    (unsigned long long)ev->seq, events_type_name(ev->type));
		api_event(&c->out, ev);
		buf_add(&c->out, "\n\n", 2);
	}
	if (c->beat && c->out.len == c->off)
		buf_puts(&c->out, ": keep-alive\n\n");
	c->beat = 0;
}

static ssize_t
reader(void *cls, uint64_t pos, char *to, size_t max)
{
	struct client	*c = cls;
	size_t		 n;

	(void)pos;
	if (c->closing)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (c->off == c->out.len) {
		c->out.len = c->off = 0;
		fill(c, max);
	}
	if (c->off == c->out.len) {
		/* Nothing to send: off MHD's polling until an event or the beat. */
		c->suspended = 1;
		MHD_suspend_connection(c->conn);
		return 0;
	}
	n = c->out.len - c->off;
	if (n > max)
		n = max;
	memcpy(to, c->out.data + c->off, n);
	c->off += n;
	return (ssize_t)n;
}

/* The response is gone with its connection. */
static void
client_free(void *cls)
{
	struct client	*c = cls;
	struct stream	*st = c->st;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		st->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	st->n--;
	if (st->head == NULL)
		event_del(st->ev_beat);
	buf_free(&c->out);
	log_debug("event stream: a client left (%u remain)", st->n);
	free(c);
}

struct stream *
stream_create(struct daemon *d, struct event *kick)
{
	struct stream	*st = xcalloc(1, sizeof(*st));

	st->d = d;
	st->kick = kick;
	st->ev_beat = event_new(d->base, -1, EV_PERSIST, beat_cb, st);
	if (d->events != NULL)
		events_listen(d->events, on_event, st);
	return st;
}

struct MHD_Response *
stream_open(struct stream *st, struct MHD_Connection *conn, uint64_t from,
    unsigned types)
{
	struct MHD_Response	*resp;
	struct client		*c;
	struct timeval		 tv = { BEAT_SECONDS, 0 };

	if (st->d->events == NULL || st->n >= (unsigned)st->d->conf->max_streams)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->st = st;
	c->conn = conn;
	c->types = types;
	c->cursor = from > 0 ? from : events_next(st->d->events);
	buf_init(&c->out, 4096);
	/* The reconnection delay a browser's EventSource should use. */
	buf_puts(&c->out, "retry: 2000\n\n");
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK, reader,
	    c, client_free);
	if (resp == NULL) {
		buf_free(&c->out);
		free(c);
		return NULL;
	}
	if ((c->next = st->head) != NULL)
		st->head->prev = c;
	st->head = c;
	if (st->n++ == 0)
		event_add(st->ev_beat, &tv);
	return resp;
}

unsigned
stream_clients(const struct stream *st)
{
	return st != NULL ? st->n : 0;
}

void
stream_close_all(struct stream *st)
{
	struct client	*c;

	if (st == NULL)
		return;
	for (c = st->head; c != NULL; c = c->next) {
		c->closing = 1;
		wake(c);
	}
}

void
stream_free(struct stream *st)
{
	if (st == NULL)
		return;
	if (st->d->events != NULL)
		events_listen(st->d->events, NULL, NULL);
	event_free(st->ev_beat);
	free(st);
}
