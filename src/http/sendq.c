/* Responses h2o still holds for their clients: the bytes they keep in
 * memory, counted against the loop's bound, and the send timeout that
 * closes connections whose response makes no progress.
 *
 * Where the bytes are (h2o 2.2.5): h2o_send_inline copies the body into the
 * request's memory pool and the socket writes from there; over TLS,
 * HTTP/1.1 additionally encrypts the whole response into the socket's
 * output pool before the first write (HTTP/2 encrypts one write buffer at a
 * time). Both are released when the request is disposed: for HTTP/1.1 once
 * the last byte is written, for HTTP/2 once the stream is closed. The
 * request pool's disposal is where a tracked response is released
 * (on_req_dispose in call.c). */
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "http/loop.h"
#include "log/log.h"

/* Used when the configuration leaves a setting at 0. */
#define DEFAULT_SEND_TIMEOUT_MS 30000u
#define DEFAULT_MAX_BUFFERED ((size_t)256 << 20)

void tarmac_http_sendq_init(http_loop_t *loop) {
  const tarmac_http_config_t *config = &loop->server->config;
  http_sendq_t *q = &loop->sendq;
  h2o_linklist_init_anchor(&q->pending);
  q->bytes = 0;
  /* the process-wide bound is shared evenly by the loops (the kernel
   * spreads connections evenly over them) */
  size_t bound = config->max_buffered_response_bytes
                     ? config->max_buffered_response_bytes
                     : DEFAULT_MAX_BUFFERED;
  q->limit = bound / config->loops;
  if (q->limit == 0) q->limit = 1;
  q->timeout_ms = config->send_timeout_ms ? config->send_timeout_ms
                                          : DEFAULT_SEND_TIMEOUT_MS;
  q->over = false;
  /* a stalled connection is closed between one and 1.25 timeouts */
  uint64_t period = q->timeout_ms / 4;
  h2o_timeout_init(loop->evloop, &q->sweep_timeout, period ? period : 1);
  q->sweep_entry = (h2o_timeout_entry_t){0};
  q->sweep_entry.cb = tarmac_http_sendq_sweep;
}

void tarmac_http_sendq_dispose(http_loop_t *loop) {
  http_sendq_t *q = &loop->sendq;
  if (h2o_timeout_is_linked(&q->sweep_entry))
    h2o_timeout_unlink(&q->sweep_entry);
  h2o_timeout_dispose(loop->evloop, &q->sweep_timeout);
}

/* Bytes h2o keeps in memory for a response with this body: the copy in the
 * request pool, and for HTTP/1.x over TLS the encrypted copy as well. */
static size_t held_bytes(h2o_req_t *req, size_t body_len) {
  h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
  if (sock != NULL && sock->ssl != NULL && req->version < 0x200)
    return body_len * 2;
  return body_len;
}

/* Seconds after which the loop's stalled responses are gone (or moving). */
static unsigned retry_after_seconds(const http_sendq_t *q) {
  uint64_t seconds = (q->timeout_ms + q->timeout_ms / 4 + 999) / 1000;
  return seconds > 0 ? (unsigned)seconds : 1;
}

static void refuse(http_sendq_t *q, tarmac_http_response_t *res) {
  static const char text[] =
      "server busy: too many response bytes are waiting for slow clients\n";
  char retry[16];
  int n = snprintf(retry, sizeof(retry), "%u", retry_after_seconds(q));
  if (tarmac_http_response_set_text(res, 503, text) != 0 ||
      tarmac_http_response_add_header(res, "Retry-After", 11, retry,
                                      (size_t)n) != 0) {
    /* out of memory: a bare 503 still tells the client */
    tarmac_http_response_reset(res);
    res->status = 503;
  }
  if (q->over) return;
  q->over = true; /* one line per congestion episode */
  tarmac_logf(TARMAC_LOG_WARN,
              "responses buffered for slow clients reached the bound "
              "(%zu bytes on this loop): answering 503 until they drain",
              q->limit);
}

/* Responses up to this size may use the last eighth of the bound, so that
 * small answers (health checks, APIs) are still served while large ones
 * held by stalled clients fill the rest. */
#define SMALL_RESPONSE_BYTES (64u << 10)

void tarmac_http_sendq_admit(http_loop_t *loop, h2o_req_t *req,
                             tarmac_http_response_t *res) {
  http_sendq_t *q = &loop->sendq;
  size_t bytes = held_bytes(req, res->body.len);
  size_t cap = bytes <= SMALL_RESPONSE_BYTES ? q->limit
                                             : q->limit - q->limit / 8;
  /* an empty loop takes any one response, so a response larger than the
   * loop's share is still served when nothing else is waiting; an empty
   * body holds nothing */
  if (bytes == 0 || q->bytes == 0 || q->bytes + bytes <= cap) return;
  refuse(q, res);
}

void tarmac_http_sendq_track(http_loop_t *loop, http_sent_t *sent,
                             h2o_req_t *req, size_t body_len) {
  http_sendq_t *q = &loop->sendq;
  sent->q = q;
  sent->req = req;
  sent->bytes = held_bytes(req, body_len);
  sent->acked = 0; /* the first sweep reads the real figure */
  sent->progress_ms = h2o_now(loop->evloop);
  sent->aborted = false;
  q->bytes += sent->bytes;
  h2o_linklist_insert(&q->pending, &sent->link);
  if (!h2o_timeout_is_linked(&q->sweep_entry))
    h2o_timeout_link(loop->evloop, &q->sweep_timeout, &q->sweep_entry);
}

void tarmac_http_sendq_release(http_sent_t *sent) {
  http_sendq_t *q = sent->q;
  if (q == NULL) return;
  sent->q = NULL;
  h2o_linklist_unlink(&sent->link);
  q->bytes -= sent->bytes;
  if (q->over && q->bytes <= q->limit / 2) q->over = false;
}

/* The connection's count of bytes the peer acknowledged: it grows only while
 * the client reads. false when the kernel cannot tell. */
static bool bytes_acked(int fd, uint64_t *out) {
  struct tcp_info info;
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(struct tcp_info, tcpi_bytes_acked) +
                sizeof(info.tcpi_bytes_acked))
    return false;
  *out = info.tcpi_bytes_acked;
  return true;
}

/* Closes the connection at once: a reset (no linger) frees the kernel's
 * send queue too; h2o sees the error on its next read or write and
 * disposes the connection and its requests. */
static void abort_connection(int fd) {
  struct linger no_linger = {1, 0};
  if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger)) !=
          0 ||
      shutdown(fd, SHUT_RDWR) != 0)
    tarmac_logf(TARMAC_LOG_DEBUG, "closing a stalled connection: %s",
                strerror(errno));
}

static void check_progress(http_sendq_t *q, http_sent_t *sent, uint64_t now) {
  h2o_socket_t *sock = sent->req->conn->callbacks->get_socket(sent->req->conn);
  if (sock == NULL || sent->aborted) return;
  int fd = h2o_socket_get_fd(sock);
  uint64_t acked;
  if (bytes_acked(fd, &acked) && acked != sent->acked) {
    sent->acked = acked;
    sent->progress_ms = now;
    return;
  }
  if (now - sent->progress_ms < q->timeout_ms) return;
  sent->aborted = true;
  tarmac_logf(TARMAC_LOG_INFO,
              "closing a connection whose response (%zu bytes) made no "
              "progress for %llu ms",
              sent->bytes, (unsigned long long)(now - sent->progress_ms));
  abort_connection(fd);
}

void tarmac_http_sendq_sweep(h2o_timeout_entry_t *entry) {
  http_loop_t *loop =
      H2O_STRUCT_FROM_MEMBER(http_loop_t, sendq.sweep_entry, entry);
  http_sendq_t *q = &loop->sendq;
  uint64_t now = h2o_now(loop->evloop);
  /* nothing here unlinks: h2o disposes aborted connections later */
  for (h2o_linklist_t *node = q->pending.next; node != &q->pending;
       node = node->next)
    check_progress(q, H2O_STRUCT_FROM_MEMBER(http_sent_t, link, node), now);
  if (!h2o_linklist_is_empty(&q->pending))
    h2o_timeout_link(loop->evloop, &q->sweep_timeout, &q->sweep_entry);
}
