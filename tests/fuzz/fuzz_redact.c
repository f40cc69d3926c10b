/*
 * libFuzzer target: the redaction engine.  Input: one flags byte (bit 0: the
 * built-ins off; bits 1-2: how many rules), that many '\n'-ended rules, then
 * a NUL-separated command line.  Checks what must hold for any input: the
 * argument count is kept, the built-ins are idempotent, and a secret placed
 * in each built-in form never comes out, whatever surrounds it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

#define MARK	"Q7vZmark"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
nargs(const char *b, size_t n)
{
	size_t	i, k = 0;

	for (i = 0; i < n; i++)
		k += b[i] == '\0';
	return k + (n > 0 && b[n - 1] != '\0');
}

/* prefix, a NUL unless it ends in one, the secret in one built-in form, suffix. */
static void
check_forms(const struct redact *r, const char *cmd, size_t len)
{
	static const struct {
		const char	*s;
		size_t		 n;
	} forms[] = {
#define F(x)	{ x, sizeof(x) - 1 }
		F("--password=" MARK), F("--password\0" MARK), F("--token\0" MARK),
		F("mysql\0-p" MARK), F("PASSWORD=" MARK), F("x://u:" MARK "@h"),
		F("--client-secret=" MARK), F("GITHUB_TOKEN=" MARK),
#undef F
	};
	size_t	 i, cut, n, outlen;
	char	*b, *out;

	if (memmem(cmd, len, "Q7vZ", 4) != NULL)
		return;
	cut = len / 2;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		b = malloc(len + forms[i].n + 2);
		if (b == NULL)
			abort();
		memcpy(b, cmd, cut);
		n = cut;
		if (n > 0 && b[n - 1] != '\0')
			b[n++] = '\0';
		memcpy(b + n, forms[i].s, forms[i].n);
		n += forms[i].n;
		b[n++] = '\0';
		memcpy(b + n, cmd + cut, len - cut);
		n += len - cut;
		out = redact_apply(r, b, n, &outlen);
		if (memmem(out, outlen, "Q7vZ", 4) != NULL)
			__builtin_trap();
		free(out);
		free(b);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *end = p + size, *nl;
	struct redact	*r;
	char		 rule[REDACT_RULE_MAX + 1], err[256], *out, *again;
	size_t		 outlen, againlen, len, nrules, i;
	int		 builtin_only = 1;

	if (size == 0)
		return 0;
	r = redact_create();
	redact_set_defaults(r, !(data[0] & 1));
	nrules = (data[0] >> 1) & 3;
	p++;
	for (i = 0; i < nrules && p < end; i++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		if (len <= REDACT_RULE_MAX && memchr(p, '\0', len) == NULL) {
			memcpy(rule, p, len);
			rule[len] = '\0';
			if (redact_add(r, rule, err, sizeof(err)) == 0)
				builtin_only = 0;
		}
		p = nl < end ? nl + 1 : end;
	}
	len = (size_t)(end - p);
	out = redact_apply(r, p, len, &outlen);
	if (nargs(out, outlen) != nargs(p, len) || outlen > 3 * len ||
	    out[outlen] != '\0')
		__builtin_trap();
	if (builtin_only) {
		again = redact_apply(r, out, outlen, &againlen);
		if (againlen != outlen || memcmp(again, out, outlen) != 0)
			__builtin_trap();
		free(again);
	}
	free(out);
	if (redact_defaults(r))
		check_forms(r, p, len);
	redact_free(r);
	return 0;
}
