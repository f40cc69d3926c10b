/*
 * Least privilege after start-up (DESIGN.md §6): switch to the configured
 * user, keep only the capabilities the running mode still needs, clear the
 * bounding set of the rest and set PR_SET_NO_NEW_PRIVS.  The plan is a pure
 * function of the mode and the capabilities held, so unit tests check it.
 */
#ifndef PIDCAR_PRIVDROP_H
#define PIDCAR_PRIVDROP_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct config;

#define PRIVDROP_AGENT		0x1	/* agent mode (proc connector) */
#define PRIVDROP_REATTACH	0x2	/* the target can come back: container:, cgroup: */

/* One capability the running daemon may use, and what is lost without it. */
struct privdrop_need {
	int		 cap;		/* CAP_* */
	int		 flags;		/* PRIVDROP_*: kept when all of these apply */
	int		 required;	/* in agent mode a missing one is a warning */
	const char	*without;	/* what stops working, for the log */
};

/* The plan for one start: capabilities as bit masks (1 << CAP_*). */
struct privdrop_plan {
	uint64_t	 keep;		/* wanted and held: permitted + effective */
	uint64_t	 missing;	/* wanted but not held at start */
	uint64_t	 missing_required;	/* of missing, those worth a warning */
};

/* The PRIVDROP_* flags of a mode ("agent", "sidecar") and target spec (pure). */
int		 privdrop_flags(const char *mode, const char *target);
/*
 * Computes what to keep for flags (PRIVDROP_*) from the permitted set held
 * (pure).  Returns the number of entries in the need table consulted.
 */
size_t		 privdrop_make_plan(int flags, uint64_t held, struct privdrop_plan *);
/* The need entry of cap, or NULL (pure; for the log and the tests). */
const struct privdrop_need *privdrop_need_of(int cap);
/*
 * Parses a `user` value: a name from the passwd database or a numeric uid.
 * Fills uid/gid (the passwd entry's group, else gid = uid) and name (NULL for
 * a uid without an entry; points into static storage).  Returns 0, or -1 with
 * err saying what is wrong.
 */
int		 privdrop_lookup(const char *user, uid_t *uid, gid_t *gid,
		    const char **name, char *err, size_t errlen);
/*
 * Raises the effective set to the permitted one, for a start whose capabilities
 * come as permitted file capabilities only (the container image): called first,
 * so that opening the target and the first scan have them.
 */
void		 privdrop_raise(void);
/*
 * Checks at start, before anything is opened, that conf->user can be switched
 * to (it exists; CAP_SETUID and CAP_SETGID are held unless it is already the
 * running user).  Returns 0, or -1 with err set.
 */
int		 privdrop_check(const struct config *conf, char *err, size_t errlen);
/*
 * Drops privileges for the rest of the run: to conf->user (none: keeps the
 * uid), capabilities to the plan for flags, bounding set cleared of the rest,
 * ambient set cleared, PR_SET_NO_NEW_PRIVS.  Logs what it kept and warns about
 * what is missing.  Returns 0, or -1 with err set when the switch cannot be
 * made (the caller stops: running with more privileges than configured is
 * not an option).
 */
int		 privdrop_apply(const struct config *conf, int flags, char *err,
		    size_t errlen);

#endif
