/*
 * Groups: the first matching `group` rule, else the comm, else "other"; what
 * a group keeps of processes that left it; the main process.  No I/O: the
 * poller calls in at discovery, identity change, sample, exit and removal.
 * Longer than most modules: exact CPU of the exited (exit records, parents'
 * cutime shared out to their children's groups) lives with the counters it
 * keeps monotonic.
 */
#include <sys/types.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <bsd/sys/tree.h>
#ifndef __unused
#define __unused	__attribute__((__unused__))	/* RB_GENERATE_STATIC needs it */
#endif

#include "config.h"
#include "daemon.h"
#include "groups.h"
#include "log.h"
#include "ptable.h"
#include "taskstats.h"
#include "users.h"
#include "xmalloc.h"

/*
 * A parent's cutime grows when it reaps a child, a moment before pidcar hears
 * of the reap: growth waits this long for a seen child to explain it.
 */
#define UNSEEN_GRACE	0.5
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
/* A group by comm without processes this long may give its place to a new one. */
#define IDLE_EVICT	600.0
#define EVICT_RETRY	10.0	/* after a scan found nothing to evict */

const double groups_buckets[GROUPS_NBUCKETS] = {
	0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 21600, 86400
};

struct gent {
	struct group	 g;		/* first: a struct group * is a struct gent * */
	RB_ENTRY(gent)	 entry;
	size_t		 idx;		/* in the current view */
};

RB_HEAD(gtree, gent);

static int
gent_cmp(struct gent *a, struct gent *b)
{
	return strcmp(a->g.name, b->g.name);
}

RB_GENERATE_STATIC(gtree, gent, entry, gent_cmp)

enum { M_COMM, M_EXE, M_CMDLINE, M_NREGEX };

struct rule {
	struct group	*g;
	int		 has[M_NREGEX];
	regex_t		 re[M_NREGEX];
	char		*user;
};

struct groups {
	struct gtree	 tree;
	size_t		 ngroups;
	struct group	*other;		/* NULL until needed */
	struct rule	*rules;
	size_t		 nrules;
	int		 by_comm;
	size_t		 max_groups;
	int		 warned;	/* about max_groups, once per configuration */
	double		 evict_after;	/* monotonic: no eviction scan before */
	char		*main_name;	/* NULL: PID 1 */
	struct main_status ms;
	int		 main_lost;	/* the main exited; the next new one is a restart */
	unsigned long long main_exit_ticks;	/* when, in ticks since boot */
	long		 clk_tck;
	struct groups_stats st;
	struct buf	 scratch;	/* the joined command line */
};

struct groups *
groups_create(long clk_tck)
{
	struct groups	*gs = xcalloc(1, sizeof(*gs));

	RB_INIT(&gs->tree);
	gs->by_comm = 1;
	gs->max_groups = 256;
	gs->clk_tck = clk_tck > 0 ? clk_tck : 100;
	gs->ms.last_status = -1;
	buf_init(&gs->scratch, 256);
	return gs;
}

static void
rules_free(struct groups *gs)
{
	size_t	i, m;

	for (i = 0; i < gs->nrules; i++) {
		for (m = 0; m < M_NREGEX; m++)
			if (gs->rules[i].has[m])
				regfree(&gs->rules[i].re[m]);
		free(gs->rules[i].user);
	}
	free(gs->rules);
	gs->rules = NULL;
	gs->nrules = 0;
}

void
groups_free(struct groups *gs)
{
	struct gent	*e, *next;

	if (gs == NULL)
		return;
	rules_free(gs);
	RB_FOREACH_SAFE(e, gtree, &gs->tree, next) {
		RB_REMOVE(gtree, &gs->tree, e);
		free(e->g.name);
		free(e);
	}
	free(gs->main_name);
	buf_free(&gs->scratch);
	free(gs);
}

void
groups_repair_utf8(const char *s, char *dst, size_t dstlen)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 n = 0, k, left = strlen(s);

	while (*u != '\0') {
		if ((k = utf8_len(u, left, NULL)) == 0) {
			if (n + 4 > dstlen)
				break;
			memcpy(dst + n, "\xef\xbf\xbd", 3);
			n += 3;
			k = 1;
		} else {
			if (n + k + 1 > dstlen)
				break;
			memcpy(dst + n, u, k);
			n += k;
		}
		u += k;
		left -= k;
	}
	if (dstlen > 0)
		dst[n] = '\0';
}

const struct group *
groups_find(const struct groups *gs, const char *name)
{
	struct gent	key;

	key.g.name = (char *)(uintptr_t)name;
	return (struct group *)RB_FIND(gtree, (struct gtree *)(uintptr_t)&gs->tree,
	    &key);
}

static struct group *
group_create(struct groups *gs, const char *name, double now)
{
	struct gent	*e = xcalloc(1, sizeof(*e));

	e->g.name = xstrdup(name);
	e->g.idle_since = now;
	RB_INSERT(gtree, &gs->tree, e);
	gs->ngroups++;
	return &e->g;
}

static struct group *
group_get(struct groups *gs, const char *name, double now)
{
	struct group	*g = (struct group *)groups_find(gs, name);

	return g != NULL ? g : group_create(gs, name, now);
}

static struct group *
group_other(struct groups *gs, double now)
{
	if (gs->other == NULL)
		gs->other = group_get(gs, GROUPS_OTHER, now);
	return gs->other;
}

/* Frees one group by comm that has had no process for IDLE_EVICT; 1 if it did. */
static int
evict_one(struct groups *gs, double now)
{
	struct gent	*e, *best = NULL;

	if (now < gs->evict_after)
		return 0;
	RB_FOREACH(e, gtree, &gs->tree) {
		if (e->g.configured || &e->g == gs->other || e->g.members > 0 ||
		    e->g.kid_refs > 0 || now - e->g.idle_since < IDLE_EVICT)
			continue;
		if (best == NULL || e->g.idle_since < best->g.idle_since)
			best = e;
	}
	if (best == NULL) {
		gs->evict_after = now + EVICT_RETRY;
		return 0;
	}
	log_debug("group \"%s\" idle for %.0fs: dropped for a new one",
	    best->g.name, now - best->g.idle_since);
	RB_REMOVE(gtree, &gs->tree, best);
	gs->ngroups--;
	free(best->g.name);
	free(best);
	return 1;
}

/* The group named after a comm, or "other" when max_groups says no more. */
static struct group *
group_by_comm(struct groups *gs, const char *comm, double now)
{
	struct group	*g;
	char		 name[64 * 3 + 1];
	size_t		 named;

	groups_repair_utf8(comm, name, sizeof(name));
	if ((g = (struct group *)groups_find(gs, name)) != NULL)
		return g;
	named = gs->ngroups - (gs->other != NULL);
	if (named >= gs->max_groups && !evict_one(gs, now)) {
		gs->st.overflowed++;
		if (!gs->warned) {
			gs->warned = 1;
			log_warnx("more than %zu groups (max_groups): processes "
			    "of further names are counted in group \"%s\"",
			    gs->max_groups, GROUPS_OTHER);
		}
		return group_other(gs, now);
	}
	return group_create(gs, name, now);
}

int
groups_configure(struct groups *gs, const struct config *conf, char *err,
    size_t errlen)
{
	static const int	 flags = REG_EXTENDED | REG_NOSUB;
	struct rule		*rules;
	struct gent		*e;
	char			 name[GROUPS_NAME_MAX * 3 + 1], msg[128];
	size_t			 i, m;
	int			 rc;

	rules = xcalloc(conf->ngroups + 1, sizeof(*rules));
	for (i = 0; i < conf->ngroups; i++) {
		const struct group_rule	*gr = &conf->groups[i];
		const char		*src[M_NREGEX] = {
			gr->comm, gr->exe, gr->cmdline
		};

		for (m = 0; m < M_NREGEX; m++) {
			if (src[m] == NULL)
				continue;
			if ((rc = regcomp(&rules[i].re[m], src[m], flags)) != 0) {
				regerror(rc, &rules[i].re[m], msg, sizeof(msg));
				snprintf(err, errlen, "group %s: %s: %s",
				    gr->name, src[m], msg);
				goto fail;
			}
			rules[i].has[m] = 1;
		}
		rules[i].user = xstrdup(gr->user);
	}
	rules_free(gs);
	gs->rules = rules;
	gs->nrules = conf->ngroups;
	RB_FOREACH(e, gtree, &gs->tree)
		e->g.configured = 0;
	for (i = 0; i < conf->ngroups; i++) {
		groups_repair_utf8(conf->groups[i].name, name, sizeof(name));
		gs->rules[i].g = group_get(gs, name, 0);
		gs->rules[i].g->configured = 1;
	}
	gs->by_comm = conf->group_by_comm;
	gs->max_groups = conf->max_groups > 0 ? (size_t)conf->max_groups : 1;
	gs->warned = 0;
	gs->evict_after = 0;
	if (!gs->by_comm)
		group_other(gs, 0);
	if ((gs->main_name == NULL) != (conf->main_group == NULL) ||
	    (gs->main_name != NULL &&
	    strcmp(gs->main_name, conf->main_group) != 0)) {
		/* Another main: its counters go on, its tracking starts over. */
		free(gs->main_name);
		gs->main_name = xstrdup(conf->main_group);
		gs->ms.group = gs->main_name;
		gs->ms.up = 0;
		gs->ms.pid = 0;
		gs->ms.start_ticks = 0;
		gs->main_lost = 0;
	}
	return 0;
fail:
	for (i = 0; i < conf->ngroups + 1; i++) {
		for (m = 0; m < M_NREGEX; m++)
			if (rules[i].has[m])
				regfree(&rules[i].re[m]);
		free(rules[i].user);
	}
	free(rules);
	return -1;
}



static int
rule_matches(struct groups *gs, const struct rule *r, const struct proc *p,
    const struct users *users)
{
	if (r->has[M_COMM] && regexec(&r->re[M_COMM], p->comm, 0, NULL, 0) != 0)
		return 0;
	if (r->has[M_EXE] && (p->exe == NULL ||
	    regexec(&r->re[M_EXE], p->exe, 0, NULL, 0) != 0))
		return 0;
	if (r->has[M_CMDLINE] && regexec(&r->re[M_CMDLINE],
	    ptable_cmdline_text(p, &gs->scratch), 0, NULL, 0) != 0)
		return 0;
	if (r->user != NULL && !users_match(users, p->uid, r->user))
		return 0;
	return 1;
}

static struct group *
group_of(struct groups *gs, const struct proc *p, const struct users *users,
    double now)
{
	size_t	i;

	for (i = 0; i < gs->nrules; i++)
		if (rule_matches(gs, &gs->rules[i], p, users))
			return gs->rules[i].g;
	if (!gs->by_comm)
		return group_other(gs, now);
	return group_by_comm(gs, p->comm, now);
}

static int
is_main_candidate(const struct groups *gs, const struct proc *p)
{
	if (p->exited || p->grp == NULL)
		return 0;
	if (gs->main_name == NULL)
		return p->pid == 1;
	return strcmp(p->grp->name, gs->main_name) == 0;
}

static int
is_main(const struct groups *gs, const struct proc *p)
{
	return gs->ms.up && gs->ms.pid == p->pid &&
	    gs->ms.start_ticks == p->start_ticks;
}

/*
 * p may be the main: the oldest candidate is.  One that started after the
 * previous main exited is a restart; an older one taking over is not.
 */
static void
main_consider(struct groups *gs, const struct proc *p)
{
	if (!is_main_candidate(gs, p))
		return;
	if (gs->ms.up && (gs->ms.start_ticks < p->start_ticks ||
	    (gs->ms.start_ticks == p->start_ticks && gs->ms.pid <= p->pid)))
		return;
	if (!gs->ms.up) {
		if (gs->main_lost && p->start_ticks >= gs->main_exit_ticks)
			gs->ms.restarts++;
		gs->main_lost = 0;
	}
	gs->ms.up = 1;
	gs->ms.pid = p->pid;
	gs->ms.start_ticks = p->start_ticks;
}

static void
main_rescan(struct groups *gs, struct ptable *pt, const struct proc *skip)
{
	struct proc	*q, *best = NULL;

	for (q = ptable_first(pt); q != NULL; q = ptable_next(q)) {
		if (q == skip || !is_main_candidate(gs, q))
			continue;
		if (best == NULL || q->start_ticks < best->start_ticks)
			best = q;
	}
	if (best != NULL)
		main_consider(gs, best);
}

static unsigned long long
sub0(unsigned long long a, unsigned long long b)
{
	return a > b ? a - b : 0;
}

static unsigned long long
io_of(long long v)
{
	return v > 0 ? (unsigned long long)v : 0;
}

/* A child of par in group g, with this much CPU, was reaped. */
static void
kid_note(struct proc *par, struct group *g, unsigned long long ticks)
{
	struct proc_acct	*a = &par->acct;
	size_t			 i;

	if (g == NULL)
		return;
	for (i = 0; i < nitems(a->kid_grp); i++) {
		if (a->kid_grp[i] == g || a->kid_grp[i] == NULL) {
			if (a->kid_grp[i] == NULL)
				g->kid_refs++;
			a->kid_grp[i] = g;
			a->kid_w[i] += ticks + 1;	/* + 1: 0-tick children count too */
			return;
		}
	}
	/* More kinds of children than slots: the rest stays with the parent. */
}

static void
kids_forget(struct proc *p)
{
	struct proc_acct	*a = &p->acct;
	size_t			 i;

	for (i = 0; i < nitems(a->kid_grp); i++) {
		if (a->kid_grp[i] != NULL)
			a->kid_grp[i]->kid_refs--;
		a->kid_grp[i] = NULL;
		a->kid_w[i] = 0;
	}
}

/* Shares out CPU no child explained: to the groups of p's recent children, else p's. */
static void
credit_to_kids(struct groups *gs, struct proc *p, int m, unsigned long long t)
{
	struct proc_acct	*a = &p->acct;
	unsigned long long	 w = 0, share, left = t;
	size_t			 i, last = 0;

	for (i = 0; i < nitems(a->kid_grp); i++)
		if (a->kid_grp[i] != NULL) {
			w += a->kid_w[i];
			last = i;
		}
	for (i = 0; w > 0 && i < nitems(a->kid_grp); i++) {
		if (a->kid_grp[i] == NULL)
			continue;
		share = i == last ? left : (unsigned long long)((double)t *
		    (double)a->kid_w[i] / (double)w);
		a->kid_grp[i]->gone_ticks[m] += share;
		a->kid_grp[i]->unseen_ticks[m] += share;
		left -= share;
	}
	if (w == 0) {
		p->grp->gone_ticks[m] += t;
		p->grp->unseen_ticks[m] += t;
	}
	gs->st.unseen_ticks += t;
}

/*
 * Credits unexplained children's CPU (held after the grace, all when forced)
 * to the groups of the children p reaped lately, else to p's own group.
 */
static void
credit_unseen(struct groups *gs, struct proc *p, double now, int force)
{
	struct proc_acct	*a = &p->acct;
	int			 m, held = 0, fresh = 0;

	for (m = 0; m < GROUPS_NMODES; m++) {
		held |= a->cut_held[m] != 0;
		fresh |= a->cut_fresh[m] != 0;
	}
	if (p->grp == NULL)
		return;
	if (held && (force || now - a->held_since >= UNSEEN_GRACE)) {
		for (m = 0; m < GROUPS_NMODES; m++) {
			credit_to_kids(gs, p, m, a->cut_held[m]);
			a->cut_held[m] = 0;
		}
		held = 0;
		if (!fresh)
			kids_forget(p);
	}
	if (!held && fresh) {
		for (m = 0; m < GROUPS_NMODES; m++) {
			a->cut_held[m] = a->cut_fresh[m];
			a->cut_fresh[m] = 0;
		}
		a->held_since = now;
		if (force)
			credit_unseen(gs, p, now, 1);
	}
}

void
groups_sample(struct groups *gs, struct proc *p, double now)
{
	struct proc_acct	*a = &p->acct;
	unsigned long long	 cut[GROUPS_NMODES] = { p->cutime, p->cstime }, x;
	int			 m;

	if (!a->sampled) {
		/* Children reaped before pidcar looked belong to no counter. */
		a->cut_seen[GROUPS_USER] = p->cutime;
		a->cut_seen[GROUPS_SYSTEM] = p->cstime;
		a->sampled = 1;
		return;
	}
	for (m = 0; m < GROUPS_NMODES; m++) {
		a->cut_fresh[m] += sub0(cut[m], a->cut_seen[m]);
		a->cut_seen[m] = cut[m];
		/* Seen children's CPU is theirs: take it out of the growth. */
		x = a->cut_pending[m] < a->cut_held[m] ?
		    a->cut_pending[m] : a->cut_held[m];
		a->cut_held[m] -= x;
		a->cut_pending[m] -= x;
		x = a->cut_pending[m] < a->cut_fresh[m] ?
		    a->cut_pending[m] : a->cut_fresh[m];
		a->cut_fresh[m] -= x;
		/* The reap came before we heard of it: what is left will not show. */
		a->cut_pending[m] = 0;
	}
	/* Everything explained: the children noted so far need no share. */
	if (a->cut_fresh[GROUPS_USER] == 0 && a->cut_fresh[GROUPS_SYSTEM] == 0 &&
	    a->cut_held[GROUPS_USER] == 0 && a->cut_held[GROUPS_SYSTEM] == 0)
		kids_forget(p);
	credit_unseen(gs, p, now, 0);
}

/* p leaves its group (moved or gone): what it did so far stays there. */
static void
leave(struct groups *gs, struct ptable *pt, struct proc *p, double now)
{
	struct group	*g = p->grp;
	int		 was_main = is_main(gs, p);

	credit_unseen(gs, p, now, 1);
	g->gone_ticks[GROUPS_USER] += sub0(p->utime,
	    p->acct.base_ticks[GROUPS_USER]);
	g->gone_ticks[GROUPS_SYSTEM] += sub0(p->stime,
	    p->acct.base_ticks[GROUPS_SYSTEM]);
	g->gone_io[0] += sub0(io_of(p->read_bytes), p->acct.base_io[0]);
	g->gone_io[1] += sub0(io_of(p->write_bytes), p->acct.base_io[1]);
	if (--g->members == 0)
		g->idle_since = now;
	p->grp = NULL;
	p->group = p->comm;
	if (was_main) {
		gs->ms.up = 0;
		gs->ms.pid = 0;
		gs->ms.start_ticks = 0;
		main_rescan(gs, pt, p);
	}
}

/* p joins g; first: just discovered, so all its CPU so far is g's. */
static void
join(struct groups *gs, struct proc *p, struct group *g, int first)
{
	p->grp = g;
	p->group = g->name;
	g->members++;
	p->acct.base_ticks[GROUPS_USER] = first ? 0 : p->utime;
	p->acct.base_ticks[GROUPS_SYSTEM] = first ? 0 : p->stime;
	p->acct.base_io[0] = first ? 0 : io_of(p->read_bytes);
	p->acct.base_io[1] = first ? 0 : io_of(p->write_bytes);
	if (g->vacancies > 0 && !p->exited) {
		g->vacancies--;
		g->restarts++;
	}
	main_consider(gs, p);
}

void
groups_assign(struct groups *gs, struct ptable *pt, struct proc *p,
    const struct users *users, double now)
{
	struct group	*g = group_of(gs, p, users, now);
	int		 first = p->grp == NULL;

	if (g == p->grp)
		return;
	if (!first) {
		gs->st.rematches++;
		leave(gs, pt, p, now);
	}
	join(gs, p, g, first);
}

void
groups_rematch(struct groups *gs, struct ptable *pt, const struct users *users,
    double now)
{
	struct proc	*p;

	for (p = ptable_first(pt); p != NULL; p = ptable_next(p))
		groups_assign(gs, pt, p, users, now);
	if (!gs->ms.up)
		main_rescan(gs, pt, NULL);
}

/* One exit in g: its outcome, and its lifetime (seconds, -1 unknown) in the histogram. */
static void
count_exit(struct group *g, int status, double lifetime)
{
	size_t	i;

	g->exits[exit_outcome_of(status)]++;
	g->vacancies++;
	if (lifetime < 0)
		return;
	for (i = 0; i < GROUPS_NBUCKETS && lifetime > groups_buckets[i]; i++)
		continue;
	if (i < GROUPS_NBUCKETS)
		g->lifetime_bucket[i]++;
	g->lifetime_count++;
	g->lifetime_sum += lifetime;
}

void
groups_exited(struct groups *gs, struct ptable *pt, struct proc *p,
    double lifetime, double now_real)
{
	struct group	*g = p->grp;

	if (p->acct.exit_done)
		return;
	p->acct.exit_done = 1;
	if (p->acct.final_cpu)
		gs->st.final_cpu++;
	else
		gs->st.sampled_cpu++;
	if (g == NULL)
		return;
	count_exit(g, p->exit_status, lifetime);
	if (is_main(gs, p)) {
		gs->ms.up = 0;
		gs->ms.pid = 0;
		gs->ms.start_ticks = 0;
		gs->ms.exits++;
		gs->ms.exited = 1;
		gs->ms.last_status = p->exit_status;
		gs->ms.last_exit_at = now_real;
		gs->main_lost = 1;
		gs->main_exit_ticks = p->start_ticks + (lifetime > 0 ?
		    (unsigned long long)(lifetime * (double)gs->clk_tck) : 0);
		main_rescan(gs, pt, p);
	}
}

/*
 * Microseconds to clock ticks for g's counters: what is short of a whole tick
 * waits in g->us_carry, so a thousand 5 ms processes add up to 5 s exactly.
 */
static unsigned long long
ticks_of_us(const struct groups *gs, struct group *g, int m,
    unsigned long long us)
{
	unsigned long long tick_us = 1000000ULL / (unsigned long long)gs->clk_tck;
	unsigned long long total = us + (g != NULL ? g->us_carry[m] : 0);

	if (g != NULL)
		g->us_carry[m] = total % tick_us;
	return total / tick_us;
}

void
groups_final_cpu(struct groups *gs, struct proc *p, unsigned long long user_us,
    unsigned long long system_us)
{
	unsigned long long	 us[GROUPS_NMODES] = { user_us, system_us };
	unsigned long long	*cur[GROUPS_NMODES] = { &p->utime, &p->stime };
	unsigned long long	 tick_us = 1000000ULL / (unsigned long long)gs->clk_tck;
	int			 m;

	for (m = 0; m < GROUPS_NMODES; m++) {
		/* Only upwards: a group's counter never goes back. */
		if (us[m] >= *cur[m] * tick_us)
			*cur[m] = ticks_of_us(gs, p->grp, m, us[m]);
	}
	gs->st.taskstats_cpu++;
}

void
groups_exited_unread(struct groups *gs, struct ptable *pt, struct proc *par,
    const char *comm, int status, const struct ts_record *ts, double now)
{
	struct proc		 tmp;
	struct group		*g;
	unsigned long long	 us[GROUPS_NMODES], t;
	int			 m;

	(void)pt;
	memset(&tmp, 0, sizeof(tmp));
	strlcpy(tmp.comm, comm != NULL ? comm : "", sizeof(tmp.comm));
	tmp.uid = tmp.gid = -1;
	tmp.exit_status = status;
	/* A fork that did not exec is its parent's kind: same exe, same arguments. */
	if (par != NULL && par->grp != NULL && strcmp(par->comm, tmp.comm) == 0)
		g = par->grp;
	else if (comm == NULL)
		g = group_other(gs, now);
	else
		g = group_of(gs, &tmp, NULL, now);
	count_exit(g, status, ts != NULL ? (double)ts->etime_us / 1e6 : -1);
	if (ts == NULL) {
		gs->st.unread_exits++;
		if (par != NULL)
			kid_note(par, g, 0);
		return;
	}
	us[GROUPS_USER] = ts->user_us;
	us[GROUPS_SYSTEM] = ts->system_us;
	for (m = 0; m < GROUPS_NMODES; m++) {
		t = ticks_of_us(gs, g, m, us[m]);
		g->gone_ticks[m] += t;
		/* Its parent's cutime will hold it: explained already. */
		if (par != NULL)
			par->acct.cut_pending[m] += t;
	}
	if (par != NULL)
		kid_note(par, g, (us[GROUPS_USER] + us[GROUPS_SYSTEM]) *
		    (unsigned long long)gs->clk_tck / 1000000);
	gs->st.taskstats_cpu++;
}

void
groups_gone(struct groups *gs, struct ptable *pt, struct proc *p, double now)
{
	struct proc	*par;

	if (p->grp == NULL)
		return;
	/* The parent's cutime now holds p's CPU: that part is explained. */
	if (p->ppid > 0 && p->ppid != p->pid &&
	    (par = ptable_find(pt, p->ppid)) != NULL &&
	    par->start_ticks <= p->start_ticks) {
		/*
		 * Its children credited since its last sample (cut_pending) are
		 * in its cutime too: explained, so not the grandparent's to credit.
		 */
		par->acct.cut_pending[GROUPS_USER] += p->utime +
		    (p->acct.sampled ? p->acct.cut_seen[GROUPS_USER] +
		    p->acct.cut_pending[GROUPS_USER] : p->cutime);
		par->acct.cut_pending[GROUPS_SYSTEM] += p->stime +
		    (p->acct.sampled ? p->acct.cut_seen[GROUPS_SYSTEM] +
		    p->acct.cut_pending[GROUPS_SYSTEM] : p->cstime);
		kid_note(par, p->grp, p->utime + p->stime);
	}
	leave(gs, pt, p, now);
	kids_forget(p);
}

size_t
groups_count(const struct groups *gs)
{
	return gs->ngroups;
}

size_t
groups_view(struct groups *gs, struct ptable *pt, struct group_view **out)
{
	struct group_view	*v, *w;
	struct gent		*e;
	struct proc		*p;
	size_t			 n = 0;
	int			 m;

	v = xcalloc(gs->ngroups + 1, sizeof(*v));
	RB_FOREACH(e, gtree, &gs->tree) {
		w = &v[n];
		w->g = &e->g;
		for (m = 0; m < GROUPS_NMODES; m++)
			w->cpu_ticks[m] = e->g.gone_ticks[m];
		w->io[0] = e->g.gone_io[0];
		w->io[1] = e->g.gone_io[1];
		e->idx = n++;
	}
	for (p = ptable_first(pt); p != NULL; p = ptable_next(p)) {
		if (p->grp == NULL)
			continue;
		w = &v[((struct gent *)(void *)p->grp)->idx];
		w->processes++;
		if (p->threads > 0)
			w->threads += (unsigned long long)p->threads;
		w->rss_bytes += p->rss_bytes;
		w->vsize_bytes += p->vsize_bytes;
		if (p->fds > 0)
			w->fds += (unsigned long long)p->fds;
		w->cpu_ticks[GROUPS_USER] += sub0(p->utime,
		    p->acct.base_ticks[GROUPS_USER]);
		w->cpu_ticks[GROUPS_SYSTEM] += sub0(p->stime,
		    p->acct.base_ticks[GROUPS_SYSTEM]);
		w->io[0] += sub0(io_of(p->read_bytes), p->acct.base_io[0]);
		w->io[1] += sub0(io_of(p->write_bytes), p->acct.base_io[1]);
		if (!p->exited && p->state != 'Z' &&
		    (!w->has_oldest || p->start_ticks < w->oldest_ticks)) {
			w->oldest_ticks = p->start_ticks;
			w->has_oldest = 1;
		}
	}
	*out = v;
	return n;
}

const struct main_status *
groups_main(const struct groups *gs)
{
	return &gs->ms;
}

const struct groups_stats *
groups_stats(const struct groups *gs)
{
	return &gs->st;
}
