/*
 * The Docker Engine API over its unix socket: GET /containers/NAME/json gives
 * the container's init PID on the host.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "docker.h"

#define DOCKER_DEFAULT_SOCKET	"/var/run/docker.sock"

int
docker_parse_inspect(const char *json, size_t len, struct docker_info *info,
    char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*root, *state, *v;
	const char	*s;
	int		 rc = -1;

	memset(info, 0, sizeof(*info));
	if ((root = json_loadb(json, len, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "bad JSON from the Docker API: %s", jerr.text);
		return -1;
	}
	state = json_object_get(root, "State");
	if (!json_is_object(state) ||
	    !json_is_integer(v = json_object_get(state, "Pid"))) {
		snprintf(err, errlen, "the Docker API gave no State.Pid");
		goto out;
	}
	if (json_integer_value(v) < 0 || json_integer_value(v) > 4194304) {
		snprintf(err, errlen, "the Docker API gave State.Pid %lld",
		    (long long)json_integer_value(v));
		goto out;
	}
	info->pid = (pid_t)json_integer_value(v);
	info->running = json_is_true(json_object_get(state, "Running"));
	if ((s = json_string_value(json_object_get(root, "Id"))) != NULL)
		snprintf(info->id, sizeof(info->id), "%s", s);
	if ((s = json_string_value(json_object_get(root, "Name"))) != NULL)
		snprintf(info->name, sizeof(info->name), "%s", s[0] == '/' ? s + 1 : s);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int
docker_socket_path(const char *host, char *out, size_t outlen, char *err,
    size_t errlen)
{
	if (host == NULL)
		host = getenv("DOCKER_HOST");
	if (host == NULL || *host == '\0') {
		snprintf(out, outlen, "%s", DOCKER_DEFAULT_SOCKET);
		return 0;
	}
	if (strncmp(host, "unix://", 7) != 0 || host[7] != '/') {
		snprintf(err, errlen, "DOCKER_HOST=%.200s: only unix:///path "
		    "sockets are supported", host);
		return -1;
	}
	if (strlen(host + 7) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    strlen(host + 7) >= outlen) {
		snprintf(err, errlen, "DOCKER_HOST=%.200s: path too long", host);
		return -1;
	}
	snprintf(out, outlen, "%s", host + 7);
	return 0;
}

/*
 * libevent 2.1's evhttp client cannot reach a unix socket (that came with
 * 2.2, libevent PR #322), so the request is one HTTP/1.0 GET on a connected
 * socket, and the answer is split with evbuffer's line reader: HTTP/1.0 makes
 * the engine close after the body, with no chunked encoding.
 */
static int
http_get(int fd, const char *uri, int timeout_ms, struct evbuffer *in)
{
	char		req[600];
	int		n;
	struct pollfd	pfd = { fd, POLLIN, 0 };

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: docker\r\n"
	    "User-Agent: pidcar\r\n\r\n", uri);
	if (write(fd, req, (size_t)n) != n)
		return -1;
	for (;;) {
		if (poll(&pfd, 1, timeout_ms) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((n = evbuffer_read(in, fd, 65536)) <= 0)
			return n;
		if (evbuffer_get_length(in) > (4 << 20)) {
			errno = EFBIG;
			return -1;
		}
	}
}

/* The status code of an answer, its headers skipped; -1 when malformed. */
static int
http_status(struct evbuffer *in)
{
	char	*line;
	int	 code = -1;
	size_t	 len;

	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) == NULL)
		return -1;
	if (strncmp(line, "HTTP/1.", 7) != 0 || sscanf(line + 8, " %3d", &code) != 1)
		code = -1;
	free(line);
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		free(line);
		if (len == 0)
			return code;
	}
	return -1;
}

int
docker_inspect(const char *path, const char *name, int timeout_ms,
    struct docker_info *info, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct evbuffer		*in;
	char			 uri[512];
	int			 fd, code, rc = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "%s: %s (is the Docker or podman API "
		    "service running? DOCKER_HOST=unix:///path names another "
		    "socket)", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	in = evbuffer_new();
	snprintf(uri, sizeof(uri), "/containers/%s/json", name);
	if (http_get(fd, uri, timeout_ms, in) == -1)
		snprintf(err, errlen, "the Docker API at %s: %s", path,
		    strerror(errno));
	else if ((code = http_status(in)) == 404)
		snprintf(err, errlen, "no container '%s'", name);
	else if (code != 200)
		snprintf(err, errlen, "the Docker API answered %d for container "
		    "'%s'", code, name);
	else
		rc = docker_parse_inspect((const char *)evbuffer_pullup(in, -1),
		    evbuffer_get_length(in), info, err, errlen);
	evbuffer_free(in);
	close(fd);
	return rc;
}
