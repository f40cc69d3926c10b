/*
 * pidcar: watches every process of one PID namespace and serves it over HTTP.
 * The order of life: argv, config, open what needs privileges, start the
 * modules on one event base, loop, stop them in reverse.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>
#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "poller.h"
#include "procfs.h"
#include "ptable.h"
#include "refresh.h"
#include "users.h"

extern char **environ;

/*
 * User names come from the target's own /etc/passwd.  /proc/1/root needs ptrace
 * access to PID 1 (kernel.md §8.4); without it pidcar's own file is the best guess.
 */
static void
load_users(struct daemon *d)
{
	static const char	*paths[] = {
		"/proc/1/root/etc/passwd", "/etc/passwd"
	};
	size_t			 i;

	users_free(d->users);
	for (i = 0; i < 2; i++) {
		if (access(paths[i], R_OK) == 0)
			break;
		log_info("user names: %s: %s", paths[i], strerror(errno));
	}
	if (i == 2)
		i = 1;
	d->users = users_load(paths[i]);
	d->users_file = paths[i];
	log_debug("user names from %s (%zu entries)", paths[i],
	    users_count(d->users));
}

static void
reload(struct daemon *d)
{
	struct config	*nc;
	struct proc	*p;
	char		 err[1024];

	if ((nc = config_build(d->args, environ, err, sizeof(err))) == NULL) {
		log_warnx("reload: %s; keeping the running configuration", err);
		return;
	}
	if (strcmp(nc->listen, d->conf->listen) != 0 ||
	    nc->max_connections != d->conf->max_connections)
		log_warnx("reload: listen and max_connections change only on "
		    "restart; still serving %s", d->conf->listen);
	if (strcmp(nc->target, d->conf->target) != 0)
		log_warnx("reload: target changes only on restart");
	/* Keep what the running server was started with. */
	free(nc->listen);
	nc->listen = strdup(d->conf->listen);
	nc->listen_port = d->conf->listen_port;
	free(nc->listen_host);
	nc->listen_host = strdup(d->conf->listen_host);
	nc->max_connections = d->conf->max_connections;
	free(nc->target);
	nc->target = strdup(d->conf->target);
	if (!nc->cmdline)
		for (p = ptable_first(d->pt); p != NULL; p = ptable_next(p))
			ptable_set_cmdline(p, NULL, 0);
	config_free(d->conf);
	d->conf = nc;
	log_setlevel(nc->log_level);
	poller_reconfigure(d->poller);
	load_users(d);
	log_info("reloaded %s", nc->file != NULL ? nc->file : "the configuration");
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	*d = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:
		reload(d);
		break;
	case SIGTERM:
	case SIGINT:
		log_info("stopping on signal %d", (int)sig);
		event_base_loopbreak(d->base);
		break;
	}
}

/* Detects the kernel interfaces pidcar may use, so status can say what is in use. */
static void
detect_features(struct daemon *d)
{
	struct utsname	u;
	struct stat	st;
	int		fd;

	if (uname(&u) == 0)
		strlcpy(d->feat.release, u.release, sizeof(d->feat.release));
	if ((fd = (int)syscall(SYS_pidfd_open, getpid(), 0)) != -1) {
		d->feat.pidfd = 1;
		close(fd);
	}
	d->feat.pidfd_info_exit = d->feat.pidfd && poller_probe_exit_info();
	d->feat.ns_last_pid = faccessat(d->procfd, "sys/kernel/ns_last_pid",
	    R_OK, 0) == 0;
	d->feat.fd_count_stat = fstatat(d->procfd, "self/fd", &st, 0) == 0 &&
	    st.st_size > 0;
}

static void
read_boot_time(struct daemon *d)
{
	char	*buf;
	size_t	 len;

	if (procfs_read_file(d->procfd, "stat", &buf, &len) == -1)
		fatal("read /proc/stat");
	if (procfs_parse_btime(buf, len, &d->btime) == -1)
		fatalx("no btime in /proc/stat");
	free(buf);
}

/* Opens the target: in this release the PID namespace pidcar runs in. */
static void
open_target(struct daemon *d)
{
	struct stat	st;

	if ((d->procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("open /proc");
	if (fstatat(d->procfd, "self/ns/pid", &st, 0) == -1)
		fatal("/proc/self/ns/pid");
	d->pidns_ino = (unsigned long long)st.st_ino;
	d->self_pid = getpid();
	d->mode = "sidecar";
	d->source = "procfs_poll";
	d->target_up = 1;
	d->clk_tck = sysconf(_SC_CLK_TCK);
	d->page_size = sysconf(_SC_PAGESIZE);
	read_boot_time(d);
}

static struct config *
load_config(struct config_args *args, int argc, char **argv)
{
	struct config	*conf;
	char		 err[1024];

	if (config_parse_args(argc, argv, args, err, sizeof(err)) == -1) {
		fprintf(stderr, "pidcar: %s\n", err);
		config_usage(stderr, "pidcar");
		exit(EX_USAGE_STATUS);
	}
	if (args->help) {
		config_usage(stdout, "pidcar");
		exit(0);
	}
	if (args->version) {
		printf("pidcar %s\n", PIDCAR_VERSION);
		exit(0);
	}
	if ((conf = config_build(args, environ, err, sizeof(err))) == NULL) {
		fprintf(stderr, "pidcar: %s\n", err);
		exit(EX_CONFIG_STATUS);
	}
	if (args->check_only) {
		printf("pidcar: configuration OK (%s)\n",
		    conf->file != NULL ? conf->file : "defaults");
		config_free(conf);
		exit(0);
	}
	return conf;
}

int
main(int argc, char **argv)
{
	struct daemon		 d;
	struct config_args	 args;
	struct event		*ev_sig[3];
	int			 sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	int			 i, lfd;

	memset(&d, 0, sizeof(d));
	memset(&args, 0, sizeof(args));
	d.conf = load_config(&args, argc, argv);
	d.args = &args;
	log_init(d.conf->log_level);
	d.started = now_real();
	signal(SIGPIPE, SIG_IGN);

	/* Everything that needs privileges is opened before the loop starts. */
	open_target(&d);
	detect_features(&d);
	if ((lfd = http_listen(d.conf->listen_host, d.conf->listen_port)) == -1)
		exit(1);
	load_users(&d);
	d.pt = ptable_create();

	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	for (i = 0; i < 3; i++) {
		ev_sig[i] = evsignal_new(d.base, sigs[i], signal_cb, &d);
		event_add(ev_sig[i], NULL);
	}
	d.refresh = refresh_create(&d);
	if ((d.poller = poller_start(&d)) == NULL)
		exit(1);
	if ((d.http = http_start(&d, lfd)) == NULL)
		exit(1);
	log_info("pidcar %s listening on http://%s/ (mode %s, source %s, "
	    "kernel %s)", PIDCAR_VERSION, d.conf->listen, d.mode, d.source,
	    d.feat.release);

	event_base_dispatch(d.base);

	http_stop(d.http);
	poller_free(d.poller);
	refresh_free(d.refresh);
	for (i = 0; i < 3; i++)
		event_free(ev_sig[i]);
	event_base_free(d.base);
	ptable_free(d.pt);
	users_free(d.users);
	close(d.procfd);
	config_free(d.conf);
	config_args_free(&args);
	log_info("stopped");
	return 0;
}
