/* http/tls: the server's TLS. One OpenSSL context for the server's whole
 * life: TLS 1.2 or newer, TLS 1.2 limited to forward-secret AEAD suites
 * (ECDHE with AES-GCM or CHACHA20-POLY1305), ALPN offering h2 and
 * http/1.1, and, with a CA file, client certificates checked by OpenSSL
 * (mutual TLS, as upstream Tarmac: see docs/configuration.md).
 *
 * What a handshake presents and checks against (certificate chain, key,
 * client CA store and names) is not in the context but in a "bundle" read
 * from the files: immutable once made, reference-counted, and installed
 * into each handshake's own SSL object when the handshake begins
 * (SSL_CTX_set_cert_cb). A reload makes a new bundle and swaps the pointer
 * under a lock, so a handshake sees either the old bundle or the new one,
 * whole, and a bundle is freed only once no handshake holds it (the SSL
 * objects keep their own OpenSSL references to what was installed).
 *
 * Ownership: tarmac_tls_t owns the context, the current bundle and copies
 * of the paths. The context stays valid until tarmac_tls_free, which the
 * caller makes only once no connection uses it. */
#ifndef TARMAC_HTTP_TLS_H
#define TARMAC_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* Longest certificate chain accepted from a client, the client's own
 * certificate and the trust anchor not counted (OpenSSL's verify depth). */
#define TARMAC_TLS_VERIFY_DEPTH 8

/* Largest certificate, key or CA file read (a CA bundle of a few hundred
 * certificates fits). */
#define TARMAC_TLS_MAX_FILE_BYTES ((size_t)1 << 20)

typedef struct {
  const char *cert_file; /* PEM: the server's certificate, then its chain */
  const char *key_file;  /* PEM: its private key (not encrypted) */
  const char *ca_file;   /* PEM bundle; NULL or "": no client certificates */
  /* With ca_file: a client certificate is asked for and, when given,
   * verified, but a client without one is served (upstream's
   * IgnoreClientCert, Go's VerifyClientCertIfGiven). Without: required. */
  bool ignore_client_cert;
} tarmac_tls_files_t;

typedef struct tarmac_tls tarmac_tls_t;

/* Reads the files and makes the context. NULL with one line in err naming
 * the file when one is missing, unreadable, not PEM, holds no certificate,
 * is encrypted (keys), or the key does not match the certificate. */
tarmac_tls_t *tarmac_tls_new(const tarmac_tls_files_t *files, char *err,
                             size_t err_size);

/* The context to hand h2o (owned by tls). */
SSL_CTX *tarmac_tls_ssl_ctx(const tarmac_tls_t *tls);

/* Re-reads the files given to tarmac_tls_new; handshakes that begin after
 * it returns use them. 0, or -1 with err set and the previous files still
 * in use (a certificate replaced before its key is refused as mismatched:
 * call again once both are written). Any thread. */
int tarmac_tls_reload(tarmac_tls_t *tls, char *err, size_t err_size);

void tarmac_tls_free(tarmac_tls_t *tls);

#endif
