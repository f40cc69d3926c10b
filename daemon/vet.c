/*
 * Pure checks of what a client sent, on the bytes libmicrohttpd hands over
 * before it decodes them: the raw target, the split request line, header
 * names.  Routing and query parameters are route.c's.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vet.h"

int
vet_target(const char *uri, char *err, size_t errlen)
{
	size_t		 n = strlen(uri), i, pathlen;
	const char	*q = strchr(uri, '?');
	unsigned char	 c;

	pathlen = q != NULL ? (size_t)(q - uri) : n;
	if (n > VET_TARGET_MAX) {
		snprintf(err, errlen, "request target longer than %d bytes",
		    VET_TARGET_MAX);
		return 414;
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)uri[i];
		if (c <= 0x20 || c >= 0x7f) {
			snprintf(err, errlen, "byte 0x%02x in the request target "
			    "(percent-encode it)", c);
			return 400;
		}
		if (c != '%')
			continue;
		/* Decoded, %00 would silently end the C string there. */
		if (uri[i + 1] == '0' && uri[i + 2] == '0') {
			snprintf(err, errlen, "NUL byte (%%00) in the request "
			    "target");
			return 400;
		}
		/* One path, one spelling: no %2F standing in for '/'. */
		if (i < pathlen && uri[i + 1] == '2' && (uri[i + 2] == 'f' ||
		    uri[i + 2] == 'F')) {
			snprintf(err, errlen, "encoded '/' (%%2F) in the path");
			return 400;
		}
	}
	return 0;
}

/*
 * A raw NUL ends the C strings libmicrohttpd 0.9.75 hands out, so
 * "GET /healthz<NUL>junk HTTP/1.1" would read as /healthz.  Its parser
 * splits the line in place: without a NUL, method, target and version sit
 * one separator apart.  Any other layout is not judged.
 */
int
vet_line_gap(const char *method, const char *raw, size_t raw_len,
    const char *version)
{
	uintptr_t	m = (uintptr_t)method, u = (uintptr_t)raw;
	uintptr_t	v = (uintptr_t)version;

	if (method == NULL || raw == NULL || version == NULL ||
	    !(m < u && u < v && v - m <= VET_TARGET_MAX + 4096))
		return 0;
	return m + strlen(method) + 1 != u || u + raw_len + 1 != v;
}

int
vet_header_name(const char *key, size_t key_size)
{
	size_t	i;

	if (key == NULL || key_size == 0 || strlen(key) != key_size)
		return 1;
	for (i = 0; i < key_size; i++)
		if (!isalnum((unsigned char)key[i]) &&
		    strchr("!#$%&'*+-.^_`|~", key[i]) == NULL)
			return 1;
	return 0;
}
