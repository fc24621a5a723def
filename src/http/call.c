/* A request's journey: copied out of h2o on arrival (so the handler never
 * sees memory that h2o can free under it), answered through h2o after the
 * handler ran. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/loop.h"
#include "log/log.h"

/* h2o disposes the request: before the answer, the client abandoned it. */
static void on_req_dispose(void *p) {
  http_call_ref_t *ref = p;
  tarmac_http_sendq_release(&ref->sent);
  http_call_t *call = ref->call;
  if (call == NULL) return;
  call->req = NULL;
  if (call->version >= 0x200)
    tarmac_http_churn_note(call->loop, call->conn_id, tarmac_http_now_ms());
}

static const char *protocol_name(int version) {
  switch (version) {
  case 0x200: return "HTTP/2";
  case 0x101: return "HTTP/1.1";
  case 0x100: return "HTTP/1.0";
  default: return "HTTP";
  }
}

static void format_peer(h2o_req_t *req, char *out, size_t size) {
  struct sockaddr_storage ss;
  socklen_t len = req->conn->callbacks->get_peername(req->conn,
                                                     (struct sockaddr *)&ss);
  char host[INET6_ADDRSTRLEN] = "", port[8] = "";
  if (len == 0 ||
      getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
                  sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(out, size, "unknown");
    return;
  }
  snprintf(out, size, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
           port);
}

_Static_assert(HTTP_PEER_SLOTS == 256,
               "tarmac_http_conn_slot takes the top 8 bits");

/* The peer address of the request's connection, formatted on its first
 * request. */
static const char *peer_of(http_loop_t *loop, h2o_req_t *req) {
  http_peer_slot_t *slot = &loop->peers[tarmac_http_conn_slot(req->conn->id)];
  if (slot->conn_id != req->conn->id) {
    format_peer(req, slot->addr, sizeof(slot->addr));
    slot->conn_id = req->conn->id;
  }
  return slot->addr;
}

/* Appends bytes to storage (room reserved beforehand) and returns where
 * they landed. */
static const char *keep(tarmac_buffer_t *storage, const void *data,
                        size_t len) {
  char *at = (char *)storage->data + storage->len;
  if (len) memcpy(at, data, len);
  storage->len += len;
  return at;
}

static int copy_request(http_call_t *call, h2o_req_t *req) {
  size_t path_len = req->input.path.len;
  size_t query_at = req->input.query_at;
  if (query_at > path_len) query_at = path_len;
  size_t total = req->input.method.len + path_len + req->entity.len + 1;
  for (size_t i = 0; i < req->headers.size; i++)
    total += req->headers.entries[i].name->len +
             req->headers.entries[i].value.len;
  if (tarmac_buffer_reserve(&call->storage, total) != 0) return -1;
  if (req->headers.size > call->header_cap) {
    free(call->headers);
    call->header_cap = 0;
    call->headers = calloc(req->headers.size, sizeof(*call->headers));
    if (call->headers == NULL) return -1;
    call->header_cap = req->headers.size;
  }
  tarmac_http_request_t *r = &call->request;
  tarmac_buffer_t *s = &call->storage;
  r->method = keep(s, req->input.method.base, req->input.method.len);
  r->method_len = req->input.method.len;
  r->path = keep(s, req->input.path.base, query_at);
  r->path_len = query_at;
  size_t query_len = query_at < path_len ? path_len - query_at - 1 : 0;
  r->query = keep(s, req->input.path.base + path_len - query_len, query_len);
  r->query_len = query_len;
  for (size_t i = 0; i < req->headers.size; i++) {
    const h2o_header_t *h = &req->headers.entries[i];
    const char *name = h->orig_name ? h->orig_name : h->name->base;
    call->headers[i].name = keep(s, name, h->name->len);
    call->headers[i].name_len = h->name->len;
    call->headers[i].value = keep(s, h->value.base, h->value.len);
    call->headers[i].value_len = h->value.len;
  }
  r->headers = call->headers;
  r->header_count = req->headers.size;
  if (req->entity.base != NULL && req->entity.len > 0) {
    r->body = (const uint8_t *)keep(s, req->entity.base, req->entity.len);
    r->body_len = req->entity.len;
  }
  memcpy(call->remote_addr, peer_of(call->loop, req),
         sizeof(call->remote_addr));
  r->remote_addr = call->remote_addr;
  r->protocol = protocol_name(req->version);
  return 0;
}

/* Spare calls a loop keeps, and the buffer capacity a spare keeps: enough
 * for the requests in flight in one loop iteration, without holding on to
 * the memory of an occasional large request. */
#define SPARE_CALLS_MAX 64
#define SPARE_BUFFER_KEEP (16 * 1024)

/* A zeroed call, reusing a spare's buffers when the loop has one. */
static http_call_t *take_call(http_loop_t *loop) {
  http_call_t *spare = loop->spare_calls;
  if (spare == NULL) return calloc(1, sizeof(*spare));
  loop->spare_calls = spare->next;
  loop->spare_count--;
  http_call_t kept = *spare;
  memset(spare, 0, sizeof(*spare));
  spare->headers = kept.headers;
  spare->header_cap = kept.header_cap;
  spare->storage = kept.storage;
  spare->response = kept.response;
  tarmac_buffer_clear(&spare->storage);
  tarmac_http_response_reset(&spare->response);
  return spare;
}

http_call_t *tarmac_http_call_new(http_loop_t *loop, h2o_req_t *req) {
  http_call_t *call = take_call(loop);
  if (call == NULL) return NULL;
  call->loop = loop;
  call->conn_id = req->conn->id;
  call->version = req->version;
  call->timed = tarmac_log_enabled(TARMAC_LOG_DEBUG);
  if (call->timed) clock_gettime(CLOCK_MONOTONIC, &call->started);
  if (copy_request(call, req) != 0) {
    tarmac_http_call_release(call);
    return NULL;
  }
  call->ref = h2o_mem_alloc_shared(&req->pool, sizeof(*call->ref),
                                   on_req_dispose);
  call->ref->call = call;
  call->ref->sent.q = NULL;
  call->req = req;
  return call;
}

static void free_call(http_call_t *call) {
  tarmac_buffer_free(&call->storage);
  free(call->headers);
  tarmac_http_response_free(&call->response);
  free(call);
}

void tarmac_http_call_release(http_call_t *call) {
  if (call->ref != NULL && call->req != NULL) call->ref->call = NULL;
  http_loop_t *loop = call->loop;
  if (loop->spare_count >= SPARE_CALLS_MAX) {
    free_call(call);
    return;
  }
  tarmac_buffer_trim(&call->storage, SPARE_BUFFER_KEEP);
  tarmac_buffer_trim(&call->response.headers, SPARE_BUFFER_KEEP);
  tarmac_buffer_trim(&call->response.body, SPARE_BUFFER_KEEP);
  if (call->header_cap > SPARE_BUFFER_KEEP / sizeof(*call->headers)) {
    free(call->headers);
    call->headers = NULL;
    call->header_cap = 0;
  }
  call->next = loop->spare_calls;
  loop->spare_calls = call;
  loop->spare_count++;
}

void tarmac_http_call_free_spares(http_loop_t *loop) {
  while (loop->spare_calls != NULL) {
    http_call_t *call = loop->spare_calls;
    loop->spare_calls = call->next;
    free_call(call);
  }
  loop->spare_count = 0;
}

static const char *reason_phrase(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Payload Too Large";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return status < 400 ? "OK" : "Error";
  }
}

/* Headers the protocol layer owns; a handler's copies are dropped. */
static bool is_reserved_header(const char *lower, size_t len) {
  static const h2o_iovec_t reserved[] = {
      {H2O_STRLIT("content-length")}, {H2O_STRLIT("transfer-encoding")},
      {H2O_STRLIT("connection")},     {H2O_STRLIT("keep-alive")},
      {H2O_STRLIT("server")},         {H2O_STRLIT("upgrade")},
      {H2O_STRLIT("proxy-connection")}, {H2O_STRLIT("te")}};
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
    if (reserved[i].len == len && memcmp(reserved[i].base, lower, len) == 0)
      return true;
  return false;
}

static void add_response_headers(h2o_req_t *req,
                                 const tarmac_http_response_t *res) {
  size_t cursor = 0, name_len, value_len;
  const char *name, *value;
  while (tarmac_http_response_next_header(res, &cursor, &name, &name_len,
                                          &value, &value_len)) {
    char *lower = h2o_mem_alloc_pool(&req->pool, name_len + 1);
    for (size_t i = 0; i < name_len; i++)
      lower[i] = (char)h2o_tolower((unsigned char)name[i]);
    lower[name_len] = '\0';
    if (is_reserved_header(lower, name_len)) continue;
    h2o_iovec_t orig = h2o_strdup(&req->pool, name, name_len);
    h2o_iovec_t val = h2o_strdup(&req->pool, value, value_len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, lower, name_len, 1,
                          orig.base, val.base, val.len);
  }
}

static void log_access(const http_call_t *call, int status) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long micros = (now.tv_sec - call->started.tv_sec) * 1000000LL +
                     (now.tv_nsec - call->started.tv_nsec) / 1000;
  char status_text[16], micros_text[24], bytes_text[24];
  snprintf(status_text, sizeof(status_text), "%d", status);
  snprintf(micros_text, sizeof(micros_text), "%lld", micros);
  snprintf(bytes_text, sizeof(bytes_text), "%zu", call->response.body.len);
  char method[16], path[512];
  snprintf(method, sizeof(method), "%.*s", (int)call->request.method_len,
           call->request.method);
  snprintf(path, sizeof(path), "%.*s", (int)call->request.path_len,
           call->request.path);
  static const char msg[] = "request";
  tarmac_log_fields(TARMAC_LOG_DEBUG, msg, sizeof(msg) - 1, "method", method,
                    "path", path, "status", status_text, "remote",
                    call->remote_addr, "protocol", call->request.protocol,
                    "bytes", bytes_text, "duration_us", micros_text,
                    (const char *)NULL);
}

/* A status the protocol layer can send as the final answer; anything else
 * from a handler (0 = never set, 1xx, beyond 599) is a handler bug and
 * answers 500 naming it. */
static void settle_status(tarmac_http_response_t *res) {
  if (res->status >= 200 && res->status <= 599) return;
  char text[64];
  snprintf(text, sizeof(text), "the handler answered no valid status (%d)\n",
           res->status);
  if (tarmac_http_response_set_text(res, 500, text) != 0)
    res->status = 500; /* out of memory: at least the status */
}

/* RFC 9110 6.4.1 / 15.3.5 / 15.4.5: 204 and 304 responses end with their
 * header section. A body there would be read by an HTTP/1.1 client or
 * proxy as the next response (a response injected by whoever chose the
 * body), and is a protocol error on HTTP/2; so it is dropped, and no
 * Content-Length is sent. */
static bool status_has_content(int status) {
  return status != 204 && status != 304;
}

/* Hands the answer to h2o. A HEAD answer carries the Content-Length of the
 * body the handler produced for it (the length a GET would get, for a
 * handler that answers HEAD like GET) and no body: h2o_send_inline sends
 * none for HEAD. */
static void send_answer(h2o_req_t *req, http_call_t *call) {
  tarmac_http_response_t *res = &call->response;
  req->res.status = res->status;
  req->res.reason = reason_phrase(res->status);
  add_response_headers(req, res);
  if (!status_has_content(res->status)) {
    tarmac_buffer_clear(&res->body);
    req->res.content_length = SIZE_MAX;
  } else {
    req->res.content_length = res->body.len;
  }
  const char *body = res->body.data ? (const char *)res->body.data : "";
  tarmac_http_sendq_track(call->loop, &call->ref->sent, req, res->body.len);
  h2o_send_inline(req, body, res->body.len);
}

void tarmac_http_call_finish(http_call_t *call) {
  http_loop_t *loop = call->loop;
  tarmac_http_fibers_release(call);
  h2o_req_t *req = call->req;
  settle_status(&call->response);
  if (req != NULL) {
    tarmac_http_sendq_admit(loop, req, &call->response);
    call->ref->call = NULL;
    call->req = NULL;
    send_answer(req, call);
  }
  if (call->timed && tarmac_log_enabled(TARMAC_LOG_DEBUG))
    log_access(call, call->response.status);
  tarmac_http_call_release(call);
  loop->in_flight--;
}
