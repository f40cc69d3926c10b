/*
 * The HTTP server: libmicrohttpd in epoll mode without a thread of its own, its
 * epoll fd watched by the libevent loop; pidcar accepts connections itself and
 * checks the raw request and the token before any route runs.  Requests that
 * need fresh numbers are suspended until the sliced refresh is done.
 * Longer than most modules because the MHD callbacks (access, completion,
 * connection, logger, TLS certificate) share the request state kept here.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "accept.h"
#include "auth.h"
#include "config.h"
#include "daemon.h"
#include "events.h"
#include "http.h"
#include "log.h"
#include "ptable.h"
#include "refresh.h"
#include "render.h"
#include "route.h"
#include "stream.h"
#include "tls.h"
#include "vet.h"
#include "xmalloc.h"

#define CT_JSON		"application/json"
#define CT_TEXT		"text/plain; charset=utf-8"
#define CT_HTML		"text/html; charset=utf-8"

#define MHD_POOL	32768		/* per connection: longer requests get 414/431 */
#define TRIM_AFTER_S	2	/* quiet this long after a request: give memory back */
#define TLS_PRIORITIES	"NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS1.0"

struct http {
	struct daemon		*d;
	struct MHD_Daemon	*mhd;
	struct event		*ev_io;
	struct event		*ev_timer;
	struct acceptor		*acc;		/* feeds MHD the connections */
	struct stream		*stream;	/* /api/v1/events/stream clients */
	int			 tls;		/* started with MHD_USE_TLS */
	struct event		*ev_trim;
	int			 trim_armed;
	double			 last_done;	/* when the last request ended */
};

/*
 * One per connection (MHD's socket context).  libmicrohttpd 0.9.75 does not
 * report the completion of a request that dies between its request line and
 * the handler (a 431, a hang-up): the connection's end frees it then.
 */
struct conn {
	struct req		*req;
};

struct req {
	struct http		*h;
	struct conn		*owner;
	struct MHD_Connection	*conn;
	struct route_match	 m;
	struct query		 q;
	double			 started;
	int			 begun;		/* the handler has seen it */
	const char		*raw;		/* the target as received (MHD's buffer) */
	size_t			 raw_len;
	int			 status;	/* != 0: answer this error */
	const char		*challenge;	/* WWW-Authenticate of a 401/403 */
	char			 err[512];
	int			 waiting;	/* suspended for a refresh */
	int			 fresh;		/* 1 refreshed, -1 refresh failed */
};

static void
http_run(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG	ms;
	struct timeval		tv;

	MHD_run(h->mhd);
	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES) {
		tv.tv_sec = (time_t)(ms / 1000);
		tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
		evtimer_add(h->ev_timer, &tv);
	} else
		evtimer_del(h->ev_timer);
	acceptor_update(h->acc);
}

static void
io_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_run(arg);
}

static enum MHD_Result
respond(struct req *r, unsigned int status, const char *ctype, char *body,
    size_t len)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (r->challenge != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    r->challenge);
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
respond_error(struct req *r, unsigned int status, const char *msg)
{
	size_t	len;
	char	*body = api_error((int)status, msg, &len);

	return respond(r, status, CT_JSON, body, len);
}

static enum MHD_Result
respond_text(struct req *r, unsigned int status, const char *ctype,
    const char *text)
{
	return respond(r, status, ctype, xstrdup(text), strlen(text));
}

static enum MHD_Result
query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct req	*r = cls;

	(void)kind;
	if (r->status != 0)
		return MHD_NO;
	r->status = query_set(&r->q, r->m.route, key, value, r->err,
	    sizeof(r->err));
	return r->status == 0 ? MHD_YES : MHD_NO;
}

static void
req_fail(struct req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
req_fail(struct req *r, int status, const char *fmt, ...)
{
	va_list	ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

static struct req *
req_new(struct http *h, struct MHD_Connection *conn)
{
	struct req	*r = xcalloc(1, sizeof(*r));

	r->h = h;
	r->conn = conn;
	r->started = now_mono();
	query_init(&r->q);
	h->d->c.requests++;
	return r;
}

static void
req_free(struct req *r)
{
	if (r->waiting)
		refresh_cancel(r->h->d->refresh, r);
	if (r->owner != NULL)
		r->owner->req = NULL;
	query_free(&r->q);
	free(r);
}

/* MHD_OPTION_URI_LOG_CALLBACK: the first look at a request, with its raw target. */
static void *
uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo	*ci;
	struct req			*r = req_new(cls, conn);

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && ci->socket_context != NULL) {
		r->owner = ci->socket_context;
		if (r->owner->req != NULL)	/* never completed: cannot be live */
			req_free(r->owner->req);
		r->owner->req = r;
	}
	r->raw = uri;
	r->raw_len = strlen(uri);
	r->status = vet_target(uri, r->err, sizeof(r->err));
	return r;
}

struct header_scan {
	size_t	 bytes;
	int	 fields;
	int	 hosts;
	int	 bad;		/* a name with a NUL or what is no RFC 9110 token */
};

static enum MHD_Result
header_scan(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct header_scan	*hs = cls;

	(void)kind;
	/*
	 * A NUL inside a value cannot be seen here: libmicrohttpd 0.9.75 cuts
	 * the value at it.  pidcar reads no header but Authorization, where a
	 * cut cannot make a wrong token right.
	 */
	(void)value;
	hs->bytes += key_size + value_size + 4;
	hs->fields++;
	hs->hosts += strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0;
	hs->bad |= vet_header_name(key, key_size);
	return MHD_YES;
}

/* Sets r->status unless the request's token opens its route. */
static int
req_authorize(struct req *r)
{
	const struct config	*c = r->h->d->conf;
	const char		*authz;

	authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	switch (auth_check(&c->auth_token, &c->metrics_token, r->m.route,
	    authz)) {
	case AUTH_OK:
		return 0;
	case AUTH_MISSING:
		r->challenge = "Bearer realm=\"pidcar\"";
		req_fail(r, MHD_HTTP_UNAUTHORIZED, "this endpoint needs a token: "
		    "send Authorization: Bearer TOKEN");
		break;
	case AUTH_INVALID:
		r->challenge = "Bearer realm=\"pidcar\", error=\"invalid_token\"";
		req_fail(r, MHD_HTTP_UNAUTHORIZED, "the bearer token is not valid");
		break;
	case AUTH_SCOPE:
		r->challenge = "Bearer realm=\"pidcar\", "
		    "error=\"insufficient_scope\"";
		req_fail(r, MHD_HTTP_FORBIDDEN, "this token opens /metrics only");
		break;
	}
	log_debug("http: %d: %s", r->status, r->err);
	return -1;
}

/* Validates the path and every query parameter; sets r->status on error. */
static void
req_parse(struct req *r, const char *url)
{
	r->status = route_parse(url, &r->m, r->err, sizeof(r->err));
	if (r->status == 404 && r->err[0] == '\0')
		snprintf(r->err, sizeof(r->err), "no such path: %.400s (see /)",
		    url);
	/* Before any 400 or 404: without a token, nothing about paths leaks. */
	if (req_authorize(r) == -1 || r->status != 0)
		return;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_arg, r);
}

/* Everything that needs no process table, in the order a client is best told. */
static void
req_begin(struct req *r, const char *url, const char *method,
    const char *version)
{
	struct header_scan	 hs;
	const char		*cl;

	r->begun = 1;
	if (r->status != 0)
		return;
	if (vet_line_gap(method, r->raw, r->raw_len, version)) {
		req_fail(r, MHD_HTTP_BAD_REQUEST, "malformed request line (a NUL "
		    "byte or extra spaces)");
		return;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		req_fail(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method %.64s not "
		    "allowed (allowed: GET, HEAD)", method);
		return;
	}
	/* RFC 9112 §3.2: a server MUST answer 400 to HTTP/1.1 without Host. */
	if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 &&
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_HOST) == NULL) {
		req_fail(r, MHD_HTTP_BAD_REQUEST, "HTTP/1.1 request without a "
		    "Host header");
		return;
	}
	if (MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL ||
	    ((cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH)) != NULL && strcmp(cl, "0") != 0)) {
		req_fail(r, MHD_HTTP_BAD_REQUEST, "GET and HEAD take no request "
		    "body");
		return;
	}
	memset(&hs, 0, sizeof(hs));
	MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, header_scan, &hs);
	if (hs.bytes > VET_HEADERS_MAX || hs.fields > VET_HEADERS_COUNT) {
		req_fail(r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "request "
		    "headers larger than %d bytes or more than %d fields",
		    VET_HEADERS_MAX, VET_HEADERS_COUNT);
		return;
	}
	if (hs.bad || hs.hosts > 1) {
		req_fail(r, MHD_HTTP_BAD_REQUEST, hs.bad ? "malformed header "
		    "field (a NUL byte, or a bad name)" : "more than one Host "
		    "header");
		return;
	}
	req_parse(r, url);
}

static int
route_needs_fresh(enum route route)
{
	switch (route) {
	case ROUTE_PROCESSES:
	case ROUTE_PROCESS:
	case ROUTE_TREE_JSON:
	case ROUTE_PS:
	case ROUTE_TREE_TEXT:
	case ROUTE_METRICS:
		return 1;
	default:
		return 0;
	}
}

static const char landing[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>pidcar</title>"
    "</head>\n<body><h1>pidcar " PIDCAR_VERSION "</h1>\n"
    "<p>Processes of one PID namespace, served over HTTP.</p>\n<ul>\n"
    "<li><a href=\"/ps\">/ps</a> process table as text</li>\n"
    "<li><a href=\"/tree\">/tree</a> process tree as text</li>\n"
    "<li><a href=\"/api/v1/processes\">/api/v1/processes</a> as JSON "
    "(sort, order, limit, name, match, user, state, group)</li>\n"
    "<li><a href=\"/api/v1/tree\">/api/v1/tree</a> tree as JSON</li>\n"
    "<li><a href=\"/api/v1/status\">/api/v1/status</a> mode, source, "
    "counters</li>\n"
    "<li><a href=\"/api/v1/events\">/api/v1/events</a> fork, exec and exit "
    "events (since, limit, type); <a href=\"/api/v1/events/stream\">"
    "/api/v1/events/stream</a> as Server-Sent Events</li>\n"
    "<li><a href=\"/metrics\">/metrics</a> for Prometheus</li>\n"
    "<li><a href=\"/healthz\">/healthz</a>, <a href=\"/readyz\">/readyz</a>"
    "</li>\n</ul></body></html>\n";

static enum MHD_Result
serve_processes(struct req *r, int text)
{
	struct daemon	*d = r->h->d;
	struct proc	**v;
	size_t		  total, n, len;
	char		 *body;

	total = ptable_snapshot(d->pt, &v);
	n = query_apply(&r->q, d->users, v, total);
	if (text)
		body = text_ps(d, v, n, &len);
	else
		body = api_processes(d, v, n, total, &len);
	free(v);
	return respond(r, MHD_HTTP_OK, text ? CT_TEXT : CT_JSON, body, len);
}

static enum MHD_Result
serve_process(struct req *r)
{
	struct daemon	*d = r->h->d;
	struct proc	*p, *c, **kids = NULL;
	size_t		 nkids = 0, cap = 0, len;
	char		 msg[128], *body;

	if ((p = ptable_find(d->pt, r->m.pid)) == NULL) {
		snprintf(msg, sizeof(msg), "no process %d in the target namespace",
		    (int)r->m.pid);
		return respond_error(r, MHD_HTTP_NOT_FOUND, msg);
	}
	for (c = ptable_first_child(d->pt, p->pid); c != NULL;
	    c = ptable_next_child(c)) {
		if (c == p)
			continue;
		if (nkids == cap) {
			cap = cap ? cap * 2 : 16;
			kids = xreallocarray(kids, cap, sizeof(*kids));
		}
		kids[nkids++] = c;
	}
	body = api_process_detail(d, p, kids, nkids, &len);
	free(kids);
	return respond(r, MHD_HTTP_OK, CT_JSON, body, len);
}

static enum MHD_Result
serve_metrics(struct req *r)
{
	struct daemon		*d = r->h->d;
	struct self_metrics	 self;
	struct MHD_Response	*resp;
	struct buf		 b, z;
	enum prom_format	 fmt;
	enum MHD_Result		 ret;
	size_t			 len;
	char			*body;
	int			 gz;

	fmt = prom_negotiate(MHD_lookup_connection_value(r->conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	gz = prom_accepts_gzip(MHD_lookup_connection_value(r->conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
	memset(&self, 0, sizeof(self));
	self.open_fds = -1;
	prom_read_self(&self);
	buf_init(&b, 65536);
	prom_render(d, &self, fmt, &b);
	if (gz) {
		buf_init(&z, b.len / 4 + 64);
		if (prom_gzip(b.data, b.len, &z) == 0) {
			buf_free(&b);
			b = z;
		} else {
			buf_free(&z);
			gz = 0;
		}
	}
	d->last_scrape = now_mono() - r->started;
	body = buf_release(&b, &len);
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    fmt == PROM_OPENMETRICS ? PROM_CT_OPENMETRICS : PROM_CT_TEXT);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY,
	    "Accept, Accept-Encoding");
	if (gz)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING,
		    "gzip");
	ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* SSE: a cursor from Last-Event-ID (the last one seen), else since=, else now. */
static enum MHD_Result
serve_stream(struct req *r)
{
	struct MHD_Response	*resp;
	const char		*last;
	enum MHD_Result		 ret;
	unsigned long long	 from = 0;
	char			 msg[128], *end;

	/* since=0 is "the oldest held", as for /api/v1/events; none is "from now". */
	if (r->q.since_given)
		from = r->q.since > 0 ? r->q.since : events_oldest(r->h->d->events);
	last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    "Last-Event-ID");
	if (last != NULL && *last != '\0') {
		errno = 0;
		from = strtoull(last, &end, 10);
		if (errno != 0 || *end != '\0' || last[0] < '0' || last[0] > '9')
			return respond_error(r, MHD_HTTP_BAD_REQUEST, "bad "
			    "Last-Event-ID header (accepted: the decimal id of "
			    "an event)");
		from++;
	}
	if ((resp = stream_open(r->h->stream, r->conn, from, r->q.types)) ==
	    NULL) {
		snprintf(msg, sizeof(msg), "too many event streams (max_streams "
		    "%d); try again later", r->h->d->conf->max_streams);
		return respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
serve(struct req *r)
{
	struct daemon	*d = r->h->d;
	size_t		 len;
	char		*body;

	switch (r->m.route) {
	case ROUTE_ROOT:
		return respond_text(r, MHD_HTTP_OK, CT_HTML, landing);
	case ROUTE_HEALTHZ:
		return respond_text(r, MHD_HTTP_OK, CT_TEXT, "ok\n");
	case ROUTE_READYZ:
		if (!d->target_up)
			return respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    CT_TEXT, "not ready: the target is gone\n");
		if (!d->ready)
			return respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    CT_TEXT, "not ready: first scan in progress\n");
		return respond_text(r, MHD_HTTP_OK, CT_TEXT, "ready\n");
	case ROUTE_STATUS:
		body = api_status(d, &len);
		return respond(r, MHD_HTTP_OK, CT_JSON, body, len);
	case ROUTE_PROCESSES:
		return serve_processes(r, 0);
	case ROUTE_PS:
		return serve_processes(r, 1);
	case ROUTE_PROCESS:
		return serve_process(r);
	case ROUTE_TREE_JSON:
		body = api_tree(d, &len);
		return respond(r, MHD_HTTP_OK, CT_JSON, body, len);
	case ROUTE_TREE_TEXT:
		body = text_tree(d, &len);
		return respond(r, MHD_HTTP_OK, CT_TEXT, body, len);
	case ROUTE_METRICS:
		return serve_metrics(r);
	case ROUTE_EVENTS:
		body = api_events(d->events, r->q.since, r->q.limit >= 0 ?
		    r->q.limit : 1000, r->q.types, &len);
		return respond(r, MHD_HTTP_OK, CT_JSON, body, len);
	case ROUTE_EVENTS_STREAM:
		return serve_stream(r);
	default:
		return respond_error(r, MHD_HTTP_NOT_FOUND, "no such path");
	}
}

static void
refreshed_cb(void *arg, int ok)
{
	struct req	*r = arg;

	r->waiting = 0;
	r->fresh = ok ? 1 : -1;
	MHD_resume_connection(r->conn);
	/* The resumed connection is handled on MHD's next turn. */
	event_active(r->h->ev_io, EV_READ, 0);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http	*h = cls;
	struct req	*r = *con_cls;

	(void)upload_data;
	if (r == NULL)		/* uri_cb makes it; this is only a fallback */
		*con_cls = r = req_new(h, conn);
	if (!r->begun) {
		req_begin(r, url, method, version);
		/*
		 * A response queued now makes libmicrohttpd close the connection
		 * (it will not read past an unread body): right for an error, but
		 * a good request is answered on the next call, after its (empty)
		 * body, so that the connection stays open for the next request.
		 */
		if (r->status == 0)
			return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;	/* cannot happen: bodies are refused */
		return MHD_YES;
	}
	if (r->status != 0)
		return respond_error(r, (unsigned)r->status, r->err);
	if (route_needs_fresh(r->m.route) && r->fresh == 0) {
		if (!h->d->ready)
			return respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "not ready: first scan in progress");
		if (refresh_request(h->d->refresh, refreshed_cb, r) == 0) {
			r->waiting = 1;
			MHD_suspend_connection(conn);
			return MHD_YES;
		}
		r->fresh = 1;
	}
	if (r->fresh == -1)
		return respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "pidcar is stopping");
	return serve(r);
}

/*
 * A burst of big responses (200 clients reading the process list at once)
 * leaves glibc's heap tens of MB large and too fragmented to shrink by
 * itself; once requests stop, malloc_trim hands the free pages back.
 */
static void
trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http	*h = arg;
	struct timeval	 tv = { TRIM_AFTER_S, 0 };

	(void)fd;
	(void)what;
	if (now_mono() - h->last_done < TRIM_AFTER_S) {
		evtimer_add(h->ev_trim, &tv);
		return;
	}
	h->trim_armed = 0;
	malloc_trim(0);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http	*h = cls;
	struct req	*r = *con_cls;
	struct timeval	 tv = { TRIM_AFTER_S, 0 };

	(void)conn;
	h->last_done = now_mono();
	if (!h->trim_armed && h->ev_trim != NULL) {
		h->trim_armed = 1;
		evtimer_add(h->ev_trim, &tv);
	}
	(void)toe;
	if (r == NULL)
		return;
	req_free(r);
	*con_cls = NULL;
}

static unsigned int
http_connections(void *arg)
{
	struct http			*h = arg;
	const union MHD_DaemonInfo	*i;

	i = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return i != NULL ? i->num_connections : 0;
}

static void
http_take(void *arg, int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct http	*h = arg;

	/* A refusal (per-IP limit) has closed fd already. */
	if (MHD_add_connection(h->mhd, fd, sa, salen) != MHD_YES)
		log_debug("http: connection refused: %s", strerror(errno));
}

static void
http_accepted(void *arg)
{
	http_run(arg);
}

static const struct acceptor_ops http_acceptor = {
	http_connections, http_take, http_accepted
};

/* A closed connection frees a slot and a fd: try accepting again. */
static void
connection_cb(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http	*h = cls;
	struct conn	*c = *socket_ctx;

	(void)conn;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_ctx = xcalloc(1, sizeof(struct conn));
		return;
	}
	if (c != NULL) {
		if (c->req != NULL)
			req_free(c->req);
		free(c);
		*socket_ctx = NULL;
	}
	acceptor_closed(h->acc);
	event_active(h->ev_io, EV_READ, 0);
}

__attribute__((format(printf, 2, 0)))
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char	msg[512];
	size_t	n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("http: %s", msg);
}

int
http_listen(const char *host, int port)
{
	struct addrinfo	 hints, *res;
	char		 sport[16];
	int		 fd, on = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(sport, sizeof(sport), "%d", port);
	if ((rc = getaddrinfo(host, sport, &hints, &res)) != 0) {
		log_warnx("listen %s:%d: %s", host, port, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, res->ai_protocol);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, 128) == -1)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	log_warn("listen %s:%d", host, port);
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

static int
is_loopback(const char *host)
{
	struct in_addr	a4;

	if (strcmp(host, "::1") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

/* What a start needs to hear about: an open port, too few fds. */
static void
start_warnings(const struct config *c)
{
	struct rlimit	rl;

	if (c->auth_token.path == NULL && !is_loopback(c->listen_host))
		log_warnx("listening on %s without auth_token_file: anyone who "
		    "can reach it reads every command line (see README, "
		    "Security)", c->listen);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)c->max_connections + 64)
		log_warnx("RLIMIT_NOFILE %llu leaves too few fds for "
		    "max_connections %d: accepting pauses when they run out",
		    (unsigned long long)rl.rlim_cur, c->max_connections);
}

static struct MHD_Daemon *
start_mhd(struct http *h, const struct config *c)
{
	struct MHD_OptionItem	 o[16];
	unsigned int		 flags, n = 0;

	flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
	    MHD_USE_NO_LISTEN_SOCKET;
#define OPT(opt, val, ptr)	o[n++] = (struct MHD_OptionItem){ opt, val, ptr }
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, h);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)connection_cb, h);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, h);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_cb, h);
	OPT(MHD_OPTION_CONNECTION_LIMIT, c->max_connections, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->max_connections_per_ip, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)c->connection_timeout, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, MHD_POOL, NULL);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	if (!h->tls)
		return MHD_start_daemon(flags, 0, NULL, NULL, handler, h,
		    MHD_OPTION_ARRAY, o, MHD_OPTION_END);
	/* 0.9.75 takes the certificate callback only as a variadic option. */
	return MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handler, h,
	    MHD_OPTION_ARRAY, o,
	    MHD_OPTION_HTTPS_CERT_CALLBACK2, tls_retrieve,
	    MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
	    MHD_OPTION_END);
}

struct http *
http_start(struct daemon *d, int fd)
{
	struct http			*h = xcalloc(1, sizeof(*h));
	const union MHD_DaemonInfo	*info;
	struct tls			*t = NULL;
	char				 err[1024];

	h->d = d;
	h->tls = d->conf->tls_cert.path != NULL;
	if (h->tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
		    MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK2) !=
		    MHD_YES) {
			log_warnx("this libmicrohttpd was built without TLS "
			    "(or without certificate callbacks)");
			goto fail;
		}
		if ((t = tls_load(&d->conf->tls_cert, &d->conf->tls_key, err,
		    sizeof(err))) == NULL) {
			log_warnx("%s", err);
			goto fail;
		}
		tls_use(t);
		log_info("tls: serving %s", tls_describe(t));
	}
	if ((h->mhd = start_mhd(h, d->conf)) == NULL) {
		log_warnx("cannot start the HTTP server");
		goto fail;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL) {
		log_warnx("libmicrohttpd gave no epoll fd");
		MHD_stop_daemon(h->mhd);
		goto fail;
	}
	start_warnings(d->conf);
	h->ev_io = event_new(d->base, info->epoll_fd, EV_READ | EV_PERSIST,
	    io_cb, h);
	h->ev_timer = evtimer_new(d->base, io_cb, h);
	h->acc = acceptor_start(d->base, fd, (unsigned int)d->conf->max_connections,
	    !h->tls, &http_acceptor, h);
	h->ev_trim = evtimer_new(d->base, trim_cb, h);
	h->stream = stream_create(d, h->ev_io);
	event_add(h->ev_io, NULL);
	http_run(h);
	return h;
fail:
	tls_release();
	close(fd);
	free(h);
	return NULL;
}

int
http_reload(struct http *h, const struct config *nc, char *err, size_t errlen)
{
	struct tls	*t;

	if (!h->tls)
		return 0;
	if ((t = tls_load(&nc->tls_cert, &nc->tls_key, err, errlen)) == NULL)
		return -1;
	tls_use(t);
	log_info("tls: new handshakes get %s", tls_describe(t));
	return 0;
}

void
http_stop(struct http *h)
{
	if (h == NULL)
		return;
	acceptor_free(h->acc);		/* closes the listen socket */
	h->acc = NULL;
	/* Suspended requests get their answer before the connections close. */
	refresh_abort(h->d->refresh);
	stream_close_all(h->stream);
	MHD_run(h->mhd);
	event_del(h->ev_io);
	event_del(h->ev_timer);
	MHD_stop_daemon(h->mhd);	/* may still call connection_cb */
	stream_free(h->stream);
	event_free(h->ev_io);
	event_free(h->ev_timer);
	event_free(h->ev_trim);
	tls_release();
	free(h);
}
