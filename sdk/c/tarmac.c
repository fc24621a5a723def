/* tarmac.c: the C guest SDK's implementation (see tarmac.h): the waPC
 * imports, the exported __guest_call, the handler table, host calls and
 * logging. State is per guest instance (it lives in the instance's linear
 * memory), and a guest instance runs one invocation at a time. */
#include "tarmac.h"
#include "tarmac_proto.h"
#include "tarmac_http_proto.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WAPC_IMPORT(name) \
  __attribute__((import_module("wapc"), import_name(#name)))

WAPC_IMPORT(__guest_request) void wapc_guest_request(uint8_t *op,
                                                     uint8_t *payload);
WAPC_IMPORT(__guest_response) void wapc_guest_response(const void *ptr,
                                                       size_t len);
WAPC_IMPORT(__guest_error) void wapc_guest_error(const void *ptr, size_t len);
WAPC_IMPORT(__host_call) int32_t wapc_host_call(
    const void *binding, size_t binding_len, const void *namespace_,
    size_t namespace_len, const void *operation, size_t operation_len,
    const void *payload, size_t payload_len);
WAPC_IMPORT(__host_response_len) size_t wapc_host_response_len(void);
WAPC_IMPORT(__host_response) void wapc_host_response(uint8_t *ptr);
WAPC_IMPORT(__host_error_len) size_t wapc_host_error_len(void);
WAPC_IMPORT(__host_error) void wapc_host_error(uint8_t *ptr);
WAPC_IMPORT(__console_log) void wapc_console_log(const void *ptr, size_t len);

typedef struct {
  char *name;
  size_t name_len;
  tarmac_handler_fn fn;
} handler_entry_t;

/* The handler table, filled at start-up. */
static struct {
  handler_entry_t *entries;
  size_t count;
  size_t capacity;
} handlers;

/* The invocation being served. */
static struct {
  const char *operation;
  bool failed;
} invocation = {"", false};

static const handler_entry_t *handler_find(const char *name, size_t len) {
  for (size_t i = 0; i < handlers.count; i++) {
    const handler_entry_t *e = &handlers.entries[i];
    if (e->name_len == len && memcmp(e->name, name, len) == 0) return e;
  }
  return NULL;
}

static bool handlers_reserve_one(void) {
  if (handlers.count < handlers.capacity) return true;
  size_t capacity = handlers.capacity ? handlers.capacity * 2 : 8;
  handler_entry_t *grown =
      realloc(handlers.entries, capacity * sizeof(*grown));
  if (!grown) return false;
  handlers.entries = grown;
  handlers.capacity = capacity;
  return true;
}

int tarmac_register(const char *operation, tarmac_handler_fn fn) {
  if (!operation || !*operation || !fn) return TARMAC_ERROR;
  size_t len = strlen(operation);
  if (handler_find(operation, len) || !handlers_reserve_one())
    return TARMAC_ERROR;
  char *name = strdup(operation);
  if (!name) return TARMAC_ERROR;
  handlers.entries[handlers.count++] =
      (handler_entry_t){.name = name, .name_len = len, .fn = fn};
  return TARMAC_OK;
}

const char *tarmac_operation(void) { return invocation.operation; }

int tarmac_respond(const void *data, size_t len) {
  wapc_guest_response(data, len);
  return TARMAC_OK;
}

int tarmac_respond_str(const char *text) {
  return tarmac_respond(text, strlen(text));
}

/* vsnprintf into a malloc()ed string; NULL when memory runs out or the
 * format is bad. */
static char *format_message(const char *format, va_list args) {
  va_list measure;
  va_copy(measure, args);
  int len = vsnprintf(NULL, 0, format, measure);
  va_end(measure);
  if (len < 0) return NULL;
  char *text = malloc((size_t)len + 1);
  if (text) vsnprintf(text, (size_t)len + 1, format, args);
  return text;
}

static void fail_with(const char *message, size_t len) {
  wapc_guest_error(message, len);
  invocation.failed = true;
}

int tarmac_fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  char *message = format_message(format, args);
  va_end(args);
  if (message) {
    fail_with(message, strlen(message));
    free(message);
  } else {
    static const char fallback[] = "tarmac_fail: cannot format the message";
    fail_with(fallback, sizeof(fallback) - 1);
  }
  return TARMAC_ERROR;
}

/* Runs the handler for the current request; returns the waPC result. */
static int32_t dispatch(const char *op, size_t op_len, const uint8_t *payload,
                        size_t payload_len) {
  const handler_entry_t *handler = handler_find(op, op_len);
  if (!handler) {
    tarmac_fail("Could not find function \"%.*s\"", (int)op_len, op);
    return 0;
  }
  invocation.operation = op;
  int rc = handler->fn(payload, payload_len);
  invocation.operation = "";
  return rc == TARMAC_OK && !invocation.failed;
}

__attribute__((export_name("__guest_call"))) int32_t tarmac_guest_call(
    uint32_t op_len, uint32_t payload_len) {
  invocation.failed = false;
  /* +1 for a terminating NUL; lengths near 4 GiB cannot be had anyway. */
  char *op = op_len < UINT32_MAX ? malloc((size_t)op_len + 1) : NULL;
  uint8_t *payload =
      payload_len < UINT32_MAX ? malloc((size_t)payload_len + 1) : NULL;
  int32_t result = 0;
  if (op && payload) {
    wapc_guest_request((uint8_t *)op, payload);
    op[op_len] = '\0';
    payload[payload_len] = '\0';
    result = dispatch(op, op_len, payload, payload_len);
  } else {
    tarmac_fail("out of memory reading a request of %u + %u bytes",
                (unsigned)op_len, (unsigned)payload_len);
  }
  free(op);
  free(payload);
  return result;
}

/* Fetches the last host call's response (ok) or error into a malloc()ed,
 * NUL-terminated buffer. False when memory runs out. */
static bool host_result_fetch(bool ok, uint8_t **out, size_t *out_len) {
  size_t len = ok ? wapc_host_response_len() : wapc_host_error_len();
  *out = NULL;
  *out_len = 0;
  uint8_t *buf = len < SIZE_MAX ? malloc(len + 1) : NULL;
  if (!buf) return false;
  if (ok)
    wapc_host_response(buf);
  else
    wapc_host_error(buf);
  buf[len] = '\0';
  *out = buf;
  *out_len = len;
  return true;
}

int tarmac_host_call(const char *binding, const char *namespace_,
                     const char *operation, const void *payload, size_t len,
                     uint8_t **out, size_t *out_len) {
  bool ok = wapc_host_call(binding, strlen(binding), namespace_,
                           strlen(namespace_), operation, strlen(operation),
                           payload, len) == 1;
  size_t len_unused;
  if (out && !host_result_fetch(ok, out, out_len ? out_len : &len_unused))
    return TARMAC_ERROR;
  return ok ? TARMAC_OK : TARMAC_ERROR;
}

int tarmac_vlog(const char *level, const char *format, va_list args) {
  char *message = format_message(format, args);
  if (!message) return TARMAC_ERROR;
  int rc = tarmac_host_call("tarmac", "logger", level, message,
                            strlen(message), NULL, NULL);
  free(message);
  return rc;
}

int tarmac_log(const char *level, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int rc = tarmac_vlog(level, format, args);
  va_end(args);
  return rc;
}

void tarmac_console_log(const char *message) {
  wapc_console_log(message, strlen(message));
}

int tarmac_call_function(const char *name, const void *payload, size_t len,
                         uint8_t **out, size_t *out_len) {
  return tarmac_host_call("tarmac", "function", name, payload, len, out,
                          out_len);
}

/* Sends one metrics call; the reply (a Status) is not needed: its code is
 * what made the call succeed or fail. */
static int metric_call(const char *type, const char *name, const char *text,
                       int has_value, double value) {
  if (!name) return TARMAC_ERROR;
  size_t len;
  uint8_t *payload = tarmac_proto_metric(name, text, has_value, value, &len);
  if (!payload) return TARMAC_ERROR;
  int rc = tarmac_host_call("tarmac", "metrics", type, payload, len, NULL,
                            NULL);
  free(payload);
  return rc;
}

int tarmac_metric_counter(const char *name) {
  return metric_call("counter", name, NULL, 0, 0);
}

int tarmac_metric_gauge(const char *name, const char *action) {
  if (!action) return TARMAC_ERROR;
  return metric_call("gauge", name, action, 0, 0);
}

int tarmac_metric_histogram(const char *name, double value) {
  return metric_call("histogram", name, NULL, 1, value);
}

/* One kvstore call with {key, data?}; the reply in *reply on success, the
 * error text in *out on failure (when out is not NULL). */
static int kv_call(const char *op, const char *key, const void *data,
                   size_t data_len, uint8_t **reply, size_t *reply_len,
                   uint8_t **out, size_t *out_len) {
  size_t len, unused;
  if (out) *out = NULL;
  if (!key) return TARMAC_ERROR;
  uint8_t *payload = tarmac_proto_kv(key, data, data_len, &len);
  if (!payload) return TARMAC_ERROR;
  int rc = tarmac_host_call("tarmac", "kvstore", op, payload, len, reply,
                            reply_len);
  free(payload);
  if (rc != TARMAC_OK && out) {
    *out = *reply;
    *(out_len ? out_len : &unused) = *reply_len;
    *reply = NULL;
  }
  return rc;
}

int tarmac_kv_get(const char *key, uint8_t **out, size_t *out_len) {
  uint8_t *reply = NULL, *value = NULL;
  size_t reply_len = 0, unused;
  if (out) *out = NULL;
  int rc = kv_call("get", key, NULL, 0, &reply, &reply_len, out, out_len);
  const uint8_t *p = reply, *end = reply + reply_len, *data, *found = NULL;
  uint64_t flen, found_len = 0;
  unsigned field;
  while (rc == TARMAC_OK && p && p < end)
    if ((p = tarmac_proto_field(p, end, &field, &data, &flen)) && field == 2 &&
        data)
      found = data, found_len = flen;
  if (rc == TARMAC_OK && !p) rc = TARMAC_ERROR; /* a malformed reply */
  if (rc == TARMAC_OK && (value = malloc((size_t)found_len + 1))) {
    if (found_len) memcpy(value, found, (size_t)found_len);
    value[found_len] = '\0';
  } else if (rc == TARMAC_OK) {
    rc = TARMAC_ERROR;
  }
  if (rc == TARMAC_OK && out) {
    *out = value;
    *(out_len ? out_len : &unused) = (size_t)found_len;
  } else {
    free(value);
  }
  free(reply);
  return rc;
}

int tarmac_kv_set(const char *key, const void *data, size_t len,
                  uint8_t **out, size_t *out_len) {
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  if (!data && len) return TARMAC_ERROR;
  int rc = kv_call("set", key, data ? data : "", len, &reply, &reply_len, out,
                   out_len);
  free(reply);
  return rc;
}

int tarmac_kv_delete(const char *key, uint8_t **out, size_t *out_len) {
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  int rc = kv_call("delete", key, NULL, 0, &reply, &reply_len, out, out_len);
  free(reply);
  return rc;
}

void tarmac_kv_keys_free(char **keys, size_t count) {
  for (size_t i = 0; keys && i < count; i++) free(keys[i]);
  free(keys);
}

/* The repeated field 2 (keys) of a KVStoreKeysResponse; -1 when
 * malformed or out of memory. */
static int kv_keys_parse(const uint8_t *p, const uint8_t *end, char ***keys,
                         size_t *count) {
  size_t cap = 0;
  const uint8_t *data;
  uint64_t len;
  unsigned field;
  while (p < end) {
    if (!(p = tarmac_proto_field(p, end, &field, &data, &len))) return -1;
    if (field != 2 || !data) continue;
    if (*count == cap) {
      cap = cap ? cap * 2 : 16;
      char **grown = realloc(*keys, cap * sizeof *grown);
      if (!grown) return -1;
      *keys = grown;
    }
    char *key = malloc((size_t)len + 1);
    if (!key) return -1;
    memcpy(key, data, (size_t)len);
    key[len] = '\0';
    (*keys)[(*count)++] = key;
  }
  return 0;
}

int tarmac_kv_keys(char ***keys, size_t *count, uint8_t **out,
                   size_t *out_len) {
  static const uint8_t return_proto[] = {0x08, 0x01}; /* return_proto: true */
  uint8_t *reply = NULL;
  size_t reply_len = 0, unused;
  if (out) *out = NULL;
  *keys = NULL;
  *count = 0;
  int rc = tarmac_host_call("tarmac", "kvstore", "keys", return_proto,
                            sizeof return_proto, &reply, &reply_len);
  if (rc == TARMAC_OK &&
      kv_keys_parse(reply, reply + reply_len, keys, count) != 0) {
    tarmac_kv_keys_free(*keys, *count);
    *keys = NULL;
    *count = 0;
    rc = TARMAC_ERROR;
  }
  if (rc != TARMAC_OK && out) {
    *out = reply;
    *(out_len ? out_len : &unused) = reply_len;
    reply = NULL;
  }
  free(reply);
  return rc;
}

/* ---- HTTP client (tarmac/httpclient/call) ---- */

/* A failed host call gives the guest the error text only (not the
 * Status): it becomes status_text. */
static int http_failed(tarmac_http_response_t *resp, uint8_t *text) {
  memset(resp, 0, sizeof *resp);
  resp->status_text = "";
  if (text == NULL) return TARMAC_ERROR;
  resp->arena_ = text; /* NUL-terminated by tarmac_host_call */
  resp->status_text = (const char *)text;
  return TARMAC_ERROR;
}

int tarmac_http_call(const tarmac_http_request_t *req,
                     tarmac_http_response_t *resp) {
  memset(resp, 0, sizeof *resp);
  resp->status_text = "";
  if (!req || !req->url) return TARMAC_ERROR;
  size_t len, reply_len = 0;
  uint8_t *payload = tarmac_http_proto_request(req, &len), *reply = NULL;
  if (!payload) return TARMAC_ERROR;
  int rc = tarmac_host_call("tarmac", "httpclient", "call", payload, len,
                            &reply, &reply_len);
  free(payload);
  if (rc != TARMAC_OK) return http_failed(resp, reply);
  rc = tarmac_http_proto_response(reply, reply_len, resp) == 0 &&
               resp->status_code == 200
           ? TARMAC_OK
           : TARMAC_ERROR;
  free(reply);
  return rc;
}

void tarmac_http_response_free(tarmac_http_response_t *resp) {
  if (!resp) return;
  free(resp->headers);
  free(resp->arena_);
  memset(resp, 0, sizeof *resp);
}

const char *tarmac_http_header(const tarmac_http_response_t *resp,
                               const char *name) {
  for (size_t i = 0; i < resp->n_headers; i++)
    if (strcasecmp(resp->headers[i].name, name) == 0)
      return resp->headers[i].value;
  return NULL;
}

/* SQL: one round trip; the reply's fields are picked out of the
 * protobuf. */
static int sql_call(const char *op, const char *query, size_t len,
                    uint8_t **out, size_t *out_len) {
  size_t payload_len;
  uint8_t *payload = tarmac_proto_sql(query, len, &payload_len);
  if (!payload) return TARMAC_ERROR;
  int rc = tarmac_host_call("tarmac", "sql", op, payload, payload_len, out,
                            out_len);
  free(payload);
  return rc;
}

int tarmac_sql_query(const char *query, size_t len, uint8_t **rows,
                     size_t *rows_len) {
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  if (sql_call("query", query, len, &reply, &reply_len) != TARMAC_OK ||
      !reply) {
    *rows = reply; /* the error text */
    *rows_len = reply_len;
    return TARMAC_ERROR;
  }
  const uint8_t *p = reply, *end = reply + reply_len, *data = NULL, *field;
  uint64_t data_len = 0, field_len;
  unsigned number;
  while (p && p < end) {
    p = tarmac_proto_field(p, end, &number, &field, &field_len);
    if (p && number == 5 && field) data = field, data_len = field_len;
  }
  *rows = p ? malloc(data_len + 1) : NULL;
  if (*rows) {
    if (data_len) memcpy(*rows, data, data_len);
    (*rows)[data_len] = '\0';
  }
  *rows_len = *rows ? data_len : 0;
  free(reply);
  return *rows ? TARMAC_OK : TARMAC_ERROR;
}

/* Status 206 (the statement ran; the database, PostgreSQL, has no last
 * insert id) fails the host call, which carries only the status text:
 * that text, as this host writes it, counts as success with the rows
 * affected it names. */
static bool sql_exec_206(const uint8_t *text, int64_t *rows_affected) {
  static const char prefix[] =
      "PostgreSQL cannot report the last insert id (rows affected: ";
  if (!text || strncmp((const char *)text, prefix, sizeof prefix - 1) != 0)
    return false;
  if (rows_affected)
    *rows_affected = strtoll((const char *)text + sizeof prefix - 1, NULL, 10);
  return true;
}

int tarmac_sql_exec(const char *query, size_t len, int64_t *last_insert_id,
                    int64_t *rows_affected, char **error) {
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  if (error) *error = NULL;
  if (last_insert_id) *last_insert_id = 0; /* proto3 leaves zeros out */
  if (rows_affected) *rows_affected = 0;
  if (sql_call("exec", query, len, &reply, &reply_len) != TARMAC_OK) {
    if (sql_exec_206(reply, rows_affected)) {
      free(reply);
      return TARMAC_OK;
    }
    if (error) *error = (char *)reply; else free(reply);
    return TARMAC_ERROR;
  }
  const uint8_t *p = reply, *end = reply + reply_len, *field;
  uint64_t value;
  unsigned number;
  while (p && p < end) {
    p = tarmac_proto_field(p, end, &number, &field, &value);
    if (p && !field && number == 2 && last_insert_id)
      *last_insert_id = (int64_t)value;
    if (p && !field && number == 3 && rows_affected)
      *rows_affected = (int64_t)value;
  }
  free(reply);
  return p ? TARMAC_OK : TARMAC_ERROR;
}
