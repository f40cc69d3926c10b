/* The process table: a red-black tree of struct proc by namespace PID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptable.h"
#include "xmalloc.h"

struct ptable {
	struct proc_tree	 tree;
	struct proc_htree	 htree;
	struct proc_ctree	 ctree;
	size_t			 count;
};

static int
proc_cmp(struct proc *a, struct proc *b)
{
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

RB_GENERATE(proc_tree, proc, entry, proc_cmp)

static int
proc_hcmp(struct proc *a, struct proc *b)
{
	return a->host_pid < b->host_pid ? -1 : a->host_pid > b->host_pid;
}

RB_GENERATE(proc_htree, proc, hentry, proc_hcmp)

static int
proc_ccmp(struct proc *a, struct proc *b)
{
	if (a->ppid != b->ppid)
		return a->ppid < b->ppid ? -1 : 1;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

RB_GENERATE(proc_ctree, proc, centry, proc_ccmp)

struct ptable *
ptable_create(void)
{
	struct ptable	*pt = xcalloc(1, sizeof(*pt));

	RB_INIT(&pt->tree);
	RB_INIT(&pt->htree);
	RB_INIT(&pt->ctree);
	return pt;
}

static void
proc_free(struct proc *p)
{
	free(p->exe);
	free(p->cmdline);
	free(p);
}

void
ptable_free(struct ptable *pt)
{
	struct proc	*p, *next;

	if (pt == NULL)
		return;
	RB_FOREACH_SAFE(p, proc_tree, &pt->tree, next) {
		RB_REMOVE(proc_tree, &pt->tree, p);
		proc_free(p);
	}
	free(pt);
}

struct proc *
ptable_find(struct ptable *pt, pid_t pid)
{
	struct proc	key;

	key.pid = pid;
	return RB_FIND(proc_tree, &pt->tree, &key);
}

struct proc *
ptable_add(struct ptable *pt, pid_t pid, unsigned long long start_ticks)
{
	struct proc	*p = xcalloc(1, sizeof(*p));

	p->pid = pid;
	p->start_ticks = start_ticks;
	snprintf(p->id, sizeof(p->id), "%d-%llu", (int)pid, start_ticks);
	p->uid = p->gid = -1;
	p->threads = -1;
	p->cpu_percent = -1;
	p->fds = p->read_bytes = p->write_bytes = -1;
	p->pidfd = -1;
	p->exit_status = -1;
	p->acct.ts_rss_kb = -1;
	p->group = p->comm;
	if (RB_INSERT(proc_tree, &pt->tree, p) != NULL) {
		free(p);
		return NULL;
	}
	RB_INSERT(proc_ctree, &pt->ctree, p);
	pt->count++;
	return p;
}

void
ptable_set_host(struct ptable *pt, struct proc *p, pid_t host_pid)
{
	struct proc	*old;

	if (p->host_pid > 0)
		RB_REMOVE(proc_htree, &pt->htree, p);
	p->host_pid = host_pid;
	if (host_pid <= 0)
		return;
	/* A stale entry with the same host PID lost its process: unindex it. */
	if ((old = RB_INSERT(proc_htree, &pt->htree, p)) != NULL) {
		RB_REMOVE(proc_htree, &pt->htree, old);
		old->host_pid = 0;
		RB_INSERT(proc_htree, &pt->htree, p);
	}
}

struct proc *
ptable_find_host(struct ptable *pt, pid_t host_pid)
{
	struct proc	key;

	key.host_pid = host_pid;
	return RB_FIND(proc_htree, &pt->htree, &key);
}

void
ptable_set_ppid(struct ptable *pt, struct proc *p, pid_t ppid)
{
	if (p->ppid == ppid)
		return;
	RB_REMOVE(proc_ctree, &pt->ctree, p);
	p->ppid = ppid;
	RB_INSERT(proc_ctree, &pt->ctree, p);
}

struct proc *
ptable_first_child(struct ptable *pt, pid_t ppid)
{
	struct proc	key, *c;

	key.ppid = ppid;
	key.pid = 0;
	c = RB_NFIND(proc_ctree, &pt->ctree, &key);
	return c != NULL && c->ppid == ppid ? c : NULL;
}

struct proc *
ptable_next_child(struct proc *p)
{
	struct proc	*c = RB_NEXT(proc_ctree, NULL, p);

	return c != NULL && c->ppid == p->ppid ? c : NULL;
}

void
ptable_remove(struct ptable *pt, struct proc *p)
{
	RB_REMOVE(proc_ctree, &pt->ctree, p);
	if (p->host_pid > 0)
		RB_REMOVE(proc_htree, &pt->htree, p);
	RB_REMOVE(proc_tree, &pt->tree, p);
	pt->count--;
	proc_free(p);
}

size_t
ptable_count(const struct ptable *pt)
{
	return pt->count;
}

struct proc *
ptable_first(struct ptable *pt)
{
	return RB_MIN(proc_tree, &pt->tree);
}

struct proc *
ptable_next(struct proc *p)
{
	return RB_NEXT(proc_tree, NULL, p);
}

size_t
ptable_snapshot(struct ptable *pt, struct proc ***out)
{
	struct proc	**v, *p;
	size_t		  n = 0;

	v = xreallocarray(NULL, pt->count + 1, sizeof(*v));
	RB_FOREACH(p, proc_tree, &pt->tree)
		v[n++] = p;
	*out = v;
	return n;
}

void
ptable_set_cmdline(struct proc *p, const char *s, size_t len)
{
	free(p->cmdline);
	p->cmdline = NULL;
	p->cmdline_len = 0;
	if (s == NULL)
		return;
	p->cmdline = xmalloc(len + 1);
	memcpy(p->cmdline, s, len);
	p->cmdline[len] = '\0';
	p->cmdline_len = len;
}

void
ptable_set_exe(struct proc *p, const char *exe)
{
	free(p->exe);
	p->exe = xstrdup(exe);
}

long
ptree_index(const struct ptree *t, pid_t pid)
{
	size_t	lo = 0, hi = t->n;

	while (lo < hi) {
		size_t	mid = lo + (hi - lo) / 2;

		if (t->v[mid]->pid == pid)
			return (long)mid;
		if (t->v[mid]->pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void
ptree_build(struct ptable *pt, struct ptree *t)
{
	long	*last;
	size_t	 i;

	t->n = ptable_snapshot(pt, &t->v);
	t->first_child = xreallocarray(NULL, t->n + 1, sizeof(long));
	t->next_sibling = xreallocarray(NULL, t->n + 1, sizeof(long));
	t->roots = xreallocarray(NULL, t->n + 1, sizeof(long));
	last = xreallocarray(NULL, t->n + 1, sizeof(long));
	t->nroots = 0;
	for (i = 0; i < t->n; i++)
		t->first_child[i] = t->next_sibling[i] = last[i] = -1;
	/* PID order in, so siblings come out in PID order too. */
	for (i = 0; i < t->n; i++) {
		long	par = -1;

		if (t->v[i]->ppid != t->v[i]->pid)
			par = ptree_index(t, t->v[i]->ppid);
		if (par < 0) {
			t->roots[t->nroots++] = (long)i;
			continue;
		}
		if (last[par] < 0)
			t->first_child[par] = (long)i;
		else
			t->next_sibling[last[par]] = (long)i;
		last[par] = (long)i;
	}
	free(last);
}

void
ptree_free(struct ptree *t)
{
	free(t->v);
	free(t->first_child);
	free(t->next_sibling);
	free(t->roots);
	memset(t, 0, sizeof(*t));
}

const char *
ptable_cmdline_text(const struct proc *p, struct buf *scratch)
{
	size_t	n = p->cmdline_len, i;

	if (p->cmdline == NULL)
		return p->comm;
	while (n > 0 && p->cmdline[n - 1] == '\0')
		n--;
	if (n == 0)
		return p->comm;
	scratch->len = 0;
	buf_add(scratch, p->cmdline, n);
	for (i = 0; i < n; i++)
		if (scratch->data[i] == '\0')
			scratch->data[i] = ' ';
	return scratch->data;
}
