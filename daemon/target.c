/*
 * The target PID namespace: a spec parsed, resolved to a namespace fd held
 * open, and attached through a procfs instance of its own (kernel.md §5, §6).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/nsfs.h>

#include "target.h"

/* Newer than Debian 12's uapi headers (include/uapi/linux/nsfs.h, mount.h). */
#ifndef NS_GET_PID_FROM_PIDNS
#define NS_GET_PID_FROM_PIDNS	_IOR(NSIO, 0x6, int)
#endif
#ifndef NS_GET_PID_IN_PIDNS
#define NS_GET_PID_IN_PIDNS	_IOR(NSIO, 0x8, int)
#endif
#define T_FSOPEN_CLOEXEC	0x00000001
#define T_FSCONFIG_SET_FD	5
#define T_FSCONFIG_CMD_CREATE	6
#define T_FSMOUNT_CLOEXEC	0x00000001

#define PID_MAX_LIMIT		4194304

static int
parse_pid(const char *s, pid_t *out)
{
	long	v = 0;

	if (*s < '1' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		if ((v = v * 10 + (*s - '0')) > PID_MAX_LIMIT)
			return -1;
	if (*s != '\0')
		return -1;
	*out = (pid_t)v;
	return 0;
}

/* Docker's names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, or a hex ID. */
static int
container_name_ok(const char *s)
{
	if (!isalnum((unsigned char)*s))
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' &&
		    *s != '-')
			return 0;
	return 1;
}

/* spec as it may be echoed: at most 64 bytes, control bytes as '?'. */
static const char *
shown(const char *spec, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; spec[i] != '\0' && i < outlen - 1 && i < 64; i++)
		out[i] = spec[i] >= 0x20 && spec[i] < 0x7f ? spec[i] : '?';
	out[i] = '\0';
	return out;
}

int
target_parse(const char *spec, struct target_spec *t, char *err, size_t errlen)
{
	char			 v[72];
	const char		*arg = strchr(spec, ':');

	memset(t, 0, sizeof(*t));
	if (strcmp(spec, "self") == 0) {
		t->kind = TARGET_SELF;
		return 0;
	}
	if (arg == NULL || arg[1] == '\0' || strlen(arg + 1) >= sizeof(t->arg))
		goto bad;
	arg++;
	if (strncmp(spec, "pid:", 4) == 0) {
		t->kind = TARGET_PID;
		if (parse_pid(arg, &t->pid) == -1) {
			snprintf(err, errlen, "'%s': bad PID (a decimal from "
			    "1 to %d)", shown(spec, v, sizeof(v)), PID_MAX_LIMIT);
			return -1;
		}
	} else if (strncmp(spec, "ns:", 3) == 0 ||
	    strncmp(spec, "cgroup:", 7) == 0) {
		t->kind = spec[0] == 'n' ? TARGET_NS : TARGET_CGROUP;
		if (arg[0] != '/' && t->kind == TARGET_NS) {
			snprintf(err, errlen, "'%s': the path must be "
			    "absolute", shown(spec, v, sizeof(v)));
			return -1;
		}
		/* A relative cgroup path is under the cgroup2 root. */
		snprintf(t->arg, sizeof(t->arg), "%s%s", arg[0] == '/' ? "" :
		    "/sys/fs/cgroup/", arg);
	} else if (strncmp(spec, "container:", 10) == 0) {
		t->kind = TARGET_CONTAINER;
		if (!container_name_ok(arg) || strlen(arg) > 255) {
			snprintf(err, errlen, "'%s': not a container name or "
			    "ID ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", shown(spec, v, sizeof(v)));
			return -1;
		}
		snprintf(t->arg, sizeof(t->arg), "%s", arg);
	} else
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not a target", shown(spec, v, sizeof(v)));
	return -1;
}

static int
open_pid_ns(pid_t pid, char *err, size_t errlen)
{
	char	path[64];
	int	fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1)
		return fd;
	if (errno == ENOENT)
		snprintf(err, errlen, "no process %d", (int)pid);
	else if (errno == EACCES || errno == EPERM)
		snprintf(err, errlen, "%s: %s (pidcar needs CAP_SYS_PTRACE over "
		    "that process)", path, strerror(errno));
	else
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

/* The first PID listed in a cgroup (v2 cgroup.procs, or v1 tasks). */
static int
cgroup_first_pid(const char *dir, pid_t *out, char *err, size_t errlen)
{
	char	 path[4200], line[32];
	FILE	*f;
	int	 found = -1;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (found == -1 && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (parse_pid(line, out) == 0)
			found = 0;
	}
	fclose(f);
	if (found == -1)
		snprintf(err, errlen, "cgroup %s has no processes", dir);
	return found;
}

int
target_open_ns(const struct target_spec *t, char *err, size_t errlen)
{
	pid_t	pid;
	int	fd;

	switch (t->kind) {
	case TARGET_SELF:
		return open_pid_ns(getpid(), err, errlen);
	case TARGET_PID:
		return open_pid_ns(t->pid, err, errlen);
	case TARGET_CGROUP:
		if (cgroup_first_pid(t->arg, &pid, err, errlen) == -1)
			return -1;
		return open_pid_ns(pid, err, errlen);
	case TARGET_NS:
		if ((fd = open(t->arg, O_RDONLY | O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "%s: %s", t->arg, strerror(errno));
			return -1;
		}
		if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWPID) {
			snprintf(err, errlen, "%s: not a PID namespace", t->arg);
			close(fd);
			return -1;
		}
		return fd;
	default:
		snprintf(err, errlen, "container targets are resolved through "
		    "the Docker API");
		return -1;
	}
}

/* fsopen + pidns= + fsmount: a procfs of nsfd's PIDs, no fork (6.18+, kernel.md §6). */
static int
procfs_pidns(int nsfd)
{
	int	fs, mnt, dir, saved;

	if ((fs = (int)syscall(SYS_fsopen, "proc", T_FSOPEN_CLOEXEC)) == -1)
		return -1;
	if (syscall(SYS_fsconfig, fs, T_FSCONFIG_SET_FD, "pidns", NULL,
	    nsfd) == -1 ||
	    syscall(SYS_fsconfig, fs, T_FSCONFIG_CMD_CREATE, NULL, NULL, 0) == -1 ||
	    (mnt = (int)syscall(SYS_fsmount, fs, T_FSMOUNT_CLOEXEC, 0)) == -1) {
		saved = errno;
		close(fs);
		errno = saved;
		return -1;
	}
	close(fs);
	dir = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	saved = errno;
	close(mnt);
	errno = saved;
	return dir;
}

/* Receives one fd over a unix socket. */
static int
recv_fd(int sock)
{
	char		 byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec	 iov = { &byte, 1 };
	struct msghdr	 msg;
	struct cmsghdr	*c;
	int		 fd;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0 ||
	    (c = CMSG_FIRSTHDR(&msg)) == NULL || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

static void
send_fd(int sock, int fd)
{
	char		 byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec	 iov = { &byte, 1 };
	struct msghdr	 msg;
	struct cmsghdr	*c;

	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	sendmsg(sock, &msg, 0);
}

/*
 * Before 6.18: procfs pins the namespace of the process that creates it, so a
 * child forked after setns() makes it and hands back the fd (kernel.md §6).
 */
int
target_procfs_helper(int nsfd)
{
	int	sv[2], own, fd = -1, status;
	pid_t	pid;

	if ((own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		close(own);
		return -1;
	}
	if (setns(nsfd, CLONE_NEWPID) == -1)
		goto out;
	pid = fork();
	if (pid != 0)
		setns(own, CLONE_NEWPID);	/* back: pid_for_children only */
	if (pid == 0) {
		int	dir = -1;

		if (unshare(CLONE_NEWNS) == 0 &&
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
		    mount("proc", "/proc", "proc", 0, NULL) == 0)
			dir = open("/proc", O_RDONLY | O_DIRECTORY);
		if (dir != -1)
			send_fd(sv[1], dir);
		_exit(dir == -1);
	}
	if (pid > 0) {
		close(sv[1]);
		sv[1] = -1;
		fd = recv_fd(sv[0]);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	}
out:
	close(own);
	close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	return fd;
}

int
target_attach(int nsfd, struct target *t, char *err, size_t errlen)
{
	struct stat	st, self;
	int		one = 1;

	memset(t, 0, sizeof(*t));
	t->procfd = t->initfd = -1;
	t->nsfd = nsfd;
	if (fstat(nsfd, &st) == -1 || stat("/proc/self/ns/pid", &self) == -1) {
		snprintf(err, errlen, "namespace: %s", strerror(errno));
		goto fail;
	}
	t->ns_ino = (unsigned long long)st.st_ino;
	t->self = st.st_ino == self.st_ino && st.st_dev == self.st_dev;
	if (t->self) {
		t->procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		t->procfs_how = "own /proc";
		t->init_host_pid = 1;
	} else {
		if ((t->procfd = procfs_pidns(nsfd)) != -1)
			t->procfs_how = "pidns= mount";
		else if ((t->procfd = target_procfs_helper(nsfd)) != -1)
			t->procfs_how = "helper";
		/* PID 1 of the target as our namespace numbers it. */
		t->init_host_pid = (pid_t)ioctl(nsfd, NS_GET_PID_FROM_PIDNS, one);
		if (t->init_host_pid < 0)
			t->init_host_pid = 0;
	}
	if (t->procfd == -1) {
		snprintf(err, errlen, "no procfs for the target namespace: %s "
		    "(needs CAP_SYS_ADMIN over it)", strerror(errno));
		goto fail;
	}
	if (t->init_host_pid > 0)
		t->initfd = (int)syscall(SYS_pidfd_open, t->init_host_pid, 0);
	return 0;
fail:
	target_detach(t);
	return -1;
}

void
target_detach(struct target *t)
{
	if (t->nsfd != -1)
		close(t->nsfd);
	if (t->procfd != -1)
		close(t->procfd);
	if (t->initfd != -1)
		close(t->initfd);
	t->nsfd = t->procfd = t->initfd = -1;
}

pid_t
target_pid_in_ns(const struct target *t, pid_t pid)
{
	int	r;

	/* 0.7 us, no /proc (kernel.md §0.5); ESRCH: not in the target. */
	if ((r = ioctl(t->nsfd, NS_GET_PID_IN_PIDNS, pid)) > 0)
		return (pid_t)r;
	return errno == ESRCH ? 0 : -1;
}
