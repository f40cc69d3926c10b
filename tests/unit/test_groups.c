/* Unit tests of groups.c and its config keywords: matching, accounting, restarts, main. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "groups.h"
#include "ptable.h"
#include "users.h"
#include "xmalloc.h"

#define PASSWD	"root:x:0:0::/:/bin/sh\nwww-data:x:33:33::/:/bin/sh\n" \
		"nobody:x:65534:65534::/:/bin/sh\n"

struct fixture {
	struct config	*conf;
	struct groups	*gs;
	struct ptable	*pt;
	struct users	*users;
};

/* Replaces the config with defaults + text and re-matches, as a reload does. */
static void
configure(struct fixture *f, const char *text, double now)
{
	char	err[512];

	config_free(f->conf);
	f->conf = config_defaults();
	if (config_parse_buffer(f->conf, "t.conf", text, strlen(text), err,
	    sizeof(err)) == -1)
		fail_msg("%s", err);
	if (groups_configure(f->gs, f->conf, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	groups_rematch(f->gs, f->pt, f->users, now);
}

static int
setup(void **state)
{
	struct fixture	*f = xcalloc(1, sizeof(*f));

	f->gs = groups_create(100);
	f->pt = ptable_create();
	f->users = users_parse(PASSWD, strlen(PASSWD));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	ptable_free(f->pt);
	groups_free(f->gs);
	config_free(f->conf);
	users_free(f->users);
	free(f);
	return 0;
}

/* A process as poller_examine leaves it; cmdline is NUL-separated ("a\0b\0"), len given. */
static struct proc *
mk(struct fixture *f, pid_t pid, unsigned long long start, const char *comm,
    const char *exe, const char *cmd, size_t cmdlen, long long uid)
{
	struct proc	*p = ptable_add(f->pt, pid, start);

	assert_non_null(p);
	ptable_set_ppid(f->pt, p, 1);
	p->state = 'S';
	p->threads = 1;
	p->uid = uid;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	if (exe != NULL)
		ptable_set_exe(p, exe);
	if (cmd != NULL)
		ptable_set_cmdline(p, cmd, cmdlen);
	groups_assign(f->gs, f->pt, p, f->users, 0);
	return p;
}

/* The poller's order at an exit: status and exit counted, then gone. */
static void
die(struct fixture *f, struct proc *p, int wstatus, double lifetime, double now)
{
	p->exited = 1;
	p->exit_status = wstatus;
	groups_exited(f->gs, f->pt, p, lifetime, 1000 + now);
	groups_gone(f->gs, f->pt, p, now);
	ptable_remove(f->pt, p);
}

/* The live view of one group (fails when there is none). */
static struct group_view
view(struct fixture *f, const char *name)
{
	struct group_view	*v, w;
	size_t			 n, i;

	n = groups_view(f->gs, f->pt, &v);
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].g->name, name) == 0) {
			w = v[i];
			free(v);
			return w;
		}
	}
	free(v);
	fail_msg("no group %s", name);
	memset(&w, 0, sizeof(w));
	return w;
}

#define MATCH_CONF \
	"group web comm=^nginx$\n" \
	"group web \"cmdline=^/usr/sbin/apache2 -k start\"   # a comment\n" \
	"group py exe=/python3(\\.[0-9]+)?$ cmdline=worker\n" \
	"group www user=www-data\n" \
	"group byuid user=4242\n" \
	"group both comm=^job$ user=nobody\n"

/* First match wins, every matcher of a line must match, the rest go by comm. */
static void
test_match_table(void **state)
{
	static const struct {
		const char	*comm;
		const char	*exe;
		const char	*cmd;
		size_t		 cmdlen;
		long long	 uid;
		const char	*group;
	} rows[] = {
		{ "nginx", "/usr/sbin/nginx", "nginx: master\0", 14, 0, "web" },
		/* First match: web comes before www. */
		{ "nginx", "/usr/sbin/nginx", "nginx: worker\0", 14, 33, "web" },
		{ "nginx-x", "/usr/sbin/nginx", "nginx\0", 6, 33, "www" },
		/* Joined by spaces, like ?match=. */
		{ "apache2", "/usr/sbin/apache2", "/usr/sbin/apache2\0-k\0start\0",
		    27, 0, "web" },
		{ "apache2", "/usr/sbin/apache2", "/usr/sbin/apache2\0-k\0stop\0",
		    26, 0, "apache2" },
		{ "python3", "/usr/bin/python3.11", "python3\0worker.py\0", 18, 0, "py" },
		{ "python3", "/usr/bin/python3", "python3\0worker.py\0", 18, 0, "py" },
		{ "python3", "/usr/bin/python3.11", "python3\0server.py\0", 18, 0,
		    "python3" },
		/* An unreadable exe never matches exe=. */
		{ "python3", NULL, "python3\0worker.py\0", 18, 0, "python3" },
		{ "job", "/bin/job", "job\0", 4, 65534, "both" },
		{ "job", "/bin/job", "job\0", 4, 0, "job" },
		{ "x", NULL, NULL, 0, 4242, "byuid" },
		{ "x", NULL, NULL, 0, -1, "x" },
		/* No cmdline (a zombie, cmdline no): ?match= and cmdline= see comm. */
		{ "worker", "/usr/bin/python3", NULL, 0, 0, "py" },
		{ "bad\xff", NULL, NULL, 0, 0, "bad\xef\xbf\xbd" },
	};
	struct fixture	*f = *state;
	struct proc	*p;
	size_t		 i;

	configure(f, MATCH_CONF, 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		p = mk(f, (pid_t)(100 + i), 1000, rows[i].comm, rows[i].exe,
		    rows[i].cmd, rows[i].cmdlen, rows[i].uid);
		if (p->group == NULL || strcmp(p->group, rows[i].group) != 0)
			fail_msg("row %zu (%s): group %s, want %s", i, rows[i].comm,
			    p->group, rows[i].group);
		/* The name is the group's own storage, not a copy nor the config's. */
		assert_ptr_equal(p->group, groups_find(f->gs, rows[i].group)->name);
		assert_ptr_equal(p->grp, groups_find(f->gs, rows[i].group));
	}
	assert_int_equal(view(f, "web").processes, 3);
	/* Configured groups exist before anything matches them. */
	assert_int_equal(groups_find(f->gs, "both")->configured, 1);
	assert_null(groups_find(f->gs, GROUPS_OTHER));
}

static void
test_group_by_comm_no(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p;

	configure(f, "group web comm=^nginx$\ngroup_by_comm no\n", 0);
	/* Present with zeros before anything lands in it. */
	assert_int_equal(view(f, GROUPS_OTHER).processes, 0);
	p = mk(f, 10, 1000, "sleep", NULL, NULL, 0, 0);
	assert_string_equal(p->group, GROUPS_OTHER);
	p = mk(f, 11, 1000, "nginx", NULL, NULL, 0, 0);
	assert_string_equal(p->group, "web");
	mk(f, 12, 1000, "cat", NULL, NULL, 0, 0);
	assert_int_equal(view(f, GROUPS_OTHER).processes, 2);
	assert_int_equal(groups_count(f->gs), 2);
}

/* Errors name file:line and what is wrong; nothing half-parsed is kept. */
static void
test_config_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*err;
	} rows[] = {
		{ "listen 127.0.0.1:1\n\ngroup web comm=[a\n",
		    "t.conf:3: group: comm=[a: " },
		{ "group web exe=(\n", "t.conf:1: group: exe=(: " },
		{ "group web \"cmdline=a (b\"\n", "t.conf:1: group: cmdline=a (b: " },
		{ "group web comm=x{2,1}\n", "t.conf:1: group: comm=x{2,1}: " },
		{ "\n#\ngroup web\n", "t.conf:3: group: group web has no matcher" },
		{ "group\n", "t.conf:1: group: missing value" },
		{ "group comm=x\n", "t.conf:1: group: missing group name before 'comm=x'" },
		{ "group web comm=a comm=b\n", "t.conf:1: group: second comm=" },
		{ "group web comm=\n", "t.conf:1: group: empty comm=" },
		{ "group web pid=1\n", "t.conf:1: group: unknown matcher 'pid='" },
		{ "group web nginx\n", "t.conf:1: group: 'nginx' is not a matcher" },
		{ "group \"we\tb\" comm=x\n", "t.conf:1: group: group name 'we?b' is "
		    "not printable UTF-8" },
		{ "group w\xff comm=x\n", "is not printable UTF-8" },
		{ "group web \"comm=x\n", "t.conf:1: group: unterminated quoted value" },
		{ "main\n", "t.conf:1: main: missing value" },
		{ "main a=b\n", "t.conf:1: main: missing group name" },
		{ "max_groups 0\n", "t.conf:1: max_groups: 0 out of range" },
		{ "per_process_limit ten\n", "t.conf:1: per_process_limit: 'ten' is "
		    "not a number" },
		{ "per_process_metrics maybe\n", "t.conf:1: per_process_metrics: "
		    "'maybe' is neither yes nor no" },
		{ "group_by_comm 1\n", "t.conf:1: group_by_comm: '1' is neither" },
	};
	struct config	*conf;
	char		 err[512];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		conf = config_defaults();
		err[0] = '\0';
		if (config_parse_buffer(conf, "t.conf", rows[i].text,
		    strlen(rows[i].text), err, sizeof(err)) != -1)
			fail_msg("row %zu parsed: %s", i, rows[i].text);
		if (strstr(err, rows[i].err) == NULL)
			fail_msg("row %zu: '%s' lacks '%s'", i, err, rows[i].err);
		assert_int_equal(conf->ngroups, 0);
		config_free(conf);
	}
	/* The same setter behind --group and PIDCAR_GROUP. */
	conf = config_defaults();
	assert_int_equal(config_set(conf, "option --group", "group", "web comm=(",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "option --group: group: comm=(: "));
	config_free(conf);
}

/* Lines accumulate in order, quotes keep spaces, every source adds to the list. */
static void
test_config_rules(void **state)
{
	struct config	*conf = config_defaults();
	char		 err[512];
	const char	*text = "group a comm=^a$\n"
	    "group b \"cmdline=^x y$\" user=www-data # why\n"
	    "group a exe=/a$\nmain b\ngroup_by_comm no\nmax_groups 7\n"
	    "per_process_metrics yes\nper_process_limit 3\n";

	(void)state;
	assert_int_equal(conf->group_by_comm, 1);
	assert_int_equal(conf->max_groups, 256);
	assert_int_equal(conf->per_process_metrics, 0);
	assert_int_equal(conf->per_process_limit, 100);
	assert_null(conf->main_group);
	if (config_parse_buffer(conf, "t.conf", text, strlen(text), err,
	    sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(config_set(conf, "environment PIDCAR_GROUP", "group",
	    "c comm=c", err, sizeof(err)), 0);
	assert_int_equal(conf->ngroups, 4);
	assert_string_equal(conf->groups[0].name, "a");
	assert_string_equal(conf->groups[0].comm, "^a$");
	assert_null(conf->groups[0].exe);
	assert_string_equal(conf->groups[1].cmdline, "^x y$");
	assert_string_equal(conf->groups[1].user, "www-data");
	assert_string_equal(conf->groups[2].exe, "/a$");
	assert_string_equal(conf->groups[3].name, "c");
	assert_string_equal(conf->main_group, "b");
	assert_int_equal(conf->group_by_comm, 0);
	assert_int_equal(conf->max_groups, 7);
	assert_int_equal(conf->per_process_metrics, 1);
	assert_int_equal(conf->per_process_limit, 3);
	config_free(conf);
}

/* An exec or a rename moves a process; what it did stays with the old group. */
static void
test_rematch_on_exec(void **state)
{
	struct fixture	*f = *state;
	struct proc	*p;

	configure(f, "group web comm=^nginx$\ngroup shells comm=^sh$\n", 0);
	p = mk(f, 10, 1000, "sh", "/bin/sh", "sh\0-c\0x\0", 8, 0);
	p->utime = 100;
	p->stime = 20;
	p->read_bytes = 1000;
	assert_string_equal(p->group, "shells");
	assert_int_equal(view(f, "shells").cpu_ticks[GROUPS_USER], 100);
	/* exec: the poller stores the new stat and identity, then re-assigns. */
	p->utime = 130;
	snprintf(p->comm, sizeof(p->comm), "nginx");
	ptable_set_exe(p, "/usr/sbin/nginx");
	groups_assign(f->gs, f->pt, p, f->users, 1);
	assert_string_equal(p->group, "web");
	assert_int_equal(view(f, "shells").cpu_ticks[GROUPS_USER], 130);
	assert_int_equal(view(f, "shells").cpu_ticks[GROUPS_SYSTEM], 20);
	assert_int_equal(view(f, "shells").io[0], 1000);
	assert_int_equal(view(f, "shells").processes, 0);
	assert_int_equal(view(f, "web").cpu_ticks[GROUPS_USER], 0);
	p->utime = 200;
	p->read_bytes = 1500;
	assert_int_equal(view(f, "web").cpu_ticks[GROUPS_USER], 70);
	assert_int_equal(view(f, "web").io[0], 500);
	assert_int_equal(view(f, "shells").cpu_ticks[GROUPS_USER], 130);
	/* prctl rename to something unmatched: by comm. */
	snprintf(p->comm, sizeof(p->comm), "renamed");
	groups_assign(f->gs, f->pt, p, f->users, 2);
	assert_string_equal(p->group, "renamed");
	assert_int_equal(view(f, "web").cpu_ticks[GROUPS_USER], 70);
	assert_int_equal(view(f, "web").processes, 0);
	assert_int_equal(groups_stats(f->gs)->rematches, 2);
	/* A move is not an exit, nor makes a restart. */
	assert_int_equal(view(f, "shells").g->exits[EXIT_UNKNOWN], 0);
	snprintf(p->comm, sizeof(p->comm), "sh");
	groups_assign(f->gs, f->pt, p, f->users, 3);
	assert_int_equal(view(f, "shells").g->restarts, 0);
	/* The same group again is no move. */
	groups_assign(f->gs, f->pt, p, f->users, 4);
	assert_int_equal(groups_stats(f->gs)->rematches, 3);
}

/* Exits: outcome, lifetime, and CPU and io that stay when the process goes. */
static void
test_exit_accounting(void **state)
{
	static const struct {
		int		 status;
		double		 lifetime;
		enum exit_outcome outcome;
	} rows[] = {
		{ 0, 0.0005, EXIT_ZERO },
		{ 2 << 8, 0.5, EXIT_NONZERO },
		{ SIGKILL, 30, EXIT_SIGNALED },
		{ -1, 90000, EXIT_UNKNOWN },
	};
	struct fixture		*f = *state;
	struct group_view	 v;
	struct proc		*p;
	size_t			 i;

	configure(f, "group w comm=^w$\n", 0);
	for (i = 0; i < 4; i++) {
		p = mk(f, (pid_t)(10 + i), 1000, "w", NULL, NULL, 0, 0);
		p->utime = 10;
		p->stime = 5;
		p->write_bytes = 100;
		p->acct.final_cpu = i % 2;
		v = view(f, "w");
		die(f, p, rows[i].status, rows[i].lifetime, 1);
		/* Gone, and still counted: the counters never go back. */
		assert_int_equal(view(f, "w").cpu_ticks[GROUPS_USER],
		    v.cpu_ticks[GROUPS_USER]);
		assert_int_equal(view(f, "w").io[1], v.io[1]);
		assert_int_equal(view(f, "w").g->exits[rows[i].outcome], 1);
	}
	v = view(f, "w");
	assert_int_equal(v.processes, 0);
	assert_int_equal(v.cpu_ticks[GROUPS_USER], 40);
	assert_int_equal(v.cpu_ticks[GROUPS_SYSTEM], 20);
	assert_int_equal(v.io[1], 400);
	assert_int_equal(v.g->lifetime_bucket[0], 1);	/* <= 1 ms */
	assert_int_equal(v.g->lifetime_bucket[3], 1);	/* <= 1 s */
	assert_int_equal(v.g->lifetime_bucket[5], 1);	/* <= 60 s */
	assert_int_equal(v.g->lifetime_count, 4);	/* a day+ only in +Inf */
	assert_true(v.g->lifetime_sum > 90030 && v.g->lifetime_sum < 90031);
	assert_int_equal(groups_stats(f->gs)->final_cpu, 2);
	assert_int_equal(groups_stats(f->gs)->sampled_cpu, 2);
	/* Counted once, whoever calls twice. */
	p = mk(f, 20, 1000, "w", NULL, NULL, 0, 0);
	p->exit_status = 0;
	groups_exited(f->gs, f->pt, p, 1, 0);
	groups_exited(f->gs, f->pt, p, 1, 0);
	assert_int_equal(view(f, "w").g->exits[EXIT_ZERO], 2);
}

/* A restart is a process taking the place of one that exited. */
static void
test_group_restarts(void **state)
{
	struct fixture	*f = *state;
	struct proc	*a;

	configure(f, "group w comm=^w$\n", 0);
	a = mk(f, 10, 1000, "w", NULL, NULL, 0, 0);
	mk(f, 11, 1000, "w", NULL, NULL, 0, 0);
	assert_int_equal(view(f, "w").g->restarts, 0);
	die(f, a, SIGTERM, 1, 1);
	mk(f, 12, 1200, "w", NULL, NULL, 0, 0);
	assert_int_equal(view(f, "w").g->restarts, 1);
	/* One exit, one restart: a third process is growth. */
	mk(f, 13, 1300, "w", NULL, NULL, 0, 0);
	assert_int_equal(view(f, "w").g->restarts, 1);
	/* A fork-then-exec supervisor: the child joins by re-match. */
	die(f, ptable_find(f->pt, 11), 1 << 8, 1, 2);
	a = mk(f, 14, 1400, "supervise", NULL, NULL, 0, 0);
	snprintf(a->comm, sizeof(a->comm), "w");
	groups_assign(f->gs, f->pt, a, NULL, 3);
	assert_int_equal(view(f, "w").g->restarts, 2);
	assert_int_equal(view(f, "supervise").g->restarts, 0);
}

static void
test_main_group(void **state)
{
	struct fixture			*f = *state;
	const struct main_status	*m = groups_main(f->gs);
	struct proc			*p;

	configure(f, "group app comm=^app$\nmain app\n", 0);
	assert_string_equal(m->group, "app");
	assert_int_equal(m->up, 0);
	mk(f, 1, 10, "init", NULL, NULL, 0, 0);
	p = mk(f, 5, 100, "app", NULL, NULL, 0, 0);
	assert_int_equal(m->up, 1);
	assert_int_equal(m->pid, 5);
	assert_int_equal(m->start_ticks, 100);
	assert_int_equal(m->restarts, 0);
	/* Killed after 5 s: down, last exit recorded. */
	die(f, p, SIGKILL, 5, 10);
	assert_int_equal(m->up, 0);
	assert_int_equal(m->pid, 0);
	assert_int_equal(m->exits, 1);
	assert_int_equal(m->exited, 1);
	assert_int_equal(m->last_status, SIGKILL);
	assert_true(m->last_exit_at == 1010);
	assert_int_equal(m->restarts, 0);
	/* Something else starting is not the main. */
	mk(f, 6, 700, "other", NULL, NULL, 0, 0);
	assert_int_equal(m->up, 0);
	/* The restart. */
	p = mk(f, 7, 650, "app", NULL, NULL, 0, 0);
	assert_int_equal(m->up, 1);
	assert_int_equal(m->pid, 7);
	assert_int_equal(m->restarts, 1);
	/* A younger one of the group is no new main. */
	mk(f, 8, 800, "app", NULL, NULL, 0, 0);
	assert_int_equal(m->pid, 7);
	/* The main exits; the older worker 8 takes over: up, but no restart. */
	die(f, p, 3 << 8, 2, 20);
	assert_int_equal(m->up, 1);
	assert_int_equal(m->pid, 8);
	assert_int_equal(m->restarts, 1);
	assert_int_equal(m->exits, 2);
	assert_int_equal(m->last_status, 3 << 8);
	/* Exec'd away: down without an exit, and the next one is no restart. */
	p = ptable_find(f->pt, 8);
	snprintf(p->comm, sizeof(p->comm), "gone");
	groups_assign(f->gs, f->pt, p, NULL, 21);
	assert_int_equal(m->up, 0);
	assert_int_equal(m->exits, 2);
	mk(f, 9, 5000, "app", NULL, NULL, 0, 0);
	assert_int_equal(m->up, 1);
	assert_int_equal(m->restarts, 1);
	/* A reload that names another main starts over, counters kept. */
	configure(f, "group app comm=^app$\nmain other\n", 30);
	assert_int_equal(m->up, 1);
	assert_int_equal(m->pid, 6);
	assert_int_equal(m->restarts, 1);
	assert_int_equal(m->exits, 2);
}

/* Without main, PID 1 is the main process. */
static void
test_main_pid1(void **state)
{
	struct fixture			*f = *state;
	const struct main_status	*m = groups_main(f->gs);

	configure(f, "", 0);
	mk(f, 2, 5, "early", NULL, NULL, 0, 0);
	assert_int_equal(m->up, 0);
	mk(f, 1, 10, "init", NULL, NULL, 0, 0);
	assert_null(m->group);
	assert_int_equal(m->up, 1);
	assert_int_equal(m->pid, 1);
	die(f, ptable_find(f->pt, 2), 0, 1, 1);
	assert_int_equal(m->exits, 0);
	die(f, ptable_find(f->pt, 1), 0, 1, 1);
	assert_int_equal(m->up, 0);
	assert_int_equal(m->exits, 1);
}

/* Children nobody saw: their CPU shows as the parent's cutime growth. */
static void
test_unseen_children(void **state)
{
	struct fixture	*f = *state;
	struct proc	*par, *c;

	configure(f, "group sh comm=^sh$\n", 0);
	par = mk(f, 10, 1000, "sh", NULL, NULL, 0, 0);
	par->cutime = 500;	/* before pidcar looked: nobody's */
	groups_sample(f->gs, par, 0);
	par->cutime = 550;
	par->cstime = 10;
	groups_sample(f->gs, par, 1);
	/* Held for a grace period: a seen child's exit may still explain it. */
	assert_int_equal(view(f, "sh").cpu_ticks[GROUPS_USER], 0);
	groups_sample(f->gs, par, 1.2);
	assert_int_equal(view(f, "sh").cpu_ticks[GROUPS_USER], 0);
	groups_sample(f->gs, par, 2);
	assert_int_equal(view(f, "sh").cpu_ticks[GROUPS_USER], 50);
	assert_int_equal(view(f, "sh").cpu_ticks[GROUPS_SYSTEM], 10);
	assert_int_equal(view(f, "sh").g->unseen_ticks[GROUPS_USER], 50);

	/* A seen child: its CPU is its group's, not counted twice. */
	c = mk(f, 11, 1100, "cc", NULL, NULL, 0, 0);
	ptable_set_ppid(f->pt, c, 10);
	c->utime = 30;
	c->stime = 3;
	die(f, c, 0, 1, 3);
	par->cutime = 580;
	par->cstime = 13;
	groups_sample(f->gs, par, 3);
	groups_sample(f->gs, par, 5);
	assert_int_equal(view(f, "sh").cpu_ticks[GROUPS_USER], 50);
	assert_int_equal(view(f, "sh").cpu_ticks[GROUPS_SYSTEM], 10);
	assert_int_equal(view(f, "cc").cpu_ticks[GROUPS_USER], 30);

	/* The parent's sample can see the reap before pidcar hears of it. */
	c = mk(f, 12, 1200, "cc", NULL, NULL, 0, 0);
	ptable_set_ppid(f->pt, c, 10);
	c->utime = 40;
	par->cutime = 620;
	groups_sample(f->gs, par, 6);
	die(f, c, 0, 1, 6.05);
	groups_sample(f->gs, par, 6.1);
	groups_sample(f->gs, par, 8);
	assert_int_equal(view(f, "sh").cpu_ticks[GROUPS_USER], 50);
	assert_int_equal(view(f, "cc").cpu_ticks[GROUPS_USER], 70);

	/* A child reaped by someone else: its pending share is dropped, not kept. */
	c = mk(f, 13, 1300, "cc", NULL, NULL, 0, 0);
	ptable_set_ppid(f->pt, c, 10);
	c->utime = 10;
	die(f, c, 0, 1, 9);
	groups_sample(f->gs, par, 9);
	par->cutime = 625;
	groups_sample(f->gs, par, 10);
	groups_sample(f->gs, par, 11);
	assert_int_equal(view(f, "sh").cpu_ticks[GROUPS_USER], 55);

	/* At its end the parent's unexplained growth is credited at once. */
	par->cutime = 700;
	groups_sample(f->gs, par, 12);
	die(f, par, 0, 10, 12);
	assert_int_equal(view(f, "sh").cpu_ticks[GROUPS_USER], 130);
	assert_int_equal(groups_stats(f->gs)->unseen_ticks, 140);
}

/* max_groups: further names go to "other"; an idle group by comm may give way. */
static void
test_max_groups(void **state)
{
	struct fixture	*f = *state;
	struct proc	*a;

	configure(f, "group web comm=^web$\nmax_groups 3\n", 0);
	a = mk(f, 10, 1000, "a", NULL, NULL, 0, 0);
	mk(f, 11, 1000, "b", NULL, NULL, 0, 0);
	mk(f, 12, 1000, "b", NULL, NULL, 0, 0);
	assert_string_equal(mk(f, 13, 1000, "c", NULL, NULL, 0, 0)->group,
	    GROUPS_OTHER);
	assert_string_equal(mk(f, 14, 1000, "web", NULL, NULL, 0, 0)->group, "web");
	assert_string_equal(mk(f, 15, 1000, "d", NULL, NULL, 0, 0)->group,
	    GROUPS_OTHER);
	assert_int_equal(groups_stats(f->gs)->overflowed, 2);
	assert_int_equal(groups_count(f->gs), 4);	/* web, a, b, other */
	/* "a" empties; ten minutes later its place is free, counters and all. */
	a->utime = 5;
	die(f, a, 0, 1, 100);
	assert_string_equal(mk(f, 16, 1000, "e", NULL, NULL, 0, 0)->group,
	    GROUPS_OTHER);
	assert_non_null(groups_find(f->gs, "a"));
	assert_null(groups_find(f->gs, "e"));
	a = ptable_add(f->pt, 17, 1000);
	snprintf(a->comm, sizeof(a->comm), "e");
	groups_assign(f->gs, f->pt, a, NULL, 800);
	assert_string_equal(a->group, "e");
	assert_null(groups_find(f->gs, "a"));
	assert_int_equal(groups_count(f->gs), 4);
	/* Configured groups are never dropped, even empty. */
	assert_non_null(groups_find(f->gs, "web"));
}

/* A reload keeps every counter, re-matches every process, and a bad rule changes nothing. */
static void
test_reload(void **state)
{
	struct fixture		*f = *state;
	struct config		 bad;
	struct group_rule	 rule = { "x", "(", NULL, NULL, NULL };
	struct proc		*p;
	char			 err[256];

	configure(f, "group web comm=^nginx$\n", 0);
	p = mk(f, 10, 1000, "nginx", NULL, NULL, 0, 0);
	p->utime = 40;
	die(f, mk(f, 11, 1000, "nginx", NULL, NULL, 0, 0), 0, 1, 1);
	configure(f, "group srv comm=^nginx$\n", 2);
	assert_string_equal(p->group, "srv");
	assert_int_equal(view(f, "web").cpu_ticks[GROUPS_USER], 40);
	assert_int_equal(view(f, "web").g->exits[EXIT_ZERO], 1);
	assert_int_equal(view(f, "web").g->configured, 0);
	assert_int_equal(view(f, "srv").g->configured, 1);
	p->utime = 50;
	assert_int_equal(view(f, "srv").cpu_ticks[GROUPS_USER], 10);
	/* A rule that does not compile: the running rules stay. */
	memset(&bad, 0, sizeof(bad));
	bad.groups = &rule;
	bad.ngroups = 1;
	bad.group_by_comm = 1;
	bad.max_groups = 10;
	assert_int_equal(groups_configure(f->gs, &bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "group x: (: "));
	groups_rematch(f->gs, f->pt, NULL, 3);
	assert_string_equal(p->group, "srv");
}

static void
test_repair_utf8(void **state)
{
	static const struct {
		const char	*in;
		size_t		 dstlen;
		const char	*out;
	} rows[] = {
		{ "plain", 64, "plain" },
		{ "", 64, "" },
		{ "caf\xc3\xa9", 64, "caf\xc3\xa9" },
		{ "x\xff", 64, "x\xef\xbf\xbd" },
		{ "\xc0\xaf", 64, "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "abcdef", 4, "abc" },
		{ "ab\xff", 5, "ab" },		/* no half replacement */
	};
	char	dst[64];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		groups_repair_utf8(rows[i].in, dst, rows[i].dstlen);
		assert_string_equal(dst, rows[i].out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_match_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_by_comm_no, setup, teardown),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_rules),
		cmocka_unit_test_setup_teardown(test_rematch_on_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_accounting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_restarts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_main_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_main_pid1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unseen_children, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
		cmocka_unit_test(test_repair_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
