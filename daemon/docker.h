/*
 * container:NAME targets: the Docker Engine API on its unix socket (podman's
 * compatible service answers the same).
 */
#ifndef PIDCAR_DOCKER_H
#define PIDCAR_DOCKER_H

#include <sys/types.h>
#include <stddef.h>

struct docker_info {
	pid_t	 pid;		/* State.Pid: the container's init, host PID; 0 if not running */
	int	 running;	/* State.Running */
	char	 id[65];	/* Id */
	char	 name[256];	/* Name, without the leading '/' */
};

/*
 * Parses an inspect answer (pure).  Returns 0, or -1 with err naming what is
 * missing.
 */
int	docker_parse_inspect(const char *json, size_t len, struct docker_info *,
	    char *err, size_t errlen);
/*
 * The socket path: DOCKER_HOST=unix://PATH when set (host may be NULL for the
 * environment's), else /var/run/docker.sock.  Returns 0, or -1 with err for a
 * DOCKER_HOST that is not a unix socket.
 */
int	docker_socket_path(const char *docker_host, char *out, size_t outlen,
	    char *err, size_t errlen);
/*
 * Inspects container name through the socket at path, waiting at most
 * timeout_ms for each read (start-up and re-attach only).
 * Returns 0, or -1 with err (no socket, no such container, bad answer).
 */
int	docker_inspect(const char *path, const char *name, int timeout_ms,
	    struct docker_info *, char *err, size_t errlen);

#endif
