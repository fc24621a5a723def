/* The server's TLS context and the bundle swap behind certificate reload
 * (see tls.h for the design). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "http/h2o_pinned.h"
#include "http/tls.h"
#include "http/tls_alert.h"
#include "http/tls_bundle.h"

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

/* Sessions resumed with a client certificate must come from this server
 * (OpenSSL refuses to resume them without a session id context). */
static const unsigned char session_id_context[] = "tarmac";

struct tarmac_tls {
  SSL_CTX *ctx;
  char *cert_file;
  char *key_file;
  char *ca_file; /* NULL: no mutual TLS */
  pthread_mutex_t lock; /* guards `current` (the pointer, not the bundle) */
  tarmac_tls_bundle_t *current;
  BIO_METHOD *alert_tap; /* tls_alert.h; outlives every SSL object */
};

static void openssl_reason(char *out, size_t size) {
  unsigned long code = ERR_peek_last_error();
  const char *reason = code ? ERR_reason_error_string(code) : NULL;
  snprintf(out, size, "%s", reason ? reason : "unknown OpenSSL error");
  ERR_clear_error();
}

/* OpenSSL calls this when a handshake has read the ClientHello and is
 * about to choose its certificate (not for resumed sessions, which need
 * none). The bundle current at that moment is installed whole. Returning
 * 0 aborts the handshake with an internal-error alert. */
static int on_certificate(SSL *ssl, void *arg) {
  tarmac_tls_t *tls = arg;
  pthread_mutex_lock(&tls->lock);
  tarmac_tls_bundle_t *bundle = tarmac_tls_bundle_ref(tls->current);
  pthread_mutex_unlock(&tls->lock);
  int rc = tarmac_tls_bundle_install(bundle, ssl);
  tarmac_tls_bundle_unref(bundle);
  /* a client refused for its certificate is told why; without the tap
   * (out of memory) it is refused all the same, only less politely */
  if (rc == 0 && tls->ca_file != NULL &&
      tarmac_tls_alert_tap(ssl, tls->alert_tap) != 0)
    ERR_clear_error();
  if (rc != 0) ERR_clear_error();
  return rc == 0 ? 1 : 0;
}

/* Client certificates: required (or, ignoring, only verified when given)
 * and checked by OpenSSL against the bundle's CA store. Every certificate
 * of the CA file is a trust anchor, intermediates included, as in Go's
 * ClientCAs pool (X509_V_FLAG_PARTIAL_CHAIN). */
static void require_client_certificates(SSL_CTX *ctx, bool ignore) {
  int mode = SSL_VERIFY_PEER;
  if (!ignore) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, NULL);
  SSL_CTX_set_verify_depth(ctx, TARMAC_TLS_VERIFY_DEPTH);
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx),
                              X509_V_FLAG_PARTIAL_CHAIN);
}

/* The context: protocol policy only; certificates come per handshake. */
static SSL_CTX *context_new(tarmac_tls_t *tls, bool ignore_client_cert,
                            char *err, size_t err_size) {
  char reason[256];
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "cannot create a TLS context: %s", reason);
    return NULL;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
                               SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION |
                               SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 ||
      SSL_CTX_set1_groups_list(ctx, tls_groups) != 1 ||
      SSL_CTX_set_session_id_context(ctx, session_id_context,
                                     sizeof(session_id_context) - 1) != 1) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "cannot set the TLS protocol policy: %s", reason);
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (tls->ca_file != NULL) {
    require_client_certificates(ctx, ignore_client_cert);
    SSL_CTX_set_info_callback(ctx, tarmac_tls_alert_on_info);
  }
  SSL_CTX_set_cert_cb(ctx, on_certificate, tls);
  h2o_ssl_register_alpn_protocols(ctx, alpn_protocols);
  return ctx;
}

static int copy_paths(tarmac_tls_t *tls, const tarmac_tls_files_t *files) {
  tls->cert_file = strdup(files->cert_file ? files->cert_file : "");
  tls->key_file = strdup(files->key_file ? files->key_file : "");
  if (files->ca_file != NULL && files->ca_file[0] != '\0') {
    tls->ca_file = strdup(files->ca_file);
    if (tls->ca_file == NULL) return -1;
  }
  return tls->cert_file != NULL && tls->key_file != NULL ? 0 : -1;
}

tarmac_tls_t *tarmac_tls_new(const tarmac_tls_files_t *files, char *err,
                             size_t err_size) {
  tarmac_tls_t *tls = calloc(1, sizeof(*tls));
  if (tls == NULL) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&tls->lock, NULL);
  if (copy_paths(tls, files) != 0) {
    snprintf(err, err_size, "out of memory");
    goto fail;
  }
  tls->current = tarmac_tls_bundle_load(tls->cert_file, tls->key_file,
                                        tls->ca_file, err, err_size);
  if (tls->current == NULL) goto fail;
  tls->alert_tap = tarmac_tls_alert_method_new();
  if (tls->alert_tap == NULL) {
    snprintf(err, err_size, "out of memory");
    goto fail;
  }
  tls->ctx = context_new(tls, files->ignore_client_cert, err, err_size);
  if (tls->ctx == NULL) goto fail;
  return tls;
fail:
  tarmac_tls_free(tls);
  return NULL;
}

SSL_CTX *tarmac_tls_ssl_ctx(const tarmac_tls_t *tls) { return tls->ctx; }

int tarmac_tls_reload(tarmac_tls_t *tls, char *err, size_t err_size) {
  tarmac_tls_bundle_t *fresh = tarmac_tls_bundle_load(
      tls->cert_file, tls->key_file, tls->ca_file, err, err_size);
  if (fresh == NULL) return -1;
  pthread_mutex_lock(&tls->lock);
  tarmac_tls_bundle_t *old = tls->current;
  tls->current = fresh;
  pthread_mutex_unlock(&tls->lock);
  tarmac_tls_bundle_unref(old); /* freed here unless a handshake holds it */
  return 0;
}

void tarmac_tls_free(tarmac_tls_t *tls) {
  if (tls == NULL) return;
  SSL_CTX_free(tls->ctx);
  tarmac_tls_bundle_unref(tls->current);
  BIO_meth_free(tls->alert_tap);
  pthread_mutex_destroy(&tls->lock);
  free(tls->cert_file);
  free(tls->key_file);
  free(tls->ca_file);
  free(tls);
}
