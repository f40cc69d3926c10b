/* The Docker API client: inspect answers, DOCKER_HOST, and a fake engine on a unix socket. */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "docker.h"

static const char running[] = "{\"Id\":\"4f3c2b1a\",\"Name\":\"/app1\","
    "\"State\":{\"Status\":\"running\",\"Running\":true,\"Pid\":4242}}";

static void
test_parse(void **state)
{
	struct docker_info	info;
	char			err[256];

	(void)state;
	assert_int_equal(docker_parse_inspect(running, strlen(running), &info,
	    err, sizeof(err)), 0);
	assert_int_equal(info.pid, 4242);
	assert_true(info.running);
	assert_string_equal(info.name, "app1");
	assert_string_equal(info.id, "4f3c2b1a");
	static const char stopped[] = "{\"State\":{\"Running\":false,\"Pid\":0}}";

	assert_int_equal(docker_parse_inspect(stopped, strlen(stopped), &info,
	    err, sizeof(err)), 0);
	assert_int_equal(info.pid, 0);
	assert_false(info.running);
	assert_int_equal(docker_parse_inspect("{}", 2, &info, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "State.Pid"));
	assert_int_equal(docker_parse_inspect("{\"State\":{\"Pid\":-5}}", 20,
	    &info, err, sizeof(err)), -1);
	assert_int_equal(docker_parse_inspect("nope", 4, &info, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad JSON"));
}

static void
test_socket_path(void **state)
{
	char	path[128], err[256];

	(void)state;
	assert_int_equal(docker_socket_path("", path, sizeof(path), err,
	    sizeof(err)), 0);
	assert_string_equal(path, "/var/run/docker.sock");
	assert_int_equal(docker_socket_path("unix:///run/podman/podman.sock",
	    path, sizeof(path), err, sizeof(err)), 0);
	assert_string_equal(path, "/run/podman/podman.sock");
	assert_int_equal(docker_socket_path("tcp://10.0.0.1:2375", path,
	    sizeof(path), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "only unix"));
	assert_int_equal(docker_socket_path("unix://relative", path,
	    sizeof(path), err, sizeof(err)), -1);
}

/* Answers n requests on sock: 200 with running for app1, 404 otherwise. */
static void
fake_engine(int sock, int n)
{
	while (n-- > 0) {
		char	req[4096], resp[1024];
		size_t	got = 0;
		int	c = accept(sock, NULL, NULL);

		if (c == -1)
			_exit(1);
		while (got < sizeof(req) - 1 && memmem(req, got, "\r\n\r\n", 4) == NULL) {
			ssize_t	r = read(c, req + got, sizeof(req) - 1 - got);

			if (r <= 0)
				break;
			got += (size_t)r;
		}
		req[got] = '\0';
		if (strncmp(req, "GET /containers/app1/json ", 26) == 0)
			snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: "
			    "application/json\r\nContent-Length: %zu\r\n\r\n%s",
			    strlen(running), running);
		else
			snprintf(resp, sizeof(resp), "HTTP/1.1 404 Not Found\r\n"
			    "Content-Length: 2\r\n\r\n{}");
		if (write(c, resp, strlen(resp)) < 0)
			_exit(1);
		close(c);
	}
	_exit(0);
}

static void
test_fake_engine(void **state)
{
	struct sockaddr_un	sun;
	struct docker_info	info;
	char			dir[] = "/tmp/pidcar-docker-XXXXXX", err[512];
	int			sock, st;
	pid_t			child;

	(void)state;
	assert_non_null(mkdtemp(dir));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/docker.sock", dir);
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(sock, 4), 0);
	if ((child = fork()) == 0)
		fake_engine(sock, 2);
	if (docker_inspect(sun.sun_path, "app1", 3000, &info, err, sizeof(err)) != 0)
		fail_msg("inspect app1: %s", err);
	assert_int_equal(info.pid, 4242);
	assert_int_equal(docker_inspect(sun.sun_path, "ghost", 3000, &info, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no container 'ghost'"));
	waitpid(child, &st, 0);
	assert_int_equal(st, 0);
	close(sock);
	unlink(sun.sun_path);
	rmdir(dir);
	assert_int_equal(docker_inspect("/nonexistent/docker.sock", "app1", 500,
	    &info, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_fake_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
