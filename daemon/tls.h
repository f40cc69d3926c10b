/* HTTPS certificates for libmicrohttpd's GnuTLS support, swappable at run time. */
#ifndef PIDCAR_TLS_H
#define PIDCAR_TLS_H

#include <stddef.h>

#include <gnutls/abstract.h>

struct config_file;
struct tls;

/*
 * Checks a PEM certificate chain and its private key (they must parse and
 * match) and keeps copies.  Returns a new tls the caller frees, or NULL with
 * err set.  An expired certificate is loaded with a warning.
 */
struct tls	*tls_load(const struct config_file *cert,
		    const struct config_file *key, char *err, size_t errlen);
/* Frees t (unless it is in use); NULL is a no-op. */
void		 tls_free(struct tls *t);
/* Makes t (owned from now on) what new handshakes present; frees the one before. */
void		 tls_use(struct tls *t);
/* Frees the one in use, at exit. */
void		 tls_release(void);
/* "subject, valid until date" of t, for the log. */
const char	*tls_describe(const struct tls *t);
/* The callback for MHD_OPTION_HTTPS_CERT_CALLBACK2: the certificate in use. */
gnutls_certificate_retrieve_function3 tls_retrieve;

#endif
