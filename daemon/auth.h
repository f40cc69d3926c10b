/* Bearer-token access control: which request may see which endpoint.  Pure. */
#ifndef PIDCAR_AUTH_H
#define PIDCAR_AUTH_H

#include "route.h"

struct config_file;

enum auth_result {
	AUTH_OK,
	AUTH_MISSING,		/* 401: no Bearer credentials */
	AUTH_INVALID,		/* 401: a token that matches neither */
	AUTH_SCOPE		/* 403: the metrics token, not on /metrics */
};

/*
 * Decides whether a request for route r with this Authorization header value
 * (NULL when absent) may go on.  token and metrics are the configured files
 * (path NULL: not set); without a token every request may.  /healthz and
 * /readyz are always open: orchestrators probe them without credentials.
 */
enum auth_result auth_check(const struct config_file *token,
		    const struct config_file *metrics, enum route r,
		    const char *authz);
/* 1 when s and the n bytes at want are equal, in time independent of where they differ. */
int		 auth_equal(const char *s, size_t len, const char *want, size_t n);

#endif
