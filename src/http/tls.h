/* http/tls: the server's OpenSSL context: TLS 1.2 or newer, TLS 1.2 limited
 * to forward-secret AEAD suites (ECDHE with AES-GCM or CHACHA20-POLY1305),
 * the certificate chain and key from PEM files, ALPN offering h2 and
 * http/1.1. The caller owns the returned context (SSL_CTX_free). */
#ifndef TARMAC_HTTP_TLS_H
#define TARMAC_HTTP_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/* NULL with one line in err when a file is missing, unreadable or the key
 * does not match the certificate. */
SSL_CTX *tarmac_tls_context_new(const char *cert_file, const char *key_file,
                                char *err, size_t err_size);

#endif
