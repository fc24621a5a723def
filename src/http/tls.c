/* The server's TLS context. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "http/h2o_pinned.h"
#include "http/tls.h"

/* TLS 1.2 cipher suites: only forward-secret key exchange (ECDHE) with
 * AEAD encryption, as in Mozilla's "intermediate" profile (without its DHE
 * suites, which need DH parameters). Static-RSA key exchange and CBC with
 * SHA-1 are absent on purpose. Both ECDSA and RSA certificates work. TLS 1.3
 * suites are all AEAD and forward-secret: OpenSSL's defaults are kept. */
static const char tls12_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* Key-exchange groups, as in the same profile. */
static const char tls_groups[] = "X25519:prime256v1:secp384r1";

/* ALPN identifiers we accept, most preferred first. */
static const h2o_iovec_t alpn_protocols[] = {
    {H2O_STRLIT("h2")}, {H2O_STRLIT("http/1.1")}, {NULL, 0}};

static void openssl_reason(char *out, size_t size) {
  unsigned long code = ERR_peek_last_error();
  const char *reason = code ? ERR_reason_error_string(code) : NULL;
  snprintf(out, size, "%s", reason ? reason : "unknown OpenSSL error");
  ERR_clear_error();
}

static int check_readable(const char *what, const char *path, char *err,
                          size_t err_size) {
  if (path == NULL || path[0] == '\0') {
    snprintf(err, err_size, "TLS is enabled but no %s file is set", what);
    return -1;
  }
  if (access(path, R_OK) != 0) {
    snprintf(err, err_size, "cannot read TLS %s file %s: %s", what, path,
             strerror(errno));
    return -1;
  }
  return 0;
}

SSL_CTX *tarmac_tls_context_new(const char *cert_file, const char *key_file,
                                char *err, size_t err_size) {
  char reason[256];
  if (check_readable("certificate", cert_file, err, err_size) != 0 ||
      check_readable("key", key_file, err, err_size) != 0)
    return NULL;
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "cannot create a TLS context: %s", reason);
    return NULL;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
                               SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION |
                               SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "cannot require TLS 1.2: %s", reason);
    goto fail;
  }
  if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 ||
      SSL_CTX_set1_groups_list(ctx, tls_groups) != 1) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "cannot restrict TLS cipher suites: %s", reason);
    goto fail;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "invalid TLS certificate file %s: %s", cert_file,
             reason);
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "invalid TLS key file %s: %s", key_file, reason);
    goto fail;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "TLS key %s does not match certificate %s: %s",
             key_file, cert_file, reason);
    goto fail;
  }
  h2o_ssl_register_alpn_protocols(ctx, alpn_protocols);
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return NULL;
}
