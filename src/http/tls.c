/* The server's TLS context. */
#define H2O_USE_LIBUV 0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <h2o.h>
#include <openssl/err.h>

#include "http/tls.h"

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
