/*
 * uid <-> user name from passwd(5) text: a parse into two sorted views, looked
 * up with bsearch.  No NSS: the file is the target namespace's, not ours.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "users.h"
#include "xmalloc.h"

#define USERS_MAX_FILE	((size_t)4 << 20)
#define USERS_NFIELDS	7	/* name:passwd:uid:gid:gecos:dir:shell */

struct user {
	long long	 uid;
	size_t		 seq;		/* line order: the first entry wins */
	char		*name;
};

struct users {
	struct user	 *ents;		/* good lines in file order; owns names */
	size_t		  n;
	struct user	**byuid;	/* first entry of each uid, by uid */
	size_t		  nuid;
	struct user	**byname;	/* first entry of each name, by name */
	size_t		  nname;
};

/* A decimal id; (uid_t)-1 means "no id" to the kernel, so it is refused. */
static int
users_id(const char *p, size_t len, long long *out)
{
	long long	v = 0;
	size_t		i;

	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	if (v >= UINT32_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Names are shown and matched as they are, so control bytes and ':' stay out. */
static int
users_name_ok(const char *p, size_t len)
{
	size_t	i;

	/* "+" and "-" lines are NIS compat entries, not users. */
	if (len == 0 || p[0] == '+' || p[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	}
	return 1;
}

/*
 * Parses one line into u.  Exactly seven fields: a shadow(5) file (nine), which
 * a hostile container could link in place of its passwd, yields nothing.
 */
static int
users_line(const char *p, size_t len, struct user *u)
{
	const char	*f[USERS_NFIELDS], *end = p + len, *c;
	size_t		 flen[USERS_NFIELDS];
	long long	 gid;
	int		 i;

	if (len == 0 || p[0] == '#')
		return -1;
	for (i = 0; i < USERS_NFIELDS; i++) {
		f[i] = p;
		c = memchr(p, ':', (size_t)(end - p));
		if ((c == NULL) != (i == USERS_NFIELDS - 1))
			return -1;
		flen[i] = (size_t)((c != NULL ? c : end) - p);
		p = c != NULL ? c + 1 : end;
	}
	if (!users_name_ok(f[0], flen[0]) ||
	    users_id(f[2], flen[2], &u->uid) == -1 ||
	    users_id(f[3], flen[3], &gid) == -1)
		return -1;
	u->name = xstrndup(f[0], flen[0]);
	return 0;
}

/* bsearch keys: a long long, or a name, against a struct user * element. */
static int
users_key_uid(const void *key, const void *elem)
{
	long long		 uid = *(const long long *)key;
	const struct user	*u = *(const struct user *const *)elem;

	return uid < u->uid ? -1 : uid > u->uid;
}

static int
users_key_name(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct user *const *)elem)->name);
}

static int
users_seq(const void *a, const void *b)
{
	size_t	x = (*(const struct user *const *)a)->seq;
	size_t	y = (*(const struct user *const *)b)->seq;

	return x < y ? -1 : x > y;
}

/* By key, then by line: the first line of a run of equal keys leads it. */
static int
users_sort_uid(const void *a, const void *b)
{
	int	c = users_key_uid(&(*(const struct user *const *)a)->uid, b);

	return c != 0 ? c : users_seq(a, b);
}

static int
users_sort_name(const void *a, const void *b)
{
	int	c = users_key_name((*(const struct user *const *)a)->name, b);

	return c != 0 ? c : users_seq(a, b);
}

/* A sorted view of the entries, keeping only the first line for each key. */
static struct user **
users_view(struct users *t, int by_name, size_t *count)
{
	struct user	**v;
	size_t		  i, n = 0;
	int		  same;

	v = xreallocarray(NULL, t->n, sizeof(*v));
	for (i = 0; i < t->n; i++)
		v[i] = &t->ents[i];
	qsort(v, t->n, sizeof(*v), by_name ? users_sort_name : users_sort_uid);
	for (i = 0; i < t->n; i++) {
		if (n > 0) {
			same = by_name ? users_key_name(v[i]->name, &v[n - 1]) :
			    users_key_uid(&v[i]->uid, &v[n - 1]);
			if (same == 0)
				continue;
		}
		v[n++] = v[i];
	}
	*count = n;
	return v;
}

struct users *
users_parse(const char *buf, size_t len)
{
	struct users	*t = xcalloc(1, sizeof(*t));
	const char	*nl;
	size_t		 cap = 0, n;

	while (len > 0) {
		nl = memchr(buf, '\n', len);
		n = nl != NULL ? (size_t)(nl - buf) : len;
		if (t->n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			t->ents = xreallocarray(t->ents, cap, sizeof(*t->ents));
		}
		if (users_line(buf, n, &t->ents[t->n]) == 0) {
			t->ents[t->n].seq = t->n;
			t->n++;
		}
		if (nl == NULL)
			break;
		buf = nl + 1;
		len -= n + 1;
	}
	t->byuid = users_view(t, 0, &t->nuid);
	t->byname = users_view(t, 1, &t->nname);
	return t;
}

/* Reads at most USERS_MAX_FILE bytes; *full when it stopped there. */
static int
users_read(int fd, char **out, size_t *len, int *full)
{
	size_t	 cap = 65536, off = 0;
	char	*b = xmalloc(cap);
	ssize_t	 n;

	*full = 0;
	for (;;) {
		if (off == cap && cap == USERS_MAX_FILE) {
			*full = 1;
			break;
		}
		if (off == cap) {
			cap *= 2;
			b = xreallocarray(b, cap, 1);
		}
		if ((n = read(fd, b + off, cap - off)) == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(b);
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*out = b;
	*len = off;
	return 0;
}

struct users *
users_load(const char *path)
{
	struct users	*t;
	struct stat	 st;
	const char	*nl;
	char		*buf;
	size_t		 len;
	int		 fd, full;

	/* O_NONBLOCK and S_ISREG: a target could put a FIFO or a device there. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return users_parse(NULL, 0);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    users_read(fd, &buf, &len, &full) == -1) {
		close(fd);
		return users_parse(NULL, 0);
	}
	close(fd);
	/* Past the cap, drop the cut last line rather than keep half a name. */
	if (full) {
		nl = memrchr(buf, '\n', len);
		len = nl != NULL ? (size_t)(nl - buf) : 0;
	}
	t = users_parse(buf, len);
	free(buf);
	return t;
}

const char *
users_name(const struct users *t, long long uid)
{
	struct user	**u;

	u = bsearch(&uid, t->byuid, t->nuid, sizeof(*u), users_key_uid);
	return u != NULL ? (*u)->name : NULL;
}

long long
users_uid(const struct users *t, const char *name)
{
	struct user	**u;

	if (name == NULL)
		return -1;
	u = bsearch(name, t->byname, t->nname, sizeof(*u), users_key_name);
	return u != NULL ? (*u)->uid : -1;
}

/* The number of distinct uids, that is of names users_name can give. */
size_t
users_count(const struct users *t)
{
	return t->nuid;
}

void
users_free(struct users *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->ents[i].name);
	free(t->ents);
	free(t->byuid);
	free(t->byname);
	free(t);
}

int
users_match(const struct users *t, long long uid, const char *want)
{
	const char	*name;
	char		 num[24];

	if (uid < 0)
		return 0;
	if (t != NULL && (name = users_name(t, uid)) != NULL &&
	    strcmp(name, want) == 0)
		return 1;
	snprintf(num, sizeof(num), "%lld", uid);
	return strcmp(num, want) == 0;
}
