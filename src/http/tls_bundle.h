/* http/tls_bundle: what one TLS handshake presents and checks against,
 * read from PEM files: the server's certificate, its chain and key, and
 * (for mutual TLS) the client CA store and the CA names sent in the
 * CertificateRequest. A bundle never changes once loaded; it is shared by
 * reference count (tls.c keeps one as current, each starting handshake
 * holds one while installing it into its SSL object). The bundle owns
 * every OpenSSL object it points to. */
#ifndef TARMAC_HTTP_TLS_BUNDLE_H
#define TARMAC_HTTP_TLS_BUNDLE_H

#include <stdatomic.h>
#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

typedef struct {
  atomic_uint refs;
  X509 *cert;
  STACK_OF(X509) *chain;          /* may be empty */
  EVP_PKEY *key;
  X509_STORE *ca_store;           /* NULL without a CA file */
  STACK_OF(X509_NAME) *ca_names;  /* subjects of the CA file's certificates */
} tarmac_tls_bundle_t;

/* Reads the files (ca_file NULL or "": none) into a bundle holding one
 * reference. NULL with one line in err naming the file at fault. */
tarmac_tls_bundle_t *tarmac_tls_bundle_load(const char *cert_file,
                                            const char *key_file,
                                            const char *ca_file, char *err,
                                            size_t err_size);

/* Takes a reference; returns bundle. */
tarmac_tls_bundle_t *tarmac_tls_bundle_ref(tarmac_tls_bundle_t *bundle);
/* Drops a reference; the last one frees the bundle. NULL is ignored. */
void tarmac_tls_bundle_unref(tarmac_tls_bundle_t *bundle);

/* Makes the handshake's SSL object present the bundle's certificate and
 * key and verify client certificates against its CA store. The SSL object
 * takes its own references: the bundle may go right after. 0 or -1. */
int tarmac_tls_bundle_install(const tarmac_tls_bundle_t *bundle, SSL *ssl);

#endif
