/* A refused handshake's alert, sent past h2o (see tls_alert.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/h2o_pinned.h"
#include "http/tls_alert.h"
#include "log/log.h"

static const char tap_name[] = "tarmac alert tap";

/* Room for one alert record: 7 bytes in clear, 24 with TLS 1.3, 31 with
 * TLS 1.2 AES-GCM. A flush of more is not an alert alone: not sent. */
#define TAP_BYTES 64

typedef struct {
  unsigned char pending[TAP_BYTES]; /* written since the last flush */
  size_t pending_len;
  bool pending_over;
  unsigned char flushed[TAP_BYTES]; /* what the last flush pushed out */
  size_t flushed_len;
  bool flushed_over;
} tap_t;

static int tap_create(BIO *bio) {
  tap_t *tap = calloc(1, sizeof(*tap));
  if (tap == NULL) return 0;
  BIO_set_data(bio, tap);
  BIO_set_init(bio, 1);
  return 1;
}

static int tap_destroy(BIO *bio) {
  free(BIO_get_data(bio));
  BIO_set_data(bio, NULL);
  return 1;
}

static void remember(tap_t *tap, const char *in, size_t len) {
  if (tap->pending_over || len > TAP_BYTES - tap->pending_len) {
    tap->pending_over = true;
    return;
  }
  memcpy(tap->pending + tap->pending_len, in, len);
  tap->pending_len += len;
}

static int tap_write(BIO *bio, const char *in, int len) {
  BIO *next = BIO_next(bio);
  if (next == NULL) return -1;
  int n = BIO_write(next, in, len);
  BIO_clear_retry_flags(bio);
  BIO_copy_next_retry(bio);
  if (n > 0) remember(BIO_get_data(bio), in, (size_t)n);
  return n;
}

/* OpenSSL flushes after each flight and right after writing an alert. */
static long tap_ctrl(BIO *bio, int cmd, long num, void *ptr) {
  BIO *next = BIO_next(bio);
  if (cmd == BIO_CTRL_FLUSH) {
    tap_t *tap = BIO_get_data(bio);
    memcpy(tap->flushed, tap->pending, tap->pending_len);
    tap->flushed_len = tap->pending_len;
    tap->flushed_over = tap->pending_over;
    tap->pending_len = 0;
    tap->pending_over = false;
  }
  return next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 0;
}

BIO_METHOD *tarmac_tls_alert_method_new(void) {
  int index = BIO_get_new_index();
  if (index < 0) return NULL;
  BIO_METHOD *method = BIO_meth_new(index | BIO_TYPE_FILTER, tap_name);
  if (method == NULL) return NULL;
  if (BIO_meth_set_create(method, tap_create) != 1 ||
      BIO_meth_set_destroy(method, tap_destroy) != 1 ||
      BIO_meth_set_write(method, tap_write) != 1 ||
      BIO_meth_set_ctrl(method, tap_ctrl) != 1) {
    BIO_meth_free(method);
    return NULL;
  }
  return method;
}

static bool is_tap(BIO *bio) {
  const char *name = bio != NULL ? BIO_method_name(bio) : NULL;
  return name != NULL && strcmp(name, tap_name) == 0;
}

int tarmac_tls_alert_tap(SSL *ssl, BIO_METHOD *method) {
  BIO *wbio = SSL_get_wbio(ssl);
  /* a second ClientHello (after HelloRetryRequest) finds it in place */
  if (wbio == NULL || is_tap(wbio)) return 0;
  BIO *tap = BIO_new(method);
  if (tap == NULL) return -1;
  if (BIO_up_ref(wbio) != 1) {
    BIO_free(tap);
    return -1;
  }
  /* the SSL object drops its wbio reference (h2o's BIO lives on as the
   * rbio and behind the tap), then the tap is chained to it */
  SSL_set0_wbio(ssl, tap);
  BIO_push(tap, wbio);
  return 0;
}

/* Debug level only: any client can cause one line per connection. */
static void log_refusal(const SSL *ssl, int ret) {
  if (!tarmac_log_enabled(TARMAC_LOG_DEBUG)) return;
  long verify = SSL_get_verify_result(ssl);
  tarmac_logf(TARMAC_LOG_DEBUG, "TLS handshake refused: %s%s%s",
              SSL_alert_desc_string_long(ret),
              verify != X509_V_OK ? ": " : "",
              verify != X509_V_OK ? X509_verify_cert_error_string(verify)
                                  : "");
}

void tarmac_tls_alert_on_info(const SSL *ssl, int where, int ret) {
  if ((where & SSL_CB_WRITE_ALERT) == 0 || (ret >> 8) != SSL3_AL_FATAL ||
      SSL_is_init_finished(ssl))
    return;
  log_refusal(ssl, ret);
  BIO *wbio = SSL_get_wbio(ssl);
  if (!is_tap(wbio)) return;
  tap_t *tap = BIO_get_data(wbio);
  if (tap->flushed_over || tap->flushed_len == 0) return;
  /* h2o 2.2.5's socket BIO carries its socket as data (socket.c,
   * setup_bio); h2o closes the socket once the handshake has failed */
  h2o_socket_t *sock = BIO_get_data(SSL_get_rbio(ssl));
  if (sock == NULL) return;
  ssize_t sent = send(h2o_socket_get_fd(sock), tap->flushed,
                      tap->flushed_len, MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)sent; /* best effort: the connection is refused either way */
  tap->flushed_len = 0;
}
