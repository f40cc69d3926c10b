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

#include "agent.h"
#include "config.h"
#include "docker.h"
#include "events.h"
#include "daemon.h"
#include "groups.h"
#include "http.h"
#include "log.h"
#include "fanexec.h"
#include "perfev.h"
#include "poller.h"
#include "privdrop.h"
#include "procfs.h"
#include "ptable.h"
#include "refresh.h"
#include "sdnotify.h"
#include "target.h"
#include "taskstats.h"
#include "tls.h"
#include "users.h"
#include "xmalloc.h"

extern char **environ;

/*
 * User names come from the target's own /etc/passwd.  /proc/1/root needs ptrace
 * access to PID 1 (kernel.md §8.4); without it pidcar's own file is the best guess.
 */
static void
load_users(struct daemon *d)
{
	static char	 target_path[64];
	const char	*paths[2];
	size_t		 i;

	/* The target's init by the number pidcar's own /proc knows it by. */
	snprintf(target_path, sizeof(target_path), "/proc/%d/root/etc/passwd",
	    d->init_host_pid > 0 ? (int)d->init_host_pid : 1);
	paths[0] = target_path;
	paths[1] = "/etc/passwd";
	users_free(d->users);
	for (i = 0; i < 2; i++) {
		/* AT_EACCESS: access() ignores capabilities unless uid is 0. */
		if (faccessat(AT_FDCWD, paths[i], R_OK, AT_EACCESS) == 0)
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

/* What the running HTTP server was started with and cannot change. */
static int
restart_only_changed(const struct config *old, const struct config *nc)
{
	return old->max_connections_per_ip != nc->max_connections_per_ip ||
	    old->connection_timeout != nc->connection_timeout ||
	    (old->tls_cert.path == NULL) != (nc->tls_cert.path == NULL);
}

static void
reload(struct daemon *d)
{
	struct config	*nc;
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
	if ((nc->user == NULL) != (d->conf->user == NULL) ||
	    (nc->user != NULL && strcmp(nc->user, d->conf->user) != 0))
		log_warnx("reload: user changes only on restart");
	if (restart_only_changed(d->conf, nc))
		log_warnx("reload: max_connections_per_ip, connection_timeout "
		    "and turning TLS on or off change only on restart");
	/* Tokens are read with the file and apply to the next request. */
	if (nc->tls_cert.path != NULL &&
	    http_reload(d->http, nc, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the running configuration", err);
		config_free(nc);
		return;
	}
	/* Keep what the running server was started with. */
	free(nc->listen);
	nc->listen = strdup(d->conf->listen);
	nc->listen_port = d->conf->listen_port;
	free(nc->listen_host);
	nc->listen_host = strdup(d->conf->listen_host);
	nc->max_connections = d->conf->max_connections;
	nc->max_connections_per_ip = d->conf->max_connections_per_ip;
	nc->connection_timeout = d->conf->connection_timeout;
	free(nc->target);
	nc->target = strdup(d->conf->target);
	/* Rules compile or the running ones stay; group counters survive either way. */
	if (groups_configure(d->groups, nc, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the running configuration", err);
		config_free(nc);
		return;
	}
	config_free(d->conf);
	d->conf = nc;
	log_setlevel(nc->log_level);
	poller_reconfigure(d->poller);
	events_resize(d->events, (size_t)d->conf->events_buffer);
	/* New redact rules hide what old ones let through, in running processes too. */
	poller_reread_cmdlines(d);
	load_users(d);
	groups_rematch(d->groups, d->pt, d->users, now_mono());
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

/* The pid namespace a target spec names; container:NAME asks the Docker API. */
static int
open_target_ns(const char *specstr, char *err, size_t errlen)
{
	struct target_spec	spec;
	struct docker_info	info;
	char			sock[256];

	if (target_parse(specstr, &spec, err, errlen) == -1)
		return -1;
	if (spec.kind == TARGET_CONTAINER) {
		if (docker_socket_path(NULL, sock, sizeof(sock), err, errlen) == -1 ||
		    docker_inspect(sock, spec.arg, 5000, &info, err, errlen) == -1)
			return -1;
		if (!info.running || info.pid <= 0) {
			snprintf(err, errlen, "container '%.255s' is not running",
			    spec.arg);
			return -1;
		}
		spec.kind = TARGET_PID;
		spec.pid = info.pid;
	}
	return target_open_ns(&spec, err, errlen);
}

/*
 * Opens the target and picks the mode (DESIGN.md §1): the proc connector when
 * the kernel ACKs pidcar's subscription, else sidecar polling of its own
 * namespace; another namespace cannot be watched without the connector.
 */
static void
open_target(struct daemon *d, struct target *t, int *cnfd, enum cn_sub *sub,
    struct ts_listener **ts)
{
	char	err[1024];
	int	nsfd;

	if ((nsfd = open_target_ns(d->conf->target, err, sizeof(err))) == -1 ||
	    target_attach(nsfd, t, err, sizeof(err)) == -1)
		fatalx("target %s: %s", d->conf->target, err);
	d->procfd = t->procfd;
	d->pidns_ino = t->ns_ino;
	d->init_host_pid = t->init_host_pid;
	d->target_up = 1;
	d->clk_tck = sysconf(_SC_CLK_TCK);
	d->page_size = sysconf(_SC_PAGESIZE);
	*cnfd = agent_open(sub);
	if (*cnfd != -1) {
		d->mode = "agent";
		d->source = "proc_connector";
		d->nsfd = t->nsfd;
		if ((*ts = taskstats_open(8 << 20)) == NULL)
			log_warnx("taskstats: %s; the CPU of processes gone before "
			    "pidcar read them comes from their parents' cutime "
			    "(best effort), not from exit records%s",
			    strerror(errno), errno == EPERM ?
			    " (needs CAP_NET_ADMIN)" : "");
	} else if (t->self) {
		log_info("proc connector: %s; watching this namespace by polling "
		    "(sidecar mode)", errno == EPERM ? "not in the initial "
		    "namespaces" : strerror(errno));
		d->mode = "sidecar";
		d->source = "procfs_poll";
		d->nsfd = -1;
	} else
		fatalx("target %s: another namespace needs the proc connector, "
		    "which does not serve pidcar here (%s): run pidcar on the host "
		    "as root, or inside the target with target self",
		    d->conf->target, errno == EPERM ? "not in the initial "
		    "namespaces" : strerror(errno));
	d->self_pid = t->self ? getpid() : 0;
	read_boot_time(d);
}

/*
 * Sidecar mode: perf side-band task records, when the kernel lets pidcar open
 * them (CAP_PERFMON or CAP_SYS_ADMIN at perf_event_paranoid > 0), replace the
 * ns_last_pid probe; tried, never assumed (kernel.md §12.4).
 */
static struct perfev *
open_perf(struct daemon *d)
{
	struct perfev	*pe;

	if ((pe = perfev_open()) == NULL) {
		d->feat.perf_errno = errno;
		log_info("perf side-band records: %s%s; new processes are found "
		    "by the ns_last_pid probe", strerror(errno), errno == EACCES ||
		    errno == EPERM ? " (needs CAP_PERFMON)" : "");
		return NULL;
	}
	d->feat.perf = 1;
	d->source = "perf_task_events";
	log_info("perf side-band records on %d CPUs (%zu KiB rings): forks, "
	    "execs and exits as they happen", perfev_ncpus(pe),
	    perfev_ring_bytes(pe) / 1024);
	return pe;
}

/*
 * Sidecar mode: exec paths from fanotify when CAP_SYS_ADMIN allows a mark on
 * the target's root filesystem (kernel.md §12.3); tried, never assumed.
 */
static struct fanexec *
open_fanexec(struct daemon *d)
{
	struct fanexec	*fe;

	if ((fe = fanexec_open("/proc/1/root/")) == NULL) {
		d->feat.fanotify_errno = errno;
		log_info("fanotify exec events: %s%s; exec paths come from "
		    "/proc/PID/exe only", strerror(errno), errno == EPERM ?
		    " (needs CAP_SYS_ADMIN)" : "");
		return NULL;
	}
	d->feat.fanotify = 1;
	d->source = d->feat.perf ? "perf_task_events+fanotify_exec" :
	    "procfs_poll+fanotify_exec";
	return fe;
}

/*
 * The target's life: a pidfd on its init says when the namespace empties
 * (kernel.md §6, §0.7); container: and cgroup: targets are looked up again
 * every second until a new incarnation (a new namespace) can be attached.
 */
struct lifecycle {
	struct daemon	*d;
	struct target	*t;
	struct event	*ev_gone;
	struct event	*ev_again;
	int		 again;		/* the spec can name a new namespace */
	int		 warned;
};

static void	target_gone_cb(evutil_socket_t, short, void *);

static void
target_event(struct daemon *d, const char *what, const char *reason)
{
	struct pevent	ev;

	events_blank(&ev, EV_TARGET, now_real());
	ev.what = what;
	ev.reason = xstrdup(reason);
	events_add(d->events, &ev);
}

static void
watch_init(struct lifecycle *lc)
{
	if (lc->t->initfd == -1 || lc->t->self)
		return;
	event_assign(lc->ev_gone, lc->d->base, lc->t->initfd, EV_READ,
	    target_gone_cb, lc);
	event_add(lc->ev_gone, NULL);
}

static void
attach_again_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lifecycle	*lc = arg;
	struct daemon		*d = lc->d;
	struct stat		 st;
	char			 err[1024], why[128];
	int			 nsfd;

	(void)fd;
	(void)what;
	if ((nsfd = open_target_ns(d->conf->target, err, sizeof(err))) == -1 ||
	    fstat(nsfd, &st) == -1 || (unsigned long long)st.st_ino == d->pidns_ino) {
		if (nsfd != -1)
			close(nsfd);
		else if (!lc->warned++)
			log_info("target %s: not back yet (%s); trying every second",
			    d->conf->target, err);
		return;
	}
	target_detach(lc->t);
	if (target_attach(nsfd, lc->t, err, sizeof(err)) == -1) {
		log_warnx("target %s: cannot attach the new namespace: %s",
		    d->conf->target, err);
		return;
	}
	event_del(lc->ev_again);
	d->procfd = lc->t->procfd;
	d->nsfd = lc->t->nsfd;
	d->pidns_ino = lc->t->ns_ino;
	d->init_host_pid = lc->t->init_host_pid;
	d->target_up = 1;
	d->c.attaches++;
	lc->warned = 0;
	load_users(d);
	poller_retarget(d->poller);
	watch_init(lc);
	snprintf(why, sizeof(why), "a new namespace (inode %llu, PID 1 is host "
	    "PID %d)", d->pidns_ino, (int)d->init_host_pid);
	log_info("target %s: attached again: %s", d->conf->target, why);
	target_event(d, "attached", why);
}

static void
target_gone_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lifecycle	*lc = arg;
	struct daemon		*d = lc->d;
	struct timeval		 tv = { 1, 0 };

	(void)fd;
	(void)what;
	if (!d->target_up)
		return;
	d->target_up = 0;
	log_warnx("target %s: its PID 1 exited; the namespace is gone%s",
	    d->conf->target, lc->again ? "; waiting for it to come back" : "");
	target_event(d, "gone", "its PID 1 exited");
	if (lc->again)
		event_add(lc->ev_again, &tv);
}

static struct config *
load_config(struct config_args *args, int argc, char **argv)
{
	struct config	*conf;
	struct tls	*t;
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
	/* A key that does not match its certificate is a config error too. */
	if (conf->tls_cert.path != NULL) {
		if ((t = tls_load(&conf->tls_cert, &conf->tls_key, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "pidcar: %s\n", err);
			exit(EX_CONFIG_STATUS);
		}
		tls_free(t);
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
	struct lifecycle	 lc;
	struct target		 tgt;
	struct agent		*agent = NULL;
	struct sdnotify		*sn;
	struct ts_listener	*ts = NULL;
	struct perfev		*perf = NULL;
	struct fanexec		*fan = NULL;
	enum cn_sub		 sub;
	int			 cnfd;
	int			 sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	int			 i, lfd;
	char			 err[512];

	memset(&d, 0, sizeof(d));
	memset(&args, 0, sizeof(args));
	d.conf = load_config(&args, argc, argv);
	d.args = &args;
	log_init(d.conf->log_level);
	privdrop_raise();
	/* A user that cannot be switched to stops us before anything is open. */
	if (privdrop_check(d.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	d.started = now_real();
	signal(SIGPIPE, SIG_IGN);

	/* Everything that needs privileges is opened before the loop starts. */
	open_target(&d, &tgt, &cnfd, &sub, &ts);
	if (cnfd == -1) {
		perf = open_perf(&d);
		fan = open_fanexec(&d);
	}
	detect_features(&d);
	if ((lfd = http_listen(d.conf->listen_host, d.conf->listen_port)) == -1)
		exit(1);
	load_users(&d);
	d.pt = ptable_create();
	d.groups = groups_create(d.clk_tck);
	if (groups_configure(d.groups, d.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);

	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	for (i = 0; i < 3; i++) {
		ev_sig[i] = evsignal_new(d.base, sigs[i], signal_cb, &d);
		event_add(ev_sig[i], NULL);
	}
	d.events = events_create((size_t)d.conf->events_buffer);
	d.refresh = refresh_create(&d);
	if ((d.poller = poller_start(&d)) == NULL)
		exit(1);
	if (perf != NULL)
		perfev_start(perf, &d, d.poller);
	if (fan != NULL)
		fanexec_start(fan, &d);
	if (cnfd != -1)
		agent = agent_start(&d, d.poller, &tgt, cnfd, sub, ts);
	d.taskstats = ts != NULL;
	memset(&lc, 0, sizeof(lc));
	lc.d = &d;
	lc.t = &tgt;
	lc.again = d.nsfd != -1 && (strncmp(d.conf->target, "container:", 10) ==
	    0 || strncmp(d.conf->target, "cgroup:", 7) == 0);
	lc.ev_gone = event_new(d.base, -1, 0, target_gone_cb, &lc);
	lc.ev_again = event_new(d.base, -1, EV_PERSIST, attach_again_cb, &lc);
	watch_init(&lc);
	if ((d.http = http_start(&d, lfd)) == NULL)
		exit(1);
	log_info("pidcar %s listening on %s://%s/ (mode %s, source %s, "
	    "kernel %s)", PIDCAR_VERSION, d.conf->tls_cert.path != NULL ?
	    "https" : "http", d.conf->listen, d.mode, d.source,
	    d.feat.release);

	/* Connected before the drop: the socket's path may be root's alone. */
	sn = sdnotify_start(&d);
	if (privdrop_apply(d.conf, privdrop_flags(d.mode, d.conf->target), err,
	    sizeof(err)) == -1)
		fatalx("%s", err);

	event_base_dispatch(d.base);

	sdnotify_free(sn);

	http_stop(d.http);
	agent_free(agent);
	perfev_free(perf);
	fanexec_free(fan);
	event_free(lc.ev_gone);
	event_free(lc.ev_again);
	poller_free(d.poller);
	refresh_free(d.refresh);
	for (i = 0; i < 3; i++)
		event_free(ev_sig[i]);
	event_base_free(d.base);
	ptable_free(d.pt);
	groups_free(d.groups);
	events_free(d.events);
	users_free(d.users);
	target_detach(&tgt);
	config_free(d.conf);
	config_args_free(&args);
	log_info("stopped");
	return 0;
}
