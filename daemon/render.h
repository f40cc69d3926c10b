/*
 * Renderers: JSON (api_json.c), plain text (text.c) and Prometheus (prom.c).
 * They read the daemon's table and counters and write bytes; they do no I/O.
 * Every returned string is malloc'd and owned by the caller.
 */
#ifndef PIDCAR_RENDER_H
#define PIDCAR_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct daemon;
struct proc;
struct buf;
struct events;
struct pevent;

/* Numbers about pidcar itself, read from /proc/self by prom_read_self. */
struct self_metrics {
	double		 cpu_seconds;
	double		 resident_bytes;
	double		 virtual_bytes;
	double		 open_fds;	/* -1 unknown */
	double		 max_fds;
	double		 start_time;	/* epoch seconds */
};

/* Appends one process as a JSON object to the buffer. */
void	 api_process(struct buf *, const struct daemon *, const struct proc *);
/* {"processes": [...], "count": n, "total": total, "refreshed_at": ...}. */
char	*api_processes(const struct daemon *, struct proc **v, size_t n, size_t total, size_t *len);
/* One process with "children": [pids]. */
char	*api_process_detail(const struct daemon *, const struct proc *,
	    struct proc **children, size_t nchildren, size_t *len);
/* {"roots": [ {process..., "children": [...]} ]}, nested. */
char	*api_tree(const struct daemon *, size_t *len);
/* /api/v1/status. */
char	*api_status(const struct daemon *, size_t *len);
/* One lifecycle event as a JSON object, appended. */
void	 api_event(struct buf *, const struct pevent *);
/*
 * {"events": [...], "count", "next", "missed", "oldest"}: events from seq since
 * (0: the oldest held) of the types in the mask (0: all), at most limit (-1 no
 * limit); missed counts those that fell out of the ring before since.
 */
char	*api_events(const struct events *, uint64_t since, long limit,
	    unsigned types, size_t *len);
/* {"error": {"status": N, "message": "..."}}. */
char	*api_error(int status, const char *message, size_t *len);

/* /ps: aligned columns, one line per process of v. */
char	*text_ps(const struct daemon *, struct proc **v, size_t n, size_t *len);
/* /tree: pstree-like indentation from the namespace's roots. */
char	*text_tree(const struct daemon *, size_t *len);

enum prom_format { PROM_TEXT, PROM_OPENMETRICS };
#define PROM_CT_TEXT		"text/plain; version=0.0.4; charset=utf-8"
#define PROM_CT_OPENMETRICS	"application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Everything the daemon knows, in text format 0.0.4 or OpenMetrics 1.0, appended to out. */
void	 prom_render(const struct daemon *, const struct self_metrics *,
	    enum prom_format, struct buf *out);
/* The format an Accept header asks for (NULL: text). */
enum prom_format prom_negotiate(const char *accept);
/* Whether an Accept-Encoding header takes gzip. */
int	 prom_accepts_gzip(const char *accept_encoding);
/* Appends in[0..len) gzip-compressed to out; 0 or -1. */
int	 prom_gzip(const char *in, size_t len, struct buf *out);
/* Appends s to out escaped as a label value (backslash, quote, newline). */
void	 prom_escape_label(struct buf *out, const char *s);
/* Reads /proc/self for the process_* family; 0 or -1. */
int	 prom_read_self(struct self_metrics *);

#endif
