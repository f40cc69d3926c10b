/*
 * libFuzzer target: a request target "PATH?k=v&k=v" as the HTTP layer hands
 * it over (percent-decoded, so any byte but NUL): route_parse, query_set for
 * every parameter, then the query over a few processes with odd command lines.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptable.h"
#include "route.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct proc *
fake_proc(pid_t pid, const char *comm, const char *cmd, size_t cmdlen,
    char state)
{
	struct proc	*p = calloc(1, sizeof(*p));

	if (p == NULL)
		abort();
	p->pid = pid;
	p->ppid = 1;
	strncpy(p->comm, comm, sizeof(p->comm) - 1);
	p->group = p->comm;
	p->state = state;
	p->uid = pid == 1 ? 0 : 65534;
	p->utime = (unsigned long long)pid * 7 % 5;
	p->rss_bytes = (unsigned long long)pid * 4096;
	p->start_ticks = (unsigned long long)(100 - pid);
	if (cmd != NULL) {
		p->cmdline = malloc(cmdlen + 1);
		if (p->cmdline == NULL)
			abort();
		memcpy(p->cmdline, cmd, cmdlen);
		p->cmdline[cmdlen] = '\0';
		p->cmdline_len = cmdlen;
	}
	return p;
}

static void
run_query(enum route r, char *q)
{
	static const char	 c2[] = "sleep\00086400\0";
	static const char	 c3[] = "sh\0-c\0x) Z \"q\" \\ \n\xff\xfe\0";
	struct proc		*all[4], *v[4];
	struct query		 query;
	char			 err[512], *next, *eq;
	size_t			 i, n;
	long			 limit;

	query_init(&query);
	for (; q != NULL; q = next) {
		if ((next = strchr(q, '&')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(q, '=')) != NULL)
			*eq++ = '\0';
		if (query_set(&query, r, q, eq, err, sizeof(err)) != 0)
			break;
	}
	all[0] = fake_proc(1, "init", NULL, 0, 'S');
	all[1] = fake_proc(2, "sleep", c2, sizeof(c2) - 1, 'S');
	all[2] = fake_proc(3, "we ird)name", c3, sizeof(c3) - 1, 'R');
	all[3] = fake_proc(4, "ptest-zombie", "", 0, 'Z');
	memcpy(v, all, sizeof(v));
	limit = query.limit;
	n = query_apply(&query, NULL, v, 4);
	if (n > 4 || (limit >= 0 && n > (size_t)limit))
		__builtin_trap();
	query_free(&query);
	for (i = 0; i < 4; i++) {
		free(all[i]->cmdline);
		free(all[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_match	 m;
	char			*s, *q, err[512];
	int			 rc;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';		/* a NUL ends the target, as in the HTTP layer */
	if ((q = strchr(s, '?')) != NULL)
		*q++ = '\0';
	rc = route_parse(s, &m, err, sizeof(err));
	if (rc != 0 && rc != 400 && rc != 404 && rc != 414)
		__builtin_trap();
	if (rc == 0 && m.route == ROUTE_PROCESS && m.pid <= 0)
		__builtin_trap();
	if (q != NULL)
		run_query(rc == 0 ? m.route : ROUTE_PROCESSES, q);
	free(s);
	return 0;
}
