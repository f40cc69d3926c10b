/* uid -> user name, from the target namespace's own /etc/passwd. */
#ifndef PIDCAR_USERS_H
#define PIDCAR_USERS_H

#include <stddef.h>

struct users;

/* Parses passwd(5) text (pure); malformed lines are skipped.  Never NULL; free with users_free. */
struct users	*users_parse(const char *buf, size_t len);
/* Reads and parses path; an unreadable file gives an empty table.  Never NULL. */
struct users	*users_load(const char *path);
/* Returns the name of uid, or NULL when unknown (the table owns the string). */
const char	*users_name(const struct users *, long long uid);
/* Returns the uid for a name, or -1 when unknown. */
long long	 users_uid(const struct users *, const char *name);
size_t		 users_count(const struct users *);
/* Whether uid is want, by name in the table (may be NULL) or as a decimal number. */
int		 users_match(const struct users *, long long uid, const char *want);
void		 users_free(struct users *);

#endif
