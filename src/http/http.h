/* http: the HTTP(S) server layer. Owns listening sockets, TLS, HTTP/1.1 and
 * HTTP/2 (h2o underneath; nothing of h2o leaks through this header), the
 * event-loop threads and the threading model that keeps slow handlers from
 * stalling other connections (see docs/architecture.md, "Threading model").
 *
 * The caller supplies one handler. It receives a request whose data it may
 * read for the duration of the call (owned by this layer, not by the
 * connection, so a client that disappears cannot pull it away) and fills a
 * response. The handler runs on an event-loop thread, inline, outside the
 * protocol code; when it runs longer than `handoff_ms` the loop is handed to
 * a spare thread so the connections sharing that loop keep being served;
 * with `handoff_before_wait`, a handler that announces a wait through
 * util/blocking.h (a sleep, a network round trip) gives it up at once.
 * tarmac_http_server_start installs those hooks (once per process; on
 * threads that drive no loop they do nothing). Handlers may therefore
 * block, and must be thread-safe. */
#ifndef TARMAC_HTTP_HTTP_H
#define TARMAC_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buffer.h"

typedef struct {
  const char *name; /* as the client sent it (HTTP/2: lower case) */
  size_t name_len;
  const char *value;
  size_t value_len;
} tarmac_http_header_t;

typedef struct {
  const char *method;
  size_t method_len;
  const char *path; /* without the query */
  size_t path_len;
  const char *query; /* after '?', "" when none */
  size_t query_len;
  const char *remote_addr; /* "ip:port" or "[ipv6]:port", NUL-terminated */
  const tarmac_http_header_t *headers;
  size_t header_count;
  const uint8_t *body; /* whole request body (NULL when empty) */
  size_t body_len;
  const char *protocol; /* "HTTP/1.1", "HTTP/2", ... */
} tarmac_http_request_t;

/* A response being built by the handler. The status must be a final one,
 * 200 to 599 (anything else is answered 500 naming it). A body given with
 * 204 or 304 is not sent (those responses end with their headers); the
 * answer to HEAD carries the body's length as Content-Length, no body. */
typedef struct {
  int status;             /* 0 until set */
  tarmac_buffer_t headers; /* packed lengths, name, value (response.c) */
  size_t header_count;
  tarmac_buffer_t body;
} tarmac_http_response_t;

void tarmac_http_response_init(tarmac_http_response_t *res);
void tarmac_http_response_free(tarmac_http_response_t *res);
/* Empties status, headers and body (storage kept). */
void tarmac_http_response_reset(tarmac_http_response_t *res);
/* Adds a header. Refuses (-1) names that are empty or not HTTP tokens and
 * values holding CR, LF or NUL; -1 also when out of memory. */
int tarmac_http_response_add_header(tarmac_http_response_t *res,
                                    const char *name, size_t name_len,
                                    const char *value, size_t value_len);
/* Replaces the whole response with `status` and a text/plain body. 0/-1. */
int tarmac_http_response_set_text(tarmac_http_response_t *res, int status,
                                  const char *text);
/* Iterates the headers: *cursor starts at 0; returns false at the end. */
bool tarmac_http_response_next_header(const tarmac_http_response_t *res,
                                      size_t *cursor, const char **name,
                                      size_t *name_len, const char **value,
                                      size_t *value_len);

typedef void (*tarmac_http_handler_fn)(void *data,
                                       const tarmac_http_request_t *req,
                                       tarmac_http_response_t *res);

typedef struct {
  const char *listen_addr;  /* "host:port", "[v6]:port" or ":port" */
  bool tls;
  const char *cert_file;    /* PEM chain, when tls */
  const char *key_file;     /* PEM key, when tls */
  const char *ca_file;      /* PEM bundle, when tls: clients must present a
                               certificate chaining to one of its
                               certificates (mutual TLS); NULL or "": none */
  bool ignore_client_cert;  /* with ca_file: a client certificate is asked
                               for and verified when given, not required */
  unsigned loops;           /* event loops (threads serving sockets) */
  unsigned max_threads_per_loop; /* driver + spares a loop may use */
  /* guests a loop runs at once on fibers (suspended ones included), at
   * most max_threads_per_loop; more wait unstarted. 0: a quarter of
   * max_threads_per_loop */
  unsigned fibers_per_loop;
  unsigned handoff_ms;      /* a handler running longer gives its loop up */
  bool handoff_before_wait; /* a handler about to wait on the outside world
                               (util/blocking.h) gives its loop up at once */
  size_t max_body_bytes;    /* larger bodies get 413 */
  size_t max_header_bytes;  /* larger header sections get 431 */
  unsigned max_header_count; /* requests with more header fields get 431 */
  unsigned idle_timeout_ms; /* idle connection / request read timeout */
  unsigned max_streams;     /* HTTP/2 concurrent streams per connection */
  unsigned max_resets_per_second; /* HTTP/2 streams a connection may abandon
                                     per second before it is closed */
  unsigned shutdown_timeout_ms;   /* bound on finishing in-flight requests */
  unsigned send_timeout_ms; /* a connection whose response makes no write
                               progress for this long is closed (0: 30 s) */
  size_t max_buffered_response_bytes; /* bound on response bytes waiting for
                                         clients, shared evenly by the loops;
                                         over it, answers become 503 with
                                         Retry-After (0: 256 MiB) */
  tarmac_http_handler_fn handler;
  void *handler_data;
} tarmac_http_config_t;

typedef struct tarmac_http_server tarmac_http_server_t;

/* Binds, loads TLS material and prepares the loops; serves nothing yet.
 * On failure returns NULL and writes one line into err. */
tarmac_http_server_t *tarmac_http_server_new(const tarmac_http_config_t *config,
                                             char *err, size_t err_size);
/* Starts the loop threads. 0, or -1 with err set. */
int tarmac_http_server_start(tarmac_http_server_t *server, char *err,
                             size_t err_size);
/* Stops accepting, answers in-flight requests (bounded by
 * shutdown_timeout_ms), closes every connection and waits for the threads;
 * each loop is torn down by its own thread. Returns false when some thread
 * is still inside a handler a second after the timeout (a guest that does
 * not return): the handler's data must then stay alive until exit. Call
 * once, from a thread that is not a loop thread. */
bool tarmac_http_server_stop(tarmac_http_server_t *server);
void tarmac_http_server_free(tarmac_http_server_t *server);
/* Re-reads the certificate chain, key and CA file from the paths the server
 * was started with; new handshakes use them, connections already open keep
 * theirs. 0, or -1 with err set (the old ones stay in use): a file missing,
 * unreadable or not PEM, or a key that does not match the certificate,
 * which is also how a certificate replaced before its key looks; call again
 * on the next change. -1 as well when the server has no TLS. Any thread,
 * while the server exists. */
int tarmac_http_server_reload_tls(tarmac_http_server_t *server, char *err,
                                  size_t err_size);
/* The bound port (useful with port 0). */
int tarmac_http_server_port(const tarmac_http_server_t *server);

#endif
