/*
 * /proc parsers over bounded buffers (never NUL-terminated, never trusted) and
 * the readers that fetch those buffers relative to a procfs directory fd.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"
#include "xmalloc.h"

/*
 * stat, io and status go through one buffer.  64 KiB holds a status with a
 * Groups line of some 5 000 groups; a bigger file fails with EFBIG.
 */
#define PROCFS_BUFSZ	65536
#define PROCFS_EXE_MAX	65536	/* d_path stops at PATH_MAX anyway */

/* Fields 1-44 exist since 2.6.24; 45-52 came later, 52 (exit_code) in 3.5. */
#define STAT_MIN	44
#define STAT_LAST	52

static char procfs_buf[PROCFS_BUFSZ];

struct scan {
	const char	*p;
	const char	*end;
};

struct stat_num {
	int			neg;
	unsigned long long	mag;
};

static int
is_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Empty input is never a valid /proc file (and buf may then be NULL). */
static int
scan_init(struct scan *s, const char *buf, size_t len)
{
	if (len == 0)
		return -1;
	s->p = buf;
	s->end = buf + len;
	return 0;
}

static void
scan_blanks(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
		s->p++;
}

/* Unsigned decimal of at least one digit, at most max. */
static int
scan_ull(struct scan *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long	v = 0;
	unsigned int		d;
	const char		*start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		d = (unsigned int)(*s->p - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
		s->p++;
	}
	if (s->p == start)
		return -1;
	*out = v;
	return 0;
}

/* Unsigned value, then optional blanks, then the end of the scan (a line). */
static int
scan_value(struct scan *s, unsigned long long max, unsigned long long *out)
{
	scan_blanks(s);
	if (scan_ull(s, max, out) == -1)
		return -1;
	scan_blanks(s);
	return s->p == s->end ? 0 : -1;
}

/* Cuts the next line (without its '\n') off s; 0 when s is used up. */
static int
scan_line(struct scan *s, struct scan *line)
{
	const char	*nl;

	if (s->p >= s->end)
		return 0;
	nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
	line->p = s->p;
	line->end = nl != NULL ? nl : s->end;
	s->p = nl != NULL ? nl + 1 : s->end;
	return 1;
}

/* True, and past it, when s starts with prefix ("rchar:"). */
static int
scan_prefix(struct scan *s, const char *prefix)
{
	size_t	n = strlen(prefix);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, prefix, n) != 0)
		return 0;
	s->p += n;
	return 1;
}

/* "PID (" at the head of a stat line. */
static int
stat_pid(const char *buf, const char *lp, pid_t *out)
{
	struct scan		s = { buf, lp };
	unsigned long long	v;

	if (scan_ull(&s, INT_MAX, &v) == -1 || v == 0)
		return -1;
	if (s.p + 1 != lp || *s.p != ' ')
		return -1;
	*out = (pid_t)v;
	return 0;
}

/* " S" right after the last ')'. */
static int
stat_state(struct scan *s, char *out)
{
	char	c;

	if (s->end - s->p < 2 || s->p[0] != ' ')
		return -1;
	if (!is_letter(c = s->p[1]))
		return -1;
	*out = c;
	s->p += 2;
	return 0;
}

/*
 * Tokenises " N N ... N[\n]" into f[4..STAT_LAST] (proc(5) numbering), checking
 * the fields beyond too.  Returns the number of the last field, or -1.
 */
static int
stat_fields(struct scan *s, struct stat_num *f)
{
	struct stat_num	 n;
	int		 nf = 3;

	while (s->p < s->end && *s->p != '\n') {
		if (*s->p++ != ' ')
			return -1;
		n.neg = s->p < s->end && *s->p == '-';
		if (n.neg)
			s->p++;
		if (scan_ull(s, ULLONG_MAX, &n.mag) == -1)
			return -1;
		if (s->p < s->end && *s->p != ' ' && *s->p != '\n')
			return -1;
		if (++nf <= STAT_LAST)
			f[nf] = n;
	}
	if (s->p < s->end)
		s->p++;
	return s->p == s->end ? nf : -1;
}

static int
stat_u(const struct stat_num *n, unsigned long long max, unsigned long long *out)
{
	if (n->neg || n->mag > max)
		return -1;
	*out = n->mag;
	return 0;
}

static int
stat_s(const struct stat_num *n, long long min, long long max, long long *out)
{
	if (!n->neg) {
		if (n->mag > (unsigned long long)max)
			return -1;
		*out = (long long)n->mag;
		return 0;
	}
	/* -(min + 1) + 1 is |min| without overflowing a long long. */
	if (min >= 0 || n->mag == 0 ||
	    n->mag - 1 > (unsigned long long)-(min + 1))
		return -1;
	*out = -(long long)(n->mag - 1) - 1;
	return 0;
}

static int
stat_assign(const struct stat_num *f, int nf, struct proc_stat *out)
{
	unsigned long long	u;
	long long		v;

	if (stat_u(&f[4], INT_MAX, &u) == -1)
		return -1;
	out->ppid = (pid_t)u;
	if (stat_u(&f[14], ULLONG_MAX, &out->utime) == -1 ||
	    stat_u(&f[15], ULLONG_MAX, &out->stime) == -1 ||
	    stat_u(&f[16], ULLONG_MAX, &out->cutime) == -1 ||
	    stat_u(&f[17], ULLONG_MAX, &out->cstime) == -1 ||
	    stat_u(&f[22], ULLONG_MAX, &out->starttime) == -1 ||
	    stat_u(&f[23], ULLONG_MAX, &out->vsize) == -1)
		return -1;
	if (stat_s(&f[20], 0, LONG_MAX, &v) == -1)
		return -1;
	out->num_threads = (long)v;
	if (stat_s(&f[24], LLONG_MIN, LLONG_MAX, &out->rss_pages) == -1)
		return -1;
	out->exit_code = -1;
	if (nf >= 52) {
		if (stat_s(&f[52], INT_MIN, INT_MAX, &v) == -1)
			return -1;
		out->exit_code = (int)v;
	}
	return 0;
}

int
procfs_parse_stat(const char *buf, size_t len, struct proc_stat *out)
{
	struct stat_num	 f[STAT_LAST + 1];
	const char	*lp, *rp;
	struct scan	 s;
	size_t		 n;
	int		 nf;

	memset(out, 0, sizeof(*out));
	out->exit_code = -1;
	if (len == 0)
		return -1;
	/* comm is the only free text; everything after the last ')' is numbers. */
	lp = memchr(buf, '(', len);
	rp = memrchr(buf, ')', len);
	if (lp == NULL || rp == NULL || rp < lp)
		return -1;
	if (stat_pid(buf, lp, &out->pid) == -1)
		return -1;
	n = (size_t)(rp - lp - 1);
	if (n > sizeof(out->comm) - 1)
		n = sizeof(out->comm) - 1;
	memcpy(out->comm, lp + 1, n);
	s.p = rp + 1;
	s.end = buf + len;
	if (stat_state(&s, &out->state) == -1)
		return -1;
	if ((nf = stat_fields(&s, f)) < STAT_MIN)
		return -1;
	return stat_assign(f, nf, out);
}

int
procfs_parse_io(const char *buf, size_t len, struct proc_io *out)
{
	static const char	*keys[] = {
		"read_bytes:", "write_bytes:", "rchar:", "wchar:"
	};
	long long		*fields[] = {
		&out->read_bytes, &out->write_bytes, &out->rchar, &out->wchar
	};
	struct scan		 s, line;
	unsigned long long	 v;
	size_t			 i;
	int			 found = 0;

	for (i = 0; i < 4; i++)
		*fields[i] = -1;
	if (scan_init(&s, buf, len) == -1)
		return -1;
	while (scan_line(&s, &line)) {
		for (i = 0; i < 4 && !scan_prefix(&line, keys[i]); i++)
			;
		if (i == 4)
			continue;
		if (scan_value(&line, LLONG_MAX, &v) == -1)
			return -1;
		*fields[i] = (long long)v;
		found = 1;
	}
	return found ? 0 : -1;
}

/* "N N N N" of the Uid: and Gid: lines; uid_t is 32 bits. */
static int
status_ids(struct scan *line, long long *ids)
{
	unsigned long long	v;
	int			i;

	for (i = 0; i < 4; i++) {
		scan_blanks(line);
		if (scan_ull(line, UINT_MAX, &v) == -1)
			return -1;
		ids[i] = (long long)v;
	}
	scan_blanks(line);
	return line->p == line->end ? 0 : -1;
}

/* "R (running)": only the letter matters. */
static int
status_state(struct scan *line, char *out)
{
	char	c;

	scan_blanks(line);
	if (line->p == line->end)
		return -1;
	if (!is_letter(c = *line->p))
		return -1;
	*out = c;
	return 0;
}

/* Returns 1 for a line it used, 0 for one it skips, -1 for a bad value. */
static int
status_line(struct scan *line, struct proc_status *out)
{
	unsigned long long	v;

	if (scan_prefix(line, "Uid:"))
		return status_ids(line, out->uid) == -1 ? -1 : 1;
	if (scan_prefix(line, "Gid:"))
		return status_ids(line, out->gid) == -1 ? -1 : 1;
	if (scan_prefix(line, "State:"))
		return status_state(line, &out->state) == -1 ? -1 : 1;
	if (scan_prefix(line, "Threads:")) {
		if (scan_value(line, LONG_MAX, &v) == -1)
			return -1;
		out->threads = (long)v;
		return 1;
	}
	if (scan_prefix(line, "PPid:")) {
		if (scan_value(line, INT_MAX, &v) == -1)
			return -1;
		out->ppid = (pid_t)v;
		return 1;
	}
	return 0;
}

int
procfs_parse_status(const char *buf, size_t len, struct proc_status *out)
{
	struct scan	s, line;
	int		i, r, found = 0;

	for (i = 0; i < 4; i++)
		out->uid[i] = out->gid[i] = -1;
	out->threads = -1;
	out->ppid = -1;
	out->state = 0;
	if (scan_init(&s, buf, len) == -1)
		return -1;
	while (scan_line(&s, &line)) {
		if ((r = status_line(&line, out)) == -1)
			return -1;
		found |= r;
	}
	return found ? 0 : -1;
}

int
procfs_parse_btime(const char *buf, size_t len, unsigned long long *btime)
{
	struct scan	s, line;

	if (scan_init(&s, buf, len) == -1)
		return -1;
	while (scan_line(&s, &line)) {
		if (scan_prefix(&line, "btime "))
			return scan_value(&line, ULLONG_MAX, btime);
	}
	return -1;
}

int
procfs_parse_pid(const char *buf, size_t len, pid_t *out)
{
	struct scan		s;
	unsigned long long	v;

	if (scan_init(&s, buf, len) == -1)
		return -1;
	if (scan_ull(&s, INT_MAX, &v) == -1)
		return -1;
	if (s.p < s.end && *s.p == '\n')
		s.p++;
	if (s.p != s.end)
		return -1;
	*out = (pid_t)v;
	return 0;
}

size_t
procfs_cmdline_argc(const char *buf, size_t len)
{
	size_t	i, argc = 0;

	for (i = 0; i < len; i++)
		argc += buf[i] == '\0';
	/* setproctitle() style rewrites may drop the final NUL. */
	return argc + (len > 0 && buf[len - 1] != '\0');
}

/* Reads fd to EOF into buf; a file that fills buf fails with EFBIG. */
static ssize_t
read_full(int fd, char *buf, size_t cap)
{
	size_t	off = 0;
	ssize_t	n;

	for (;;) {
		if (off == cap) {
			errno = EFBIG;
			return -1;
		}
		n = read(fd, buf + off, cap - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			return (ssize_t)off;
		off += (size_t)n;
	}
}

/*
 * Reads fd to EOF into a malloc'd buffer of the exact size, NUL-terminated
 * after the data: the table keeps 10 000 of these, so no slack is kept.
 */
static int
read_alloc(int fd, char **out, size_t *len)
{
	size_t	 cap = sizeof(procfs_buf), off = 0;
	char	*b = procfs_buf;
	ssize_t	 n;
	int	 saved;

	for (;;) {
		if (off == cap - 1) {
			/* Past the static buffer: grow a heap copy. */
			char	*nb = xreallocarray(b == procfs_buf ? NULL : b, cap, 2);

			if (b == procfs_buf)
				memcpy(nb, procfs_buf, off);
			b = nb;
			cap *= 2;
		}
		n = read(fd, b + off, cap - 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			if (b != procfs_buf)
				free(b);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	b[off] = '\0';
	if (b == procfs_buf) {
		*out = xmalloc(off + 1);
		memcpy(*out, b, off + 1);
	} else
		*out = xreallocarray(b, off + 1, 1);
	if (len != NULL)
		*len = off;
	return 0;
}

static int
pid_path(char *path, size_t size, pid_t pid, const char *name)
{
	if (pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	if (name == NULL)
		(void)snprintf(path, size, "%d", (int)pid);
	else
		(void)snprintf(path, size, "%d/%s", (int)pid, name);
	return 0;
}

/* A parser's -1 as a reader's: errno EINVAL. */
static int
parsed(int r)
{
	if (r == -1)
		errno = EINVAL;
	return r;
}

/* Reads PID/name into procfs_buf; returns its length or -1. */
static ssize_t
procfs_slurp(int dirfd, pid_t pid, const char *name)
{
	char	path[64];
	ssize_t	n;
	int	fd, saved;

	if (pid_path(path, sizeof(path), pid, name) == -1)
		return -1;
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read_full(fd, procfs_buf, sizeof(procfs_buf));
	saved = errno;
	close(fd);
	errno = saved;
	return n;
}

int
procfs_read_stat(int dirfd, pid_t pid, struct proc_stat *out)
{
	ssize_t	n;

	if ((n = procfs_slurp(dirfd, pid, "stat")) == -1)
		return -1;
	return parsed(procfs_parse_stat(procfs_buf, (size_t)n, out));
}

int
procfs_read_io(int dirfd, pid_t pid, struct proc_io *out)
{
	ssize_t	n;

	/* Needs ptrace-read access: EACCES even as root (kernel.md 8.4). */
	if ((n = procfs_slurp(dirfd, pid, "io")) == -1)
		return -1;
	return parsed(procfs_parse_io(procfs_buf, (size_t)n, out));
}

int
procfs_read_status(int dirfd, pid_t pid, struct proc_status *out)
{
	ssize_t	n;

	if ((n = procfs_slurp(dirfd, pid, "status")) == -1)
		return -1;
	return parsed(procfs_parse_status(procfs_buf, (size_t)n, out));
}

int
procfs_read_file(int dirfd, const char *path, char **out, size_t *len)
{
	int	fd, r, saved;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	r = read_alloc(fd, out, len);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int
procfs_read_cmdline(int dirfd, pid_t pid, char **out, size_t *len)
{
	char	path[64];

	/* Arguments run to 100 KB and more: a growing buffer of its own. */
	if (pid_path(path, sizeof(path), pid, "cmdline") == -1)
		return -1;
	return procfs_read_file(dirfd, path, out, len);
}

int
procfs_read_exe(int dirfd, pid_t pid, char **out)
{
	char	 path[64], *b = procfs_buf;
	size_t	 cap = sizeof(procfs_buf);
	ssize_t	 n;

	if (pid_path(path, sizeof(path), pid, "exe") == -1)
		return -1;
	if ((n = readlinkat(dirfd, path, b, cap)) == -1)
		return -1;
	if ((size_t)n >= cap || cap > PROCFS_EXE_MAX) {
		errno = ENAMETOOLONG;	/* d_path stops at PATH_MAX anyway */
		return -1;
	}
	*out = xstrndup(b, (size_t)n);
	return 0;
}

/* Counts the entries of the directory path (the dots aside). */
static int
count_entries(int dirfd, const char *path, long long *out)
{
	struct dirent	*de;
	DIR		*d;
	long long	 n = 0;
	int		 fd, saved;

	if ((fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (de->d_name[0] != '.')
			n++;
	}
	saved = errno;
	closedir(d);
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	*out = n;
	return 0;
}

int
procfs_count_fds(int dirfd, pid_t pid, long long *out)
{
	struct stat	st;
	char		path[64];

	if (pid_path(path, sizeof(path), pid, "fd") == -1)
		return -1;
	/* 6.2+ puts the fd count in st_size (proc_fd_getattr); older say 0. */
	if (fstatat(dirfd, path, &st, 0) == -1)
		return -1;
	if (st.st_size > 0) {
		*out = (long long)st.st_size;
		return 0;
	}
	return count_entries(dirfd, path, out);
}

int
procfs_owner(int dirfd, pid_t pid, long long *uid, long long *gid)
{
	struct stat	st;
	char		path[64];

	if (pid_path(path, sizeof(path), pid, NULL) == -1)
		return -1;
	/* A non-dumpable process shows as its user namespace's root here. */
	if (fstatat(dirfd, path, &st, 0) == -1)
		return -1;
	*uid = (long long)st.st_uid;
	*gid = (long long)st.st_gid;
	return 0;
}
