/*
 * HTTPS certificates.  libmicrohttpd 0.9.75 cannot swap the certificate of a
 * running daemon, but it lets GnuTLS ask a callback at every handshake: that
 * callback hands out fresh copies of the pair in use, so SIGHUP can replace it
 * while connections made with the old one go on untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

#define TLS_MAX_CHAIN	16

struct tls {
	gnutls_datum_t	 cert;		/* PEM chain, leaf first */
	gnutls_datum_t	 key;		/* PEM, zeroed when freed */
	char		 desc[384];
};

/*
 * The pair new handshakes get.  GnuTLS calls tls_retrieve with no pointer of
 * ours, so this one module-private variable stands in for it.
 */
static struct tls	*in_use;

static void
datum_copy(gnutls_datum_t *d, const struct config_file *f)
{
	d->data = xmalloc(f->len + 1);
	memcpy(d->data, f->data, f->len);
	d->data[f->len] = '\0';
	d->size = (unsigned int)f->len;
}

/*
 * Copies of the pair as GnuTLS structures, which the session owns and frees
 * (GNUTLS_CERT_RETR_DEINIT_ALL): no handshake ever points into a pair that a
 * reload has freed.
 */
static int
tls_copies(const struct tls *t, gnutls_pcert_st **certs, unsigned int *ncerts,
    gnutls_privkey_t *key)
{
	gnutls_pcert_st		*pc;
	gnutls_privkey_t	 pk = NULL;
	unsigned int		 n = TLS_MAX_CHAIN;
	int			 rc;

	if ((pc = gnutls_malloc(n * sizeof(*pc))) == NULL)
		return GNUTLS_E_MEMORY_ERROR;
	if ((rc = gnutls_pcert_list_import_x509_raw(pc, &n, &t->cert,
	    GNUTLS_X509_FMT_PEM, 0)) < 0) {
		gnutls_free(pc);
		return rc;
	}
	if ((rc = gnutls_privkey_init(&pk)) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(pk, &t->key,
	    GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		gnutls_privkey_deinit(pk);
		while (n > 0)
			gnutls_pcert_deinit(&pc[--n]);
		gnutls_free(pc);
		return rc;
	}
	*certs = pc;
	*ncerts = n;
	*key = pk;
	return 0;
}

int
tls_retrieve(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
    gnutls_pcert_st **certs, unsigned int *ncerts, gnutls_ocsp_data_st **ocsp,
    unsigned int *nocsp, gnutls_privkey_t *key, unsigned int *flags)
{
	int	rc;

	(void)session;
	(void)info;
	*ocsp = NULL;
	*nocsp = 0;
	*flags = GNUTLS_CERT_RETR_DEINIT_ALL;
	if (in_use == NULL)
		return -1;
	if ((rc = tls_copies(in_use, certs, ncerts, key)) < 0) {
		log_warnx("tls: %s", gnutls_strerror(rc));
		return -1;
	}
	return 0;
}

/* Subject and expiry of the leaf, for the log; warns when it is out of date. */
static void
describe(struct tls *t, const char *path)
{
	gnutls_x509_crt_t	 crt;
	gnutls_datum_t		 dn = { NULL, 0 };
	time_t			 until, now = time(NULL);
	struct tm		 tm;
	char			 date[32] = "?";

	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &t->cert, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0) {
		gnutls_x509_crt_deinit(crt);
		return;
	}
	until = gnutls_x509_crt_get_expiration_time(crt);
	if (until != (time_t)-1 && gmtime_r(&until, &tm) != NULL)
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(t->desc, sizeof(t->desc), "%.300s, valid until %s",
	    (const char *)dn.data, date);
	if (until != (time_t)-1 && until < now)
		log_warnx("tls_cert %s expired on %s: clients will refuse it",
		    path, date);
	else if (gnutls_x509_crt_get_activation_time(crt) > now)
		log_warnx("tls_cert %s is not valid yet", path);
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
}

struct tls *
tls_load(const struct config_file *cert, const struct config_file *key,
    char *err, size_t errlen)
{
	gnutls_certificate_credentials_t	 cred;
	gnutls_pcert_st				*pc;
	gnutls_privkey_t			 pk;
	struct tls				*t = xcalloc(1, sizeof(*t));
	unsigned int				 n;
	int					 rc;

	datum_copy(&t->cert, cert);
	datum_copy(&t->key, key);
	strlcpy(t->desc, "?", sizeof(t->desc));
	if ((rc = gnutls_certificate_allocate_credentials(&cred)) < 0)
		goto fail;
	/* This checks that the key belongs to the first certificate. */
	rc = gnutls_certificate_set_x509_key_mem2(cred, &t->cert, &t->key,
	    GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (rc < 0)
		goto fail;
	/* What every handshake will do, once now, so it cannot fail later. */
	if ((rc = tls_copies(t, &pc, &n, &pk)) < 0)
		goto fail;
	gnutls_privkey_deinit(pk);
	while (n > 0)
		gnutls_pcert_deinit(&pc[--n]);
	gnutls_free(pc);
	describe(t, cert->path);
	return t;
fail:
	snprintf(err, errlen, "tls_cert %s, tls_key %s: %s", cert->path,
	    key->path, gnutls_strerror(rc));
	/* GnuTLS ends its sentences with a '.', pidcar's messages go on. */
	if (strlen(err) > 0 && err[strlen(err) - 1] == '.')
		err[strlen(err) - 1] = '\0';
	tls_free(t);
	return NULL;
}

void
tls_free(struct tls *t)
{
	if (t == NULL || t == in_use)
		return;
	free(t->cert.data);
	if (t->key.data != NULL)
		explicit_bzero(t->key.data, t->key.size);
	free(t->key.data);
	free(t);
}

void
tls_use(struct tls *t)
{
	struct tls	*old = in_use;

	in_use = t;
	tls_free(old);
}

void
tls_release(void)
{
	tls_use(NULL);
}

const char *
tls_describe(const struct tls *t)
{
	return t->desc;
}
