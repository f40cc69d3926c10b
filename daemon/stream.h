/*
 * /api/v1/events/stream: Server-Sent Events from the event ring.  No thread
 * and no queue per client: each client is a cursor into the ring, and a
 * connection with nothing to send is suspended until the next event.
 */
#ifndef PIDCAR_STREAM_H
#define PIDCAR_STREAM_H

#include <stdint.h>

struct MHD_Connection;
struct MHD_Response;
struct daemon;
struct event;
struct stream;

/* Clients of d->events; kick makes the HTTP loop run MHD once more. */
struct stream	*stream_create(struct daemon *d, struct event *kick);
/*
 * A response streaming the events from seq from (0: only new ones) of the
 * types in mask (0: all) to conn, or NULL when max_streams clients are
 * connected already.
 */
struct MHD_Response *stream_open(struct stream *, struct MHD_Connection *conn,
		    uint64_t from, unsigned types);
/* Clients connected now. */
unsigned	 stream_clients(const struct stream *);
/* Ends every stream (their connections close after what is sent). */
void		 stream_close_all(struct stream *);
/* After stream_close_all and the HTTP server's end. */
void		 stream_free(struct stream *);

#endif
