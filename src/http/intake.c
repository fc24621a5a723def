/* Request intake: what a request is refused for before a call is made.
 * Runs in on_req, inside h2o's dispatch, in this order:
 *   HTTP/2 stream churn over the limit  429, connection closed (GOAWAY)
 *   HTTP/1 message framing that is ambiguous (request smuggling)
 *                                       400, connection closed
 *   obsolete line folding               400, connection closed
 *   body over the limit                 413
 *   more header fields than allowed     431
 *   header section over the limit       431 */
#include <stdio.h>
#include <string.h>

#include "http/framing.h"
#include "http/loop.h" /* h2o.h first: http2_internal.h builds on it */
#include "log/log.h"

#include <h2o/http2.h>
#include <h2o/http2_internal.h>

/* ---- HTTP/2 stream churn */

/* Streams of the connection that no longer wait for their request: handed
 * to on_req, or closed before. Client streams have odd ids that only grow,
 * so (max_open + 1) / 2 ids were used. Not settled: streams in pull.open
 * but not yet half_closed (still receiving their request, or queued for
 * on_req), and idle streams a PRIORITY frame opened as anchors of the
 * priority tree (nghttp2 and Firefox open a few; h2o bounds them with
 * max_streams_for_priority). Ids a client skips count as abandoned. */
static uint32_t settled_streams(const h2o_http2_conn_t *conn) {
  uint32_t opened = (conn->pull_stream_ids.max_open + 1) / 2;
  uint32_t waiting =
      conn->num_streams.pull.open - conn->num_streams.pull.half_closed +
      conn->num_streams.priority.open;
  return opened > waiting ? opened - waiting : 0;
}

/* Closes the connection the way h2o itself closes one gracefully
 * (enqueue_goaway, static in h2o's lib/http2/connection.c): a GOAWAY
 * naming the last stream it took, and no new streams; h2o closes the
 * connection once the streams it took are answered and flushed. */
static void send_goaway(h2o_http2_conn_t *conn) {
  tarmac_log_fields(TARMAC_LOG_WARN,
                    TARMAC_LOG_LITERAL("closing an HTTP/2 connection that "
                                       "abandons too many streams"),
                    (const char *)NULL);
  h2o_http2_encode_goaway_frame(
      &conn->_write.buf, conn->pull_stream_ids.max_open,
      H2O_HTTP2_ERROR_ENHANCE_YOUR_CALM,
      h2o_iovec_init(H2O_STRLIT("too many abandoned streams")));
  h2o_http2_conn_request_write(conn);
  conn->state = H2O_HTTP2_CONN_STATE_HALF_CLOSED;
}

/* The zero timeout after a 429: every connection of the loop over the
 * churn limit gets its GOAWAY. Not sent from on_req itself: h2o is then
 * still reading the client's frames, and once a connection is half closed
 * h2o 2.2.5 ignores new streams but takes a RST_STREAM for one of them as a
 * connection error, which would close the connection before the 429's
 * body is written. Here, the frames read so far are all handled (later
 * requests got their 429 too) and the answers go out before the GOAWAY. */
static void close_churning(h2o_timeout_entry_t *entry) {
  http_loop_t *loop =
      H2O_STRUCT_FROM_MEMBER(http_loop_t, churn_close_entry, entry);
  h2o_linklist_t *anchor = &loop->ctx.http2._conns;
  for (h2o_linklist_t *node = anchor->next; node != anchor;
       node = node->next) {
    h2o_http2_conn_t *conn =
        H2O_STRUCT_FROM_MEMBER(h2o_http2_conn_t, _conns, node);
    if (conn->state == H2O_HTTP2_CONN_STATE_OPEN &&
        tarmac_http_churn_exceeded(loop, conn->super.id))
      send_goaway(conn);
  }
}

void tarmac_http_intake_dispose(http_loop_t *loop) {
  if (h2o_timeout_is_linked(&loop->churn_close_entry))
    h2o_timeout_unlink(&loop->churn_close_entry);
}

/* Every HTTP/2 request passes here (the churn count needs them all). */
static bool refuse_churn(http_loop_t *loop, h2o_req_t *req) {
  if (req->version < 0x200) return false;
  h2o_http2_conn_t *conn = (h2o_http2_conn_t *)req->conn;
  if (!tarmac_http_churn_intake(loop, conn->super.id, settled_streams(conn),
                                tarmac_http_now_ms()))
    return false;
  h2o_send_error_generic(req, 429, "Too Many Requests",
                         "too many abandoned streams\n", 0);
  if (!h2o_timeout_is_linked(&loop->churn_close_entry)) {
    loop->churn_close_entry.cb = close_churning;
    h2o_timeout_link(loop->evloop, &loop->ctx.zero_timeout,
                     &loop->churn_close_entry);
  }
  return true;
}

/* ---- HTTP/1 framing */

/* h2o 2.2.5 frames an HTTP/1 body by the first Content-Length or the last
 * Transfer-Encoding and keeps neither in req->headers. Until this request
 * is answered, its head is still at the start of the socket's input
 * buffer (h2o consumes it after the response), so it is parsed again. A
 * request without either field has no body (entity.base stays NULL) and
 * needs no second look. */
static const char *http1_framing_problem(h2o_req_t *req) {
  if (req->version >= 0x200 || req->entity.base == NULL) return NULL;
  h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
  if (sock == NULL || sock->input == NULL)
    return "the request head is no longer available";
  size_t len = sock->input->size < H2O_MAX_REQLEN ? sock->input->size
                                                  : H2O_MAX_REQLEN;
  struct phr_header headers[H2O_MAX_HEADERS];
  size_t count = H2O_MAX_HEADERS, method_len, path_len;
  const char *method, *path;
  int minor_version;
  if (phr_parse_request(sock->input->bytes, len, &method, &method_len, &path,
                        &path_len, &minor_version, headers, &count, 0) <= 0)
    return "the request head cannot be read again";
  return tarmac_http_framing_problem(headers, count, minor_version);
}

/* 400 naming the problem; on HTTP/1 the connection is closed after it, so
 * nothing the client sent after this request (a smuggled request, bytes
 * framed differently by a proxy in front) is ever read as a request. */
static void refuse_bad_request(h2o_req_t *req, const char *problem) {
  char body[160];
  snprintf(body, sizeof(body), "bad request: %s\n", problem);
  h2o_send_error_generic(req, 400, "Bad Request", body,
                         H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
}

/* ---- header fields and body */

/* Header fields as counted against APP_MAX_HEADER_COUNT: HTTP/2 browsers
 * send each cookie as a field of its own (RFC 9113 8.2.3, for compression)
 * and h2o 2.2.5 does not join them, so the cookie fields count as one. */
static size_t header_count(size_t fields, size_t cookie_fields) {
  return cookie_fields > 1 ? fields - (cookie_fields - 1) : fields;
}

static bool refuse_by_size(const tarmac_http_config_t *config,
                           h2o_req_t *req) {
  size_t bytes = 0, cookies = 0;
  for (size_t i = 0; i < req->headers.size; i++) {
    const h2o_header_t *h = &req->headers.entries[i];
    if (h->name->len == 0) { /* h2o keeps an obs-fold line nameless */
      refuse_bad_request(req, TARMAC_HTTP_OBS_FOLD_PROBLEM);
      return true;
    }
    if (h->name == &H2O_TOKEN_COOKIE->buf) cookies++;
    bytes += h->name->len + h->value.len;
  }
  size_t count = header_count(req->headers.size, cookies);
  if (req->entity.len > config->max_body_bytes) {
    h2o_send_error_generic(req, 413, "Payload Too Large",
                           "request body too large\n", 0);
    return true;
  }
  if (count > config->max_header_count) {
    char body[128];
    snprintf(body, sizeof(body),
             "too many request header fields (%zu; the limit is %u)\n", count,
             config->max_header_count);
    h2o_send_error_generic(req, 431, "Request Header Fields Too Large", body,
                           0);
    return true;
  }
  if (bytes > config->max_header_bytes) {
    h2o_send_error_generic(req, 431, "Request Header Fields Too Large",
                           "request header fields too large\n", 0);
    return true;
  }
  return false;
}

bool tarmac_http_intake_refuse(http_loop_t *loop, h2o_req_t *req) {
  if (refuse_churn(loop, req)) return true;
  const char *problem = http1_framing_problem(req);
  if (problem != NULL) {
    refuse_bad_request(req, problem);
    return true;
  }
  return refuse_by_size(&loop->server->config, req);
}
