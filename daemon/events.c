/*
 * The event ring.  Slot seq % cap holds event seq while it is among the newest
 * cap; older ones are overwritten, and readers learn how many they missed
 * from events_oldest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "events.h"
#include "ptable.h"
#include "xmalloc.h"

struct events {
	struct pevent	*ring;
	size_t		 cap;
	uint64_t	 next;		/* seq of the next event; the first is 1 */
	uint64_t	 first;		/* none older is held (a resize dropped them) */
	uint64_t	 count[EV_NTYPES];
	events_cb	 cb;
	void		*cb_arg;
};

static const char *const type_names[EV_NTYPES] = {
	[EV_FORK] = "fork",
	[EV_EXEC] = "exec",
	[EV_EXIT] = "exit",
	[EV_TARGET] = "target",
};

void
events_blank(struct pevent *ev, enum ev_type type, double now_real)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->time = now_real;
	ev->status = -1;
	ev->lifetime = -1;
	ev->max_rss_bytes = -1;
}

void
events_from_proc(struct pevent *ev, enum ev_type type, const struct proc *p,
    long clk_tck, double now_real, double now_boot)
{
	const struct proc_acct	*a = &p->acct;
	double			 end, tck = clk_tck > 0 ? (double)clk_tck : 100;

	events_blank(ev, type, now_real);
	ev->pid = p->pid;
	ev->ppid = p->ppid;
	ev->host_pid = p->host_pid;
	strlcpy(ev->comm, p->comm, sizeof(ev->comm));
	ev->exe = p->exe != NULL ? xstrdup(p->exe) : NULL;
	if (type != EV_EXIT)
		return;
	ev->status = p->exit_status;
	end = a->exit_boot > 0 ? a->exit_boot : now_boot;
	if (p->start_ticks > 0 && end >= (double)p->start_ticks / tck)
		ev->lifetime = end - (double)p->start_ticks / tck;
	if (a->ts_cpu) {
		ev->cpu = EV_CPU_TASKSTATS;
		ev->cpu_user = (double)a->ts_us[0] / 1e6;
		ev->cpu_system = (double)a->ts_us[1] / 1e6;
	} else if (a->final_cpu || p->sampled_at > 0) {
		ev->cpu = a->final_cpu ? EV_CPU_FINAL : EV_CPU_SAMPLED;
		ev->cpu_user = (double)p->utime / tck;
		ev->cpu_system = (double)p->stime / tck;
	}
	if (a->ts_rss_kb >= 0)
		ev->max_rss_bytes = a->ts_rss_kb * 1024;
}

struct events *
events_create(size_t cap)
{
	struct events	*e = xcalloc(1, sizeof(*e));

	e->cap = cap > 0 ? cap : 1;
	e->ring = xcalloc(e->cap, sizeof(*e->ring));
	e->next = 1;
	e->first = 1;
	return e;
}

void
events_free(struct events *e)
{
	size_t	i;

	if (e == NULL)
		return;
	for (i = 0; i < e->cap; i++) {
		free(e->ring[i].exe);
		free(e->ring[i].reason);
	}
	free(e->ring);
	free(e);
}

uint64_t
events_oldest(const struct events *e)
{
	uint64_t	o = e->next - 1 > e->cap ? e->next - e->cap : 1;

	return o > e->first ? o : e->first;
}

uint64_t
events_next(const struct events *e)
{
	return e->next;
}

void
events_resize(struct events *e, size_t cap)
{
	struct pevent	*ring;
	uint64_t	 s, first;

	if (cap == 0)
		cap = 1;
	if (cap == e->cap)
		return;
	ring = xcalloc(cap, sizeof(*ring));
	first = events_oldest(e);
	for (s = first; s < e->next; s++) {
		struct pevent	*ev = &e->ring[s % e->cap];

		if (e->next - s <= cap) {
			ring[s % cap] = *ev;
			ev->exe = NULL;
			ev->reason = NULL;
		}
		free(ev->exe);
		free(ev->reason);
	}
	free(e->ring);
	e->ring = ring;
	e->cap = cap;
	e->first = e->next - 1 > cap && e->next - cap > first ? e->next - cap : first;
}

void
events_listen(struct events *e, events_cb cb, void *arg)
{
	e->cb = cb;
	e->cb_arg = arg;
}

uint64_t
events_add(struct events *e, struct pevent *ev)
{
	struct pevent	*slot = &e->ring[e->next % e->cap];

	free(slot->exe);
	free(slot->reason);
	*slot = *ev;
	slot->seq = e->next++;
	ev->exe = NULL;
	ev->reason = NULL;
	if ((unsigned)slot->type < EV_NTYPES)
		e->count[slot->type]++;
	if (e->cb != NULL)
		e->cb(e->cb_arg);
	return slot->seq;
}

const struct pevent *
events_get(const struct events *e, uint64_t seq)
{
	if (seq < events_oldest(e) || seq >= e->next)
		return NULL;
	return &e->ring[seq % e->cap];
}

uint64_t
events_count(const struct events *e, enum ev_type t)
{
	return (unsigned)t < EV_NTYPES ? e->count[t] : 0;
}

const char *
events_type_name(enum ev_type t)
{
	return (unsigned)t < EV_NTYPES ? type_names[t] : "unknown";
}

int
events_parse_types(const char *s, unsigned *mask, char *err, size_t errlen)
{
	const char	*p = s, *comma;
	size_t		 len;
	int		 i;

	*mask = 0;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		for (i = 0; i < EV_NTYPES; i++)
			if (strlen(type_names[i]) == len &&
			    strncmp(type_names[i], p, len) == 0)
				break;
		if (i == EV_NTYPES) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "type: '%.*s' is not an event type "
			    "(accepted: a comma-separated list of fork, exec, "
			    "exit, target)", (int)(len > 64 ? 64 : len), p);
			return -1;
		}
		*mask |= 1u << i;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}
