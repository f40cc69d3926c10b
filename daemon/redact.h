/*
 * Redaction of command lines (pure): built-in rules for the usual ways secrets
 * are passed as arguments, plus `redact RE` rules from the configuration.
 */
#ifndef PIDCAR_REDACT_H
#define PIDCAR_REDACT_H

#include <stddef.h>

#define REDACT_MASK		"***"
#define REDACT_RULE_MAX		1024	/* bytes in one rule */

struct redact;

/* Returns a rule set with the built-in rules on and no others; free with redact_free. */
struct redact	*redact_create(void);
/*
 * Compiles one POSIX extended regular expression and adds it.  Returns 0, or -1
 * with err saying what is wrong (regcomp's message, a back-reference, a size).
 */
int		 redact_add(struct redact *, const char *re, char *err, size_t errlen);
/* Turns the built-in rules on (1) or off (0). */
void		 redact_set_defaults(struct redact *, int on);
/* Whether the built-in rules are on. */
int		 redact_defaults(const struct redact *);
/* The number of rules added with redact_add. */
size_t		 redact_count(const struct redact *);
/*
 * Redacts a NUL-separated command line of len bytes (a final NUL is optional).
 * Returns a new buffer the caller frees, NUL-terminated one past *outlen, with
 * every hidden part of an argument replaced by REDACT_MASK and the argument
 * count unchanged.  NULL rules apply the built-in rules only.
 */
char		*redact_apply(const struct redact *, const char *buf, size_t len,
		    size_t *outlen);
/* NULL is a no-op. */
void		 redact_free(struct redact *);

#endif
