/*
 * The edges of /metrics: the format and encoding a scraper asks for, gzip,
 * and pidcar's own process_* numbers from /proc/self.  prom.c renders.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <zlib.h>

#include "render.h"
#include "xmalloc.h"

/* The q of one Accept element ("type/sub;a=b;q=0.5"), or -1 when it is not media. */
static double
accept_q(const char *elem, size_t len, char *media, size_t medialen,
    char *version, size_t versionlen)
{
	const char	*p = elem, *end = elem + len, *semi;
	double		 q = 1;
	size_t		 n;

	version[0] = '\0';
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
		semi = end;
	n = (size_t)(semi - p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= medialen)
		return -1;
	memcpy(media, p, n);
	media[n] = '\0';
	for (p = semi; p < end; p = semi) {
		const char	*k = p + 1, *eq;

		if ((semi = memchr(k, ';', (size_t)(end - k))) == NULL)
			semi = end;
		while (k < semi && (*k == ' ' || *k == '\t'))
			k++;
		if ((eq = memchr(k, '=', (size_t)(semi - k))) == NULL)
			continue;
		if (eq - k == 1 && (*k == 'q' || *k == 'Q'))
			q = strtod(eq + 1, NULL);
		else if (eq - k == 7 && strncasecmp(k, "version", 7) == 0) {
			n = (size_t)(semi - eq - 1);
			while (n > 0 && (eq[n] == ' ' || eq[n] == '\t'))
				n--;
			if (n < versionlen) {
				memcpy(version, eq + 1, n);
				version[n] = '\0';
			}
		}
	}
	return q >= 0 && q <= 1 ? q : 0;
}

enum prom_format
prom_negotiate(const char *accept)
{
	const char	*p, *comma;
	char		 media[128], version[32];
	double		 q, om = 0, text = 0;

	if (accept == NULL)
		return PROM_TEXT;
	for (p = accept; *p != '\0'; p = *comma ? comma + 1 : comma) {
		comma = p + strcspn(p, ",");
		if ((q = accept_q(p, (size_t)(comma - p), media, sizeof(media),
		    version, sizeof(version))) < 0)
			continue;
		if (strcasecmp(media, "application/openmetrics-text") == 0) {
			/* 1.0.0 is what we write; 0.0.1 differs in no line we write. */
			if ((version[0] == '\0' || strcmp(version, "1.0.0") == 0 ||
			    strcmp(version, "0.0.1") == 0) && q > om)
				om = q;
		} else if (strcasecmp(media, "text/plain") == 0 ||
		    strcasecmp(media, "text/*") == 0 ||
		    strcmp(media, "*/*") == 0) {
			if (q > text)
				text = q;
		}
	}
	return om > 0 && om >= text ? PROM_OPENMETRICS : PROM_TEXT;
}

int
prom_accepts_gzip(const char *accept_encoding)
{
	const char	*p, *comma;
	char		 coding[64], version[8];

	if (accept_encoding == NULL)
		return 0;
	for (p = accept_encoding; *p != '\0'; p = *comma ? comma + 1 : comma) {
		comma = p + strcspn(p, ",");
		if (accept_q(p, (size_t)(comma - p), coding, sizeof(coding),
		    version, sizeof(version)) > 0 &&
		    strcasecmp(coding, "gzip") == 0)
			return 1;
	}
	return 0;
}

int
prom_gzip(const char *in, size_t len, struct buf *out)
{
	z_stream	z;
	int		rc;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip wrapper; level 1: metrics repeat so much that it is plenty. */
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	buf_reserve(out, deflateBound(&z, (uLong)len) + 1);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out->data + out->len;
	z.avail_out = (uInt)(out->cap - out->len - 1);
	rc = deflate(&z, Z_FINISH);
	out->len += z.total_out;
	out->data[out->len] = '\0';
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

/* Fields 14 (utime), 15 (stime), 22 (starttime), 23 (vsize), 24 (rss) of /proc/self/stat. */
static int
self_stat(unsigned long long *ticks, unsigned long long *start,
    unsigned long long *vsize, unsigned long long *rss)
{
	char			 buf[1024], *p, *end;
	unsigned long long	 f[25];
	ssize_t			 n;
	int			 fd, i;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold ')' and spaces: the fields start after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		goto garbage;
	p += 3;
	for (i = 4; i <= 24; i++) {
		errno = 0;
		f[i] = strtoull(p, &end, 10);
		if (end == p || errno != 0)
			goto garbage;
		p = end;
	}
	*ticks = f[14] + f[15];
	*start = f[22];
	*vsize = f[23];
	*rss = f[24];
	return 0;
garbage:
	errno = EINVAL;
	return -1;
}

/* "btime N" of /proc/stat: boot time in seconds since the epoch. */
static int
self_btime(unsigned long long *btime)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	int	 found = 0;

	if ((f = fopen("/proc/stat", "re")) == NULL)
		return -1;
	while (!found && getline(&line, &cap, f) != -1)
		found = sscanf(line, "btime %llu", btime) == 1;
	free(line);
	fclose(f);
	if (!found) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Entries of /proc/self/fd but the one opendir holds; -1 when unreadable. */
static double
self_open_fds(void)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	double		 n = 0;
	char		 own[16];

	/* 6.2+: the directory's size is the count, no walk over one pidfd per process. */
	if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0)
		return (double)st.st_size;
	if ((dir = opendir("/proc/self/fd")) == NULL)
		return -1;
	snprintf(own, sizeof(own), "%d", dirfd(dir));
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] != '.' && strcmp(de->d_name, own) != 0)
			n++;
	}
	closedir(dir);
	return n;
}

int
prom_read_self(struct self_metrics *m)
{
	unsigned long long	 ticks, start, vsize, rss, btime;
	struct rlimit		 rl;
	long			 hz = sysconf(_SC_CLK_TCK);
	long			 page = sysconf(_SC_PAGESIZE);

	if (hz <= 0 || page <= 0)
		return -1;
	if (self_stat(&ticks, &start, &vsize, &rss) == -1 ||
	    self_btime(&btime) == -1)
		return -1;
	m->cpu_seconds = (double)ticks / (double)hz;
	m->resident_bytes = (double)rss * (double)page;
	m->virtual_bytes = (double)vsize;
	m->start_time = (double)btime + (double)start / (double)hz;
	m->open_fds = self_open_fds();
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	m->max_fds = (double)rl.rlim_cur;
	return 0;
}
