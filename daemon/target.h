/*
 * The target PID namespace: parsing a target spec (pure), resolving it to a
 * namespace fd, and attaching to it (a procfs instance for its PIDs, a pidfd
 * on its init).  Docker's container:NAME is resolved elsewhere (it needs HTTP).
 */
#ifndef PIDCAR_TARGET_H
#define PIDCAR_TARGET_H

#include <sys/types.h>
#include <stddef.h>

enum target_kind {
	TARGET_SELF,		/* "self": the namespace pidcar runs in */
	TARGET_PID,		/* "pid:N": the namespace of host PID N */
	TARGET_NS,		/* "ns:PATH": a pid namespace file */
	TARGET_CGROUP,		/* "cgroup:PATH": the namespace of that cgroup's processes */
	TARGET_CONTAINER	/* "container:NAME": through the Docker Engine API */
};

struct target_spec {
	enum target_kind	 kind;
	pid_t			 pid;		/* TARGET_PID */
	char			 arg[4096];	/* path or container name */
};

/*
 * Parses a spec.  Returns 0, or -1 with err saying what is wrong and what is
 * accepted.
 */
int	target_parse(const char *spec, struct target_spec *, char *err, size_t errlen);

/* An attached target: every fd is owned, -1 when absent. */
struct target {
	int			 nsfd;		/* the pid namespace, held open (inodes recycle) */
	int			 procfd;	/* O_DIRECTORY procfs root showing its PIDs */
	int			 initfd;	/* pidfd of its PID 1: POLLIN when the namespace empties */
	pid_t			 init_host_pid;	/* PID 1 as pidcar's namespace sees it, 0 if not visible */
	unsigned long long	 ns_ino;
	int			 self;		/* the namespace pidcar runs in */
	const char		*procfs_how;	/* "own /proc", "pidns= mount", "helper" */
};

/*
 * Opens the pid namespace a spec names (not container:, which needs the
 * Docker API: pass its init's host PID as a TARGET_PID spec).  Returns an fd or
 * -1 with err set.
 */
int	target_open_ns(const struct target_spec *, char *err, size_t errlen);
/*
 * Attaches to the namespace nsfd (taken over): a procfs instance for it, the
 * pidfd of its init.  Returns 0, or -1 with err set (nsfd closed).
 */
int	target_attach(int nsfd, struct target *, char *err, size_t errlen);
/* The pre-6.18 way to a procfs of nsfd (a child forked after setns); fd or -1. */
int	target_procfs_helper(int nsfd);
/* Closes every fd; the struct may be attached again. */
void	target_detach(struct target *);
/* The PID in the target of global PID pid, 0 when it is not in the target; -1 on error. */
pid_t	target_pid_in_ns(const struct target *, pid_t pid);

#endif
