/*
 * Bearer tokens (RFC 6750): the main token opens every endpoint, the optional
 * metrics token only /metrics, and the probes need none.  Pure: the tokens
 * come from the config, the header from the request.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"

int
auth_equal(const char *s, size_t len, const char *want, size_t n)
{
	volatile unsigned char	acc = len != n;
	size_t			i;

	/*
	 * Every byte of want is read whatever s holds, so the time tells at
	 * most the token's length, never how much of a guess was right.
	 */
	for (i = 0; i < n; i++)
		acc |= (unsigned char)want[i] ^
		    (unsigned char)(i < len ? s[i] : 0);
	return acc == 0;
}

/* The token of "Bearer TOKEN" (scheme case-insensitive), or NULL. */
static const char *
bearer_token(const char *authz, size_t *len)
{
	const char	*p = authz, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return NULL;
	for (p += 6; *p == ' ' || *p == '\t'; p++)
		;
	for (end = p + strlen(p); end > p && (end[-1] == ' ' ||
	    end[-1] == '\t'); end--)
		;
	*len = (size_t)(end - p);
	return p;
}

enum auth_result
auth_check(const struct config_file *token, const struct config_file *metrics,
    enum route r, const char *authz)
{
	const char	*t;
	size_t		 len = 0;
	int		 main_ok, metrics_ok;

	if (token == NULL || token->path == NULL)
		return AUTH_OK;
	if (r == ROUTE_HEALTHZ || r == ROUTE_READYZ)
		return AUTH_OK;
	if (authz == NULL || (t = bearer_token(authz, &len)) == NULL)
		return AUTH_MISSING;
	/* Both comparisons always run: which token matched stays untimed. */
	main_ok = auth_equal(t, len, token->data, token->len);
	metrics_ok = metrics != NULL && metrics->path != NULL &&
	    auth_equal(t, len, metrics->data, metrics->len);
	if (main_ok)
		return AUTH_OK;
	if (metrics_ok)
		return r == ROUTE_METRICS ? AUTH_OK : AUTH_SCOPE;
	return AUTH_INVALID;
}
