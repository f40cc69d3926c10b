/* Pure checks of a raw HTTP request, before any route sees it. */
#ifndef PIDCAR_VET_H
#define PIDCAR_VET_H

#include <stddef.h>

/*
 * Requests longer than this get a JSON 414/431 from pidcar.  Beyond the
 * memory pool libmicrohttpd answers 414/431 itself, with an HTML body.
 */
#define VET_TARGET_MAX		8192
#define VET_HEADERS_MAX		8192
#define VET_HEADERS_COUNT	100

/*
 * Checks a request target as received, before percent-decoding.  Returns 0,
 * 400 (a byte outside printable ASCII, %00 anywhere, %2F in the path) or 414
 * (longer than VET_TARGET_MAX), with a message in err.
 */
int	vet_target(const char *uri, char *err, size_t errlen);
/*
 * 1 when the request line that libmicrohttpd 0.9.75 split in place into
 * method, raw target (raw_len bytes before any NUL) and version shows a gap,
 * i.e. a NUL byte or extra spaces; 0 when it does not or the pointers are not
 * laid out that way.
 */
int	vet_line_gap(const char *method, const char *raw, size_t raw_len,
	    const char *version);
/* 1 when a header name (key_size bytes) is empty, holds a NUL or is no RFC 9110 token. */
int	vet_header_name(const char *key, size_t key_size);

#endif
