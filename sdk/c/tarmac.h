/* tarmac.h: the C guest SDK. Lets a C program compiled to WebAssembly
 * (clang --target=wasm32-wasi -mexec-model=reactor) serve waPC operations
 * under Tarmac: register handlers by name, read the payload, answer or fail,
 * call host callbacks, and log.
 *
 *   #include "tarmac.h"
 *
 *   static int echo(const uint8_t *payload, size_t len) {
 *     return tarmac_respond(payload, len);
 *   }
 *
 *   TARMAC_INIT(setup) {
 *     tarmac_register("echo", echo);
 *   }
 *
 * The SDK exports __guest_call. For each invocation it fetches the
 * operation and payload from the host, runs the handler registered for the
 * operation and reports the result: a handler returns TARMAC_OK (0) for
 * success, with the response set by tarmac_respond() (empty if never
 * called), or anything else for failure, normally `return tarmac_fail(...)`
 * which sets the error message. A handler that fails without a message
 * produces the host's `call to "<op>" was unsuccessful`. An operation with no
 * handler fails with `Could not find function "<op>"`.
 *
 * Everything here is for one guest instance, on its one thread. */
#ifndef TARMAC_SDK_TARMAC_H
#define TARMAC_SDK_TARMAC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TARMAC_OK 0
#define TARMAC_ERROR (-1)

/* Serves one operation. `payload` holds `len` bytes followed by a NUL byte
 * (so a text payload can be read as a C string); it is valid until the
 * handler returns. */
typedef int (*tarmac_handler_fn)(const uint8_t *payload, size_t len);

/* Registers `fn` for `operation` (the name is copied). Returns TARMAC_OK,
 * or TARMAC_ERROR when the name is empty, fn is NULL, the name is already
 * registered, or memory runs out. */
int tarmac_register(const char *operation, tarmac_handler_fn fn);

/* Runs the function once when the instance starts, before any operation
 * (a constructor, run by the reactor's _initialize). Use it to register
 * handlers:   TARMAC_INIT(setup) { tarmac_register("op", handler); } */
#define TARMAC_INIT(fn)                                        \
  static void fn(void);                                        \
  __attribute__((constructor)) static void tarmac_init_##fn(void) { fn(); } \
  static void fn(void)

/* The name of the operation being served (NUL-terminated; "" outside a
 * handler). */
const char *tarmac_operation(void);

/* Sets the invocation's response (the host copies the bytes). Returns
 * TARMAC_OK so a handler can `return tarmac_respond(...)`. */
int tarmac_respond(const void *data, size_t len);
/* Same, for a NUL-terminated string. */
int tarmac_respond_str(const char *text);

/* Fails the invocation with `message` (printf format). Returns
 * TARMAC_ERROR so a handler can `return tarmac_fail("bad input: %s", x)`.
 * Once failed, the invocation fails whatever the handler returns. */
int tarmac_fail(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/* Calls the host callback (binding, namespace, operation) with a payload.
 * On success returns TARMAC_OK and, when `out` is not NULL, gives the
 * response in *out / *out_len (out_len may be NULL). On failure returns TARMAC_ERROR and gives the
 * host's error text the same way. *out is malloc()ed, NUL-terminated (not
 * counted in *out_len), and the caller frees it; it is NULL with *out_len 0
 * when memory runs out (the result is then TARMAC_ERROR). */
int tarmac_host_call(const char *binding, const char *namespace_,
                     const char *operation, const void *payload, size_t len,
                     uint8_t **out, size_t *out_len);

/* Calls another function of the service that has a `function` route:
 * host_call("tarmac", "function", name, payload). Results as for
 * tarmac_host_call (the callee's response, or the error text). */
int tarmac_call_function(const char *name, const void *payload, size_t len,
                         uint8_t **out, size_t *out_len);

/* SQL (tarmac/sql/query and exec, sent as protobuf; docs/callbacks.md
 * "SQL"). tarmac_sql_query gives the rows, a JSON array of row objects
 * ([{"id":1,"name":"x"}]), in *rows / *rows_len: malloc()ed,
 * NUL-terminated, the caller's to free. tarmac_sql_exec gives the last
 * insert id and the rows affected (either pointer may be NULL). Both
 * return TARMAC_OK when the status is 200; otherwise TARMAC_ERROR with the
 * host's error text in *rows (query) or *error (exec, may be NULL; free
 * it). PostgreSQL cannot report a last insert id: its exec answers 206,
 * which fails the host call with the rows affected in the text;
 * tarmac_sql_exec reads that text and returns TARMAC_OK with
 * last_insert_id 0 and rows_affected set. */
int tarmac_sql_query(const char *query, size_t len, uint8_t **rows,
                     size_t *rows_len);
int tarmac_sql_exec(const char *query, size_t len, int64_t *last_insert_id,
                    int64_t *rows_affected, char **error);

/* Guest metrics (tarmac/metrics/<type>), sent as protobuf (hand-encoded,
 * tarmac_proto.h; the host also takes the JSON form). The host replies
 * with a Status; these return TARMAC_OK when it is 200, TARMAC_ERROR
 * otherwise (bad name, a name used by another type, a reserved tarmac_ or
 * process_ prefix, too many metrics, no memory): call tarmac_host_call
 * yourself to read the host's text. Names match ^[a-zA-Z_:][a-zA-Z0-9_:]*$.
 *   counter: +1.  gauge: action "inc" (+1) or "dec" (-1).
 *   histogram: one observation (default buckets, docs/metrics.md). */
int tarmac_metric_counter(const char *name);
int tarmac_metric_gauge(const char *name, const char *action);
int tarmac_metric_histogram(const char *name, double value);

/* Key-value store (tarmac/kvstore/<op>, when the server enables it),
 * sent as protobuf like the Go SDK. Like tarmac_host_call, each returns
 * TARMAC_OK or TARMAC_ERROR and, on failure, gives the host's error text
 * in *out / *out_len when out is not NULL (e.g. `key "k" not found`,
 * `key is empty`, `data is missing`: an empty value cannot be stored).
 *   get:    on success *out / *out_len is the value (malloc()ed,
 *           NUL-terminated beyond *out_len; the caller frees it).
 *   set:    stores len bytes (len > 0) under key.
 *   delete: removes key (an error when it does not exist).
 *   keys:   on success *keys is a malloc()ed array of *count malloc()ed
 *           strings (tarmac_kv_keys_free); on failure *keys is NULL and
 *           the error text goes to *out when out is not NULL. */
int tarmac_kv_get(const char *key, uint8_t **out, size_t *out_len);
int tarmac_kv_set(const char *key, const void *data, size_t len,
                  uint8_t **out, size_t *out_len);
int tarmac_kv_delete(const char *key, uint8_t **out, size_t *out_len);
int tarmac_kv_keys(char ***keys, size_t *count, uint8_t **out,
                   size_t *out_len);
void tarmac_kv_keys_free(char **keys, size_t count);

/* Outbound HTTP(S) through the host (tarmac/httpclient/call, sent as
 * protobuf: tarmac_http_proto.h; the host also takes the JSON form). The
 * host applies its limits (docs/callbacks.md, "HTTP client"): an
 * allow-list of hosts checked on every redirect, a response body cap,
 * timeouts, redirects followed up to a bound. */
typedef struct {
  const char *name;
  const char *value;
} tarmac_http_header_t;

typedef struct {
  const char *method; /* NULL: GET */
  const char *url;    /* http:// or https:// */
  const tarmac_http_header_t *headers; /* a name may repeat (more values) */
  size_t n_headers;
  const void *body;
  size_t body_len;
  int insecure; /* skip TLS certificate checks for this call */
} tarmac_http_request_t;

typedef struct {
  int code;                      /* the server's HTTP status */
  tarmac_http_header_t *headers; /* one per value, names canonical
                                    ("Content-Type") */
  size_t n_headers;
  const uint8_t *body; /* body_len bytes and a NUL (not counted) */
  size_t body_len;
  int status_code;         /* the host's status: 200 when it answered */
  const char *status_text; /* "OK", or the host's error text */
  void *arena_;            /* owns everything above */
} tarmac_http_response_t;

/* Makes the request. TARMAC_OK when the server answered (whatever its
 * HTTP status: see resp->code; resp->status_code is 200); TARMAC_ERROR
 * when the host refused or could not complete the call: status_text is
 * the host's error text (e.g. `host "x" is not allowed
 * (APP_HTTP_CLIENT_ALLOW)`, `request to host "x" timed out: ...`; empty
 * when memory ran out) and status_code is 0 (a failed host call carries
 * only the text). Free resp with tarmac_http_response_free either way. */
int tarmac_http_call(const tarmac_http_request_t *req,
                     tarmac_http_response_t *resp);
void tarmac_http_response_free(tarmac_http_response_t *resp);
/* The first value of a response header (name as sent, case-insensitive),
 * or NULL. */
const char *tarmac_http_header(const tarmac_http_response_t *resp,
                               const char *name);

/* Logs through the host's logger callback (tarmac/logger/<level>); printf
 * format. Returns TARMAC_OK when the host accepted the line. */
int tarmac_log(const char *level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
int tarmac_vlog(const char *level, const char *format, va_list args);
#define tarmac_log_trace(...) tarmac_log("trace", __VA_ARGS__)
#define tarmac_log_debug(...) tarmac_log("debug", __VA_ARGS__)
#define tarmac_log_info(...) tarmac_log("info", __VA_ARGS__)
#define tarmac_log_warn(...) tarmac_log("warn", __VA_ARGS__)
#define tarmac_log_error(...) tarmac_log("error", __VA_ARGS__)

/* Writes a line to the host's log through waPC's __console_log. */
void tarmac_console_log(const char *message);

#ifdef __cplusplus
}
#endif

#endif
