/*
 * perfcap: captures real perf side-band records into tests/data/perf/ (see
 * the README there).  Run as root (CAP_PERFMON): perfcap DIR
 *
 * The capturing process is PID 1 of a new PID namespace, like pidcar in a
 * sidecar: the outsider's fork it records carries pid 0.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/perf_event.h>

#define DATA_PAGES	1	/* small, so that LOST is easy to provoke */

static struct perf_event_mmap_page	*meta;
static unsigned char			*data;
static uint64_t				 size;
static const char			*dir;
static int				 nsaved;

static void
save(const char *name, const unsigned char *rec, size_t len)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(rec, 1, len, f) != len)
		perror(path), exit(1);
	fclose(f);
	nsaved++;
	printf("%-16s %zu bytes\n", name, len);
}

/* Drains the ring; names the records of interest by callback. */
static void
drain(void (*take)(const unsigned char *, size_t))
{
	uint64_t	head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t	tail = meta->data_tail;
	unsigned char	rec[512];

	while (tail < head) {
		struct perf_event_header	h;
		size_t				i;

		for (i = 0; i < sizeof(h); i++)
			((unsigned char *)&h)[i] = data[(tail + i) % size];
		for (i = 0; i < h.size && i < sizeof(rec); i++)
			rec[i] = data[(tail + i) % size];
		if (take != NULL)
			take(rec, h.size);
		tail += h.size;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

static pid_t	kid_exit3, kid_exec, kid_sig;
static pid_t	self;
static int	got_thread, got_outsider;

static uint32_t
u32(const unsigned char *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return v;
}

static void
take(const unsigned char *r, size_t len)
{
	struct perf_event_header	h;
	pid_t				pid, tid;

	memcpy(&h, r, sizeof(h));
	pid = (pid_t)u32(r + 8);
	tid = (pid_t)u32(r + 16);
	switch (h.type) {
	case PERF_RECORD_FORK:
		if (pid == 0 && !got_outsider) {
			got_outsider = 1;
			save("fork_outsider", r, len);
		} else if (pid != 0 && pid == kid_exit3)
			save("fork", r, len);
		else if (pid == self && tid != self && !got_thread) {
			got_thread = 1;
			save("fork_thread", r, len);
		}
		break;
	case PERF_RECORD_EXIT:
		if (pid == 0)
			break;
		if (pid == kid_exit3)
			save("exit", r, len);
		else if (pid == kid_sig)
			save("exit_sigterm", r, len);
		break;
	case PERF_RECORD_COMM:
		if (pid == kid_exec && (h.misc & PERF_RECORD_MISC_COMM_EXEC))
			save("comm_exec", r, len);
		else if (pid == kid_exec)
			save("comm_rename", r, len);
		break;
	case PERF_RECORD_LOST:
		save("lost", r, len);
		break;
	}
}

static void *
thread_main(void *arg)
{
	return arg;
}

static pid_t
spawn(int what)
{
	pid_t	pid = fork();

	if (pid == -1)
		perror("fork"), exit(1);
	if (pid > 0)
		return pid;
	if (what == 0)
		_exit(3);
	if (what == 1) {
		prctl(PR_SET_NAME, "ren)amed\n", 0, 0, 0);
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	pause();
	_exit(0);
}

static int
capture(int ready_w, int go_r)
{
	struct perf_event_attr	a;
	pthread_t		t;
	cpu_set_t		set;
	char			c;
	int			fd, st, i;
	long			page = sysconf(_SC_PAGESIZE);

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);	/* every record on CPU 0 */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_DUMMY;
	a.task = 1;
	a.comm = 1;
	a.comm_exec = 1;
	if ((fd = (int)syscall(SYS_perf_event_open, &a, -1, 0, -1, 0)) == -1)
		perror("perf_event_open"), exit(1);
	if ((meta = mmap(NULL, (size_t)(DATA_PAGES + 1) * (size_t)page,
	    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		perror("mmap"), exit(1);
	data = (unsigned char *)meta + page;
	size = (uint64_t)DATA_PAGES * (uint64_t)page;
	self = getpid();
	if (write(ready_w, "r", 1) != 1 || read(go_r, &c, 1) != 1)
		exit(1);
	drain(take);			/* the outsider's fork (pid 0) */
	kid_exit3 = spawn(0);
	waitpid(kid_exit3, &st, 0);
	kid_exec = spawn(1);
	waitpid(kid_exec, &st, 0);
	kid_sig = spawn(2);
	kill(kid_sig, SIGTERM);
	waitpid(kid_sig, &st, 0);
	pthread_create(&t, NULL, thread_main, NULL);
	pthread_join(t, NULL);
	drain(take);
	/* Fill the ring without reading it: the next record after a drain is LOST. */
	for (i = 0; i < 300; i++) {
		pid_t	k = spawn(0);

		waitpid(k, &st, 0);
	}
	drain(NULL);
	waitpid(spawn(0), &st, 0);
	drain(take);
	printf("saved %d records (self %d)\n", nsaved, (int)self);
	fflush(stdout);
	return nsaved == 8 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	int	ready[2], go[2], st;
	pid_t	pid, out;
	char	c;

	if (argc != 2) {
		fprintf(stderr, "usage: perfcap DIR\n");
		return 2;
	}
	dir = argv[1];
	if (pipe(ready) == -1 || pipe(go) == -1 || unshare(CLONE_NEWPID) == -1)
		perror("setup"), exit(1);
	if ((pid = fork()) == 0)
		_exit(capture(ready[1], go[0]));
	if (read(ready[0], &c, 1) != 1)
		return 1;
	/* An outsider: a child of the parent, back in the parent's namespace. */
	if (setns(open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC), CLONE_NEWPID) == -1)
		perror("setns"), exit(1);
	if ((out = fork()) == 0)
		_exit(0);
	waitpid(out, &st, 0);
	if (write(go[1], "g", 1) != 1)
		return 1;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
