/*
 * Configuration: one sorted keyword table drives the file parser, the long
 * options, the PIDCAR_* environment variables, the defaults and --help.
 * Precedence: option > environment > file > default.
 */
#ifndef PIDCAR_CONFIG_H
#define PIDCAR_CONFIG_H

#include <stdio.h>

#include "log.h"

struct redact;

#define CONFIG_DEFAULT_FILE	"/etc/pidcar/pidcar.conf"
#define EX_CONFIG_STATUS	78	/* sysexits.h EX_CONFIG */
#define EX_USAGE_STATUS		64	/* sysexits.h EX_USAGE */

/* A file named in the config and its content, read when the config is built. */
struct config_file {
	char		*path;		/* NULL: not configured ("none") */
	char		*data;		/* NUL-terminated; a token is trimmed */
	size_t		 len;
};

/* One `group NAME comm=RE exe=RE cmdline=RE user=NAME` line; NULL: not given. */
struct group_rule {
	char		*name;
	char		*comm;		/* POSIX extended regexes, unanchored */
	char		*exe;
	char		*cmdline;	/* over the arguments joined by spaces */
	char		*user;		/* name in the target's passwd, or a uid */
};

struct config {
	char		*file;		/* the file it was read from, or NULL */
	char		*listen;	/* as given, "127.0.0.1:9723" */
	char		*listen_host;	/* "127.0.0.1", "::1", "0.0.0.0" */
	int		 listen_port;
	char		*target;	/* "self" */
	char		*user;		/* drop to it after start-up; NULL: keep the uid */
	enum log_level	 log_level;
	double		 poll_interval;	/* s: ns_last_pid probe period */
	double		 scan_interval;	/* s: full /proc diff, the safety net */
	double		 refresh_age;	/* s: stats younger than this are reused */
	int		 cmdline;	/* 1: expose command lines; 0: comm only */
	struct redact	*redact;	/* owned: built-ins + redact rules */
	int		 redact_defaults;	/* 1: the built-in rules apply */
	int		 max_connections;
	int		 max_streams;		/* SSE clients */
	int		 events_buffer;		/* ring entries */
	struct group_rule *groups;	/* in order: the first match wins */
	size_t		 ngroups;
	int		 group_by_comm;	/* 1: unmatched by comm; 0: all in "other" */
	char		*main_group;	/* NULL: the namespace's PID 1 */
	int		 per_process_metrics;
	int		 per_process_limit;
	int		 max_groups;
	int		 max_connections_per_ip;
	double		 connection_timeout;	/* s: an idle connection is closed */
	struct config_file auth_token;	/* bearer token for every endpoint */
	struct config_file metrics_token;	/* bearer token for /metrics only */
	struct config_file tls_cert;	/* PEM chain; TLS when set */
	struct config_file tls_key;	/* PEM private key */
};

/* What the command line said, before any file is read. */
struct config_args {
	const char	*file;		/* -f FILE; NULL: CONFIG_DEFAULT_FILE if it exists */
	int		 check_only;	/* -n */
	int		 help;		/* -h */
	int		 version;	/* -V */
	int		 nopts;
	char		**opt_keys;	/* keyword options in argv order (owned) */
	char		**opt_vals;
};

/*
 * Parses argv.  Returns 0, or -1 with a message in err for an unknown option or
 * a missing argument (the caller prints usage and exits EX_USAGE_STATUS).
 */
int		 config_parse_args(int argc, char **argv, struct config_args *,
		    char *err, size_t errlen);
void		 config_args_free(struct config_args *);
/*
 * Builds a config from defaults, the file, envp (PIDCAR_*) and the options, in
 * that order.  Returns a new config the caller frees, or NULL with err set to
 * "file:line: keyword: what is wrong (accepted: ...)" or the like.
 */
struct config	*config_build(const struct config_args *, char *const *envp,
		    char *err, size_t errlen);
/* Parses one file's text as if read from name (pure; for tests and config_build). */
int		 config_parse_buffer(struct config *, const char *name,
		    const char *text, size_t len, char *err, size_t errlen);
/* Sets one keyword from a value string; where names the source for errors. */
int		 config_set(struct config *, const char *where, const char *keyword,
		    const char *value, char *err, size_t errlen);
/* Returns a config holding every default (caller frees). */
struct config	*config_defaults(void);
void		 config_free(struct config *);
/* Prints usage generated from the keyword table. */
void		 config_usage(FILE *, const char *progname);
/* Parses "50ms", "2s", "1.5", "1m" into seconds; 0 or -1. */
int		 config_parse_duration(const char *, double *);

#endif
