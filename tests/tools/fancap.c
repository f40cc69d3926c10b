/*
 * fancap: captures real fanotify FAN_OPEN_EXEC events into tests/data/fanotify/
 * (see the README there).  Run as root (CAP_SYS_ADMIN): fancap DIR
 *
 * The reader is PID 1 of a new PID namespace, like pidcar in a sidecar, with
 * a filesystem mark on /: an exec by its parent (outside) carries pid 0.
 */
#define _GNU_SOURCE
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FAN_REPORT_FD_ERROR
#define FAN_REPORT_FD_ERROR	0x00002000	/* 6.13+ */
#endif

static const char	*dir;

static void
save(const char *name, const void *buf, size_t len)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, len, f) != len)
		perror(path), exit(1);
	fclose(f);
	printf("%-12s %zu bytes\n", name, len);
}

static void
run_true(void)
{
	pid_t	pid;
	int	st;

	if ((pid = fork()) == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
}

/* Reads what is queued (waits a little for it), closes the event fds. */
static ssize_t
drain(int fd, char *buf, size_t cap)
{
	struct fanotify_event_metadata	*m;
	ssize_t				 n, left;

	usleep(100000);
	if ((n = read(fd, buf, cap)) <= 0) {
		fprintf(stderr, "read: %zd %s\n", n, strerror(errno));
		return n;
	}
	left = n;	/* FAN_EVENT_NEXT counts it down */
	for (m = (void *)buf; FAN_EVENT_OK(m, left); m = FAN_EVENT_NEXT(m, left))
		if (m->fd >= 0)
			close(m->fd);
	return n;
}

static int
capture(int ready_w, int go_r)
{
	char		buf[4096], c;
	ssize_t		n;
	int		fd;
	struct rlimit	rl;

	if ((fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
	    FAN_REPORT_FD_ERROR, O_RDONLY | O_LARGEFILE | O_CLOEXEC)) == -1)
		perror("fanotify_init"), exit(1);
	if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC,
	    AT_FDCWD, "/") == -1)
		perror("fanotify_mark"), exit(1);
	if (write(ready_w, "r", 1) != 1 || read(go_r, &c, 1) != 1)
		exit(1);
	if ((n = drain(fd, buf, sizeof(buf))) <= 0)
		perror("no event of the outsider's exec"), exit(1);
	save("outsider", buf, (size_t)n);	/* the parent's exec: pid 0 */
	run_true();
	if ((n = drain(fd, buf, sizeof(buf))) > 0)
		save("exec_true", buf, (size_t)n);	/* binary, then ELF interpreter */
	/* No free fd: FAN_REPORT_FD_ERROR reports fd = -EMFILE, pid kept. */
	run_true();
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = (rlim_t)fd + 1;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = fd + 1; i < 1024; i++)
		if (fcntl(i, F_GETFD) == -1)
			break;
	usleep(100000);
	n = read(fd, buf, sizeof(buf));
	rl.rlim_cur = 1024;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (n <= 0)
		perror("read with no free fd"), exit(1);
	save("fd_error", buf, (size_t)n);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	int	ready[2], go[2], st;
	pid_t	pid, out;
	char	c;

	if (argc != 2) {
		fprintf(stderr, "usage: fancap DIR\n");
		return 2;
	}
	dir = argv[1];
	if (pipe(ready) == -1 || pipe(go) == -1 || unshare(CLONE_NEWPID) == -1)
		perror("setup"), exit(1);
	if ((pid = fork()) == 0)
		_exit(capture(ready[1], go[0]));
	if (read(ready[0], &c, 1) != 1)
		return 1;
	if (setns(open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC), CLONE_NEWPID) == -1)
		perror("setns"), exit(1);
	if ((out = fork()) == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	waitpid(out, &st, 0);
	if (write(go[1], "g", 1) != 1)
		return 1;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
