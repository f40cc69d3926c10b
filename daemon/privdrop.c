/*
 * Privilege drop with libcap after everything privileged is open: the user,
 * the capabilities the mode still needs, the bounding set, NO_NEW_PRIVS.
 * It does not open anything itself; main.c calls it once, before the loop.
 */
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "config.h"
#include "log.h"
#include "privdrop.h"
#include "target.h"

#define BIT(c)	((uint64_t)1 << (c))

/*
 * What reading /proc of the target needs, measured on 6.18 as uid 65534
 * against a root process: exe and /proc/N/root need CAP_SYS_PTRACE,
 * /proc/N/io needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (0400, owner's),
 * the fd count from stat(/proc/N/fd) (6.2+) needs neither.  A process that
 * stays uid 0 but loses capabilities needs CAP_SYS_PTRACE too: ptrace access
 * to a process with more capabilities than the caller is refused.
 */
static const struct privdrop_need needs[] = {
	{ CAP_DAC_READ_SEARCH, 0, 1,
	    "the I/O bytes of other users' processes are null (and their fd "
	    "counts before Linux 6.2); a SIGHUP cannot read files only root "
	    "may read" },
	{ CAP_SYS_ADMIN, PRIVDROP_AGENT | PRIVDROP_REATTACH, 1,
	    "pidcar cannot attach again after the target restarts (setns and "
	    "a new procfs instance need it)" },
	{ CAP_SYS_PTRACE, 0, 1,
	    "exe, the target's user names (/proc/1/root/etc/passwd) and the "
	    "I/O bytes of other users' processes are unknown (before Linux "
	    "6.15 their exit codes too)" },
};
#define NNEEDS	(sizeof(needs) / sizeof(needs[0]))

int
privdrop_flags(const char *mode, const char *target)
{
	struct target_spec	spec;
	char			err[256];
	int			flags = 0;

	if (mode != NULL && strcmp(mode, "agent") == 0)
		flags |= PRIVDROP_AGENT;
	/* pid:N and ns:PATH name one namespace for good; these can come back. */
	if (target != NULL && target_parse(target, &spec, err,
	    sizeof(err)) == 0 && (spec.kind == TARGET_CONTAINER ||
	    spec.kind == TARGET_CGROUP))
		flags |= PRIVDROP_REATTACH;
	return flags;
}

size_t
privdrop_make_plan(int flags, uint64_t held, struct privdrop_plan *p)
{
	size_t	i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < NNEEDS; i++) {
		if ((needs[i].flags & flags) != needs[i].flags)
			continue;
		if (held & BIT(needs[i].cap))
			p->keep |= BIT(needs[i].cap);
		else {
			p->missing |= BIT(needs[i].cap);
			/* A sidecar works without any: what is lost is detail. */
			if (needs[i].required && (flags & PRIVDROP_AGENT))
				p->missing_required |= BIT(needs[i].cap);
		}
	}
	return NNEEDS;
}

const struct privdrop_need *
privdrop_need_of(int cap)
{
	size_t	i;

	for (i = 0; i < NNEEDS; i++)
		if (needs[i].cap == cap)
			return &needs[i];
	return NULL;
}

/* A user name as useradd accepts it, or a number. */
static int
user_syntax_ok(const char *s)
{
	size_t	i;

	if (s[0] == '\0' || strlen(s) > 32)
		return 0;
	if (!isalpha((unsigned char)s[0]) && s[0] != '_' &&
	    !isdigit((unsigned char)s[0]))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL &&
		    !(s[i] == '$' && s[i + 1] == '\0'))
			return 0;
	return 1;
}

int
privdrop_lookup(const char *user, uid_t *uid, gid_t *gid, const char **name,
    char *err, size_t errlen)
{
	struct passwd	*pw;
	const char	*errstr;
	long long	 n;
	char		 shown[41];
	size_t		 i;

	if (!user_syntax_ok(user)) {
		/* Echo it safely: it may hold any byte the config file had. */
		for (i = 0; user[i] != '\0' && i + 1 < sizeof(shown); i++)
			shown[i] = isprint((unsigned char)user[i]) ? user[i] : '?';
		shown[i] = '\0';
		snprintf(err, errlen, "'%s' is not a user name or uid", shown);
		return -1;
	}
	if ((pw = getpwnam(user)) != NULL) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		*name = pw->pw_name;
		return 0;
	}
	if (!isdigit((unsigned char)user[0])) {
		snprintf(err, errlen, "no user '%s' in the passwd database "
		    "(create it, e.g. useradd --system --no-create-home pidcar, "
		    "or give a numeric uid)", user);
		return -1;
	}
	n = strtonum(user, 0, 4294967294LL, &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "uid %s is %s (0-4294967294)", user, errstr);
		return -1;
	}
	*uid = (uid_t)n;
	*gid = (gid_t)n;
	*name = NULL;
	if ((pw = getpwuid(*uid)) != NULL) {
		*gid = pw->pw_gid;
		*name = pw->pw_name;
	}
	return 0;
}

/* The permitted set as a bit mask. */
static uint64_t
caps_permitted(cap_t caps)
{
	cap_flag_value_t	v;
	cap_value_t		c, max = (cap_value_t)cap_max_bits();
	uint64_t		m = 0;

	for (c = 0; c < max && c < 64; c++)
		if (cap_get_flag(caps, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			m |= BIT(c);
	return m;
}

/* Sets permitted and effective to exactly mask, inheritable empty. */
static int
caps_set(uint64_t mask)
{
	cap_t		caps;
	cap_value_t	c, max = (cap_value_t)cap_max_bits();
	int		rc, saved;

	if ((caps = cap_init()) == NULL)
		return -1;
	for (c = 0; c < max && c < 64; c++) {
		if (!(mask & BIT(c)))
			continue;
		if (cap_set_flag(caps, CAP_PERMITTED, 1, &c, CAP_SET) == -1 ||
		    cap_set_flag(caps, CAP_EFFECTIVE, 1, &c, CAP_SET) == -1) {
			cap_free(caps);
			return -1;
		}
	}
	rc = cap_set_proc(caps);
	saved = errno;
	cap_free(caps);
	errno = saved;
	return rc;
}

void
privdrop_raise(void)
{
	cap_t		caps;
	uint64_t	held;

	if ((caps = cap_get_proc()) == NULL)
		return;
	held = caps_permitted(caps);
	cap_free(caps);
	if (held != 0 && caps_set(held) == -1)
		log_warn("privileges: raising the effective capabilities");
}

/*
 * Drops every capability not in keep from the bounding set.  Needs
 * CAP_SETPCAP, which a root start has and a non-root one usually not: then
 * the set stays, and NO_NEW_PRIVS still keeps an exec from gaining anything.
 */
static void
bounding_drop(uint64_t held, uint64_t keep)
{
	cap_value_t	c, max = (cap_value_t)cap_max_bits();

	if (!(held & BIT(CAP_SETPCAP))) {
		log_debug("privileges: no CAP_SETPCAP, bounding set left as it is");
		return;
	}
	for (c = 0; c < max && c < 64; c++) {
		if ((keep & BIT(c)) || cap_get_bound(c) != 1)
			continue;
		if (cap_drop_bound(c) == -1)
			log_warn("privileges: dropping capability %d from the "
			    "bounding set", (int)c);
	}
}

/* Switches uid, gid and supplementary groups; capabilities survive (KEEPCAPS). */
static int
switch_user(const char *user, uid_t uid, gid_t gid, const char *name,
    char *err, size_t errlen)
{
	uid_t	r, e, s;

	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == -1) {
		snprintf(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
		return -1;
	}
	/* The user's own groups (a docker group, say), root's never. */
	if ((name != NULL ? initgroups(name, gid) : setgroups(1, &gid)) == -1) {
		snprintf(err, errlen, "user %s: setting groups: %s", user,
		    strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1 || setresuid(uid, uid, uid) == -1) {
		snprintf(err, errlen, "user %s: switching to uid %u gid %u: %s",
		    user, (unsigned)uid, (unsigned)gid, strerror(errno));
		return -1;
	}
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (getresuid(&r, &e, &s) == -1 || r != uid || e != uid || s != uid) {
		snprintf(err, errlen, "user %s: uid did not change", user);
		return -1;
	}
	return 0;
}

/* Logs each capability the mode wanted and did not get. */
static void
report_missing(const struct privdrop_plan *p, int flags)
{
	const struct privdrop_need	*n;
	cap_value_t			 c;
	char				*cname;

	for (c = 0; c < 64; c++) {
		if (!(p->missing & BIT(c)) || (n = privdrop_need_of(c)) == NULL)
			continue;
		cname = cap_to_name(c);
		if (p->missing_required & BIT(c))
			log_warnx("privileges: %s is not held (%s mode): %s",
			    cname != NULL ? cname : "?", flags & PRIVDROP_AGENT ?
			    "agent" : "sidecar", n->without);
		else
			log_info("privileges: without %s: %s",
			    cname != NULL ? cname : "?", n->without);
		cap_free(cname);
	}
}

static void
report_result(uint64_t keep)
{
	cap_t	 caps;
	char	*text = NULL;
	uid_t	 uid = getuid();
	gid_t	 gid = getgid();

	if (keep != 0 && (caps = cap_get_proc()) != NULL) {
		text = cap_to_text(caps, NULL);
		cap_free(caps);
	}
	log_info("privileges: uid %u gid %u, capabilities %s, no_new_privs",
	    (unsigned)uid, (unsigned)gid, text != NULL ? text : "none");
	cap_free(text);
}

/* Whether conf->user needs a switch (*change) and can have it. */
static int
user_plan(const struct config *conf, uint64_t held, uid_t *uid, gid_t *gid,
    const char **name, int *change, char *err, size_t errlen)
{
	*change = 0;
	if (conf->user == NULL)
		return 0;
	if (privdrop_lookup(conf->user, uid, gid, name, err, errlen) == -1)
		return -1;
	*change = *uid != geteuid() || *uid != getuid() || *gid != getgid();
	if (*change && (!(held & BIT(CAP_SETUID)) || !(held & BIT(CAP_SETGID)))) {
		snprintf(err, errlen, "user %s: cannot switch from uid %u to uid "
		    "%u without CAP_SETUID and CAP_SETGID (start pidcar as root, "
		    "or as that user)", conf->user, (unsigned)getuid(),
		    (unsigned)*uid);
		return -1;
	}
	return 0;
}

static uint64_t
held_now(void)
{
	cap_t		caps;
	uint64_t	held;

	if ((caps = cap_get_proc()) == NULL)
		return 0;
	held = caps_permitted(caps);
	cap_free(caps);
	return held;
}

int
privdrop_check(const struct config *conf, char *err, size_t errlen)
{
	const char	*name;
	uid_t		 uid;
	gid_t		 gid;
	int		 change;

	return user_plan(conf, held_now(), &uid, &gid, &name, &change, err,
	    errlen);
}

int
privdrop_apply(const struct config *conf, int flags, char *err, size_t errlen)
{
	struct privdrop_plan	 plan;
	const char		*name = NULL;
	cap_t			 caps;
	uint64_t		 held;
	uid_t			 uid = 0;
	gid_t			 gid = 0;
	int			 change = 0;

	if ((caps = cap_get_proc()) == NULL) {
		snprintf(err, errlen, "cap_get_proc: %s", strerror(errno));
		return -1;
	}
	held = caps_permitted(caps);
	cap_free(caps);
	if (user_plan(conf, held, &uid, &gid, &name, &change, err, errlen) == -1)
		return -1;
	privdrop_make_plan(flags, held, &plan);
	report_missing(&plan, flags);
	/* Raise what we keep first: bounding and uid changes need CAP_SETPCAP/SETUID. */
	if (caps_set(held) == -1) {
		snprintf(err, errlen, "cap_set_proc: %s", strerror(errno));
		return -1;
	}
	bounding_drop(held, plan.keep);
	if (change && switch_user(conf->user, uid, gid, name, err, errlen) == -1)
		return -1;
	if (caps_set(plan.keep) == -1) {
		snprintf(err, errlen, "cap_set_proc: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) == -1 &&
	    errno != EINVAL)
		log_warn("privileges: clearing the ambient set");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) == -1) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	/* Paranoia, as OpenBSD daemons do: the way back must be closed. */
	if (change && uid != 0 && setresuid(0, 0, 0) != -1) {
		snprintf(err, errlen, "user %s: could switch back to root",
		    conf->user);
		return -1;
	}
	report_result(plan.keep);
	return 0;
}
