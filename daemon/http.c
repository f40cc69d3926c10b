/*
 * The HTTP server: libmicrohttpd in epoll mode without a thread of its own, its
 * epoll fd watched by the libevent loop.  Requests that need fresh numbers are
 * suspended until the sliced refresh is done, then answered from memory.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "config.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "ptable.h"
#include "refresh.h"
#include "render.h"
#include "route.h"
#include "xmalloc.h"

#define CT_JSON		"application/json"
#define CT_TEXT		"text/plain; charset=utf-8"
#define CT_HTML		"text/html; charset=utf-8"
#define CT_PROM		"text/plain; version=0.0.4; charset=utf-8"

struct http {
	struct daemon		*d;
	struct MHD_Daemon	*mhd;
	struct event		*ev_io;
	struct event		*ev_timer;
};

struct req {
	struct http		*h;
	struct MHD_Connection	*conn;
	struct route_match	 m;
	struct query		 q;
	double			 started;
	int			 status;	/* != 0: answer this error */
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

/* Validates the path and every query parameter; sets r->status on error. */
static void
req_parse(struct req *r, const char *url)
{
	r->status = route_parse(url, &r->m, r->err, sizeof(r->err));
	if (r->status == 404 && r->err[0] == '\0')
		snprintf(r->err, sizeof(r->err), "no such path: %.400s (see /)",
		    url);
	if (r->status != 0)
		return;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_arg, r);
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
	for (c = ptable_first(d->pt); c != NULL; c = ptable_next(c)) {
		if (c->ppid != p->pid || c == p)
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
	struct buf		 b;
	size_t			 len;
	char			*body;

	memset(&self, 0, sizeof(self));
	self.open_fds = -1;
	prom_read_self(&self);
	d->last_scrape = now_mono() - r->started;
	buf_init(&b, 16384);
	prom_render(d, &self, &b);
	body = buf_release(&b, &len);
	return respond(r, MHD_HTTP_OK, CT_PROM, body, len);
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

	(void)version;
	(void)upload_data;
	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		r->h = h;
		r->conn = conn;
		r->started = now_mono();
		query_init(&r->q);
		*con_cls = r;
		h->d->c.requests++;
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
			snprintf(r->err, sizeof(r->err), "method %.64s not "
			    "allowed (allowed: GET, HEAD)", method);
			r->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		} else
			req_parse(r, url);
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;	/* a body on GET is read and ignored */
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

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http	*h = cls;
	struct req	*r = *con_cls;

	(void)conn;
	(void)toe;
	if (r == NULL)
		return;
	if (r->waiting)
		refresh_cancel(h->d->refresh, r);
	query_free(&r->q);
	free(r);
	*con_cls = NULL;
}

/*
 * At max_connections MHD takes the listen socket out of its epoll set and puts
 * it back only at the start of a later MHD_run: a closed connection must cause
 * that run, or with every connection gone nothing would ever wake MHD again.
 */
static void
connection_cb(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http	*h = cls;

	(void)conn;
	(void)socket_ctx;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
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

struct http *
http_start(struct daemon *d, int fd)
{
	struct http			*h = xcalloc(1, sizeof(*h));
	const union MHD_DaemonInfo	*info;

	h->d = d;
	h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, h,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_NOTIFY_CONNECTION, connection_cb, h,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)d->conf->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, h,
	    MHD_OPTION_END);
	if (h->mhd == NULL) {
		log_warnx("cannot start the HTTP server");
		close(fd);
		free(h);
		return NULL;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL) {
		log_warnx("libmicrohttpd gave no epoll fd");
		MHD_stop_daemon(h->mhd);
		free(h);
		return NULL;
	}
	h->ev_io = event_new(d->base, info->epoll_fd, EV_READ | EV_PERSIST,
	    io_cb, h);
	h->ev_timer = evtimer_new(d->base, io_cb, h);
	event_add(h->ev_io, NULL);
	http_run(h);
	return h;
}

void
http_stop(struct http *h)
{
	if (h == NULL)
		return;
	/* Suspended requests get their answer before the connections close. */
	refresh_abort(h->d->refresh);
	MHD_run(h->mhd);
	event_del(h->ev_io);
	event_del(h->ev_timer);
	MHD_stop_daemon(h->mhd);	/* may still call connection_cb */
	event_free(h->ev_io);
	event_free(h->ev_timer);
	free(h);
}
