/* One HTTP request through the function. */
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "runtime/runtime.h"
#include "server/envelope.h"
#include "server/function.h"

static const char handler_op[] = "request:handler";

static bool path_is(const tarmac_http_request_t *req, const char *path) {
  return req->path_len == strlen(path) &&
         memcmp(req->path, path, req->path_len) == 0;
}

static bool serve_builtin(const tarmac_function_t *fn,
                          const tarmac_http_request_t *req,
                          tarmac_http_response_t *res) {
  if (path_is(req, "/health")) {
    tarmac_http_response_set_text(res, 200, "OK\n");
    return true;
  }
  if (path_is(req, "/ready")) {
    if (fn->maintenance_mode)
      tarmac_http_response_set_text(res, 503, "maintenance mode\n");
    else
      tarmac_http_response_set_text(res, 200, "ready\n");
    return true;
  }
  return false;
}

/* 500 with "<what>: <detail>" (detail cut to a sensible length). */
static void fail(const tarmac_function_t *fn, tarmac_http_response_t *res,
                 const char *what, const char *detail, size_t detail_len) {
  char text[1200];
  if (detail_len > 1024) detail_len = 1024;
  snprintf(text, sizeof(text), "%s: %.*s\n", what, (int)detail_len, detail);
  tarmac_log_fields(TARMAC_LOG_WARN, text, strlen(text) - 1, "function",
                    fn->name, (const char *)NULL);
  tarmac_http_response_set_text(res, 500, text);
}

/* 504 naming the deadline: the guest was stopped, its instance dropped. */
static void timed_out(const tarmac_function_t *fn,
                      tarmac_http_response_t *res) {
  char text[128];
  snprintf(text, sizeof(text),
           "function timed out: deadline of %u ms exceeded\n", fn->timeout_ms);
  tarmac_log_fields(TARMAC_LOG_WARN, text, strlen(text) - 1, "function",
                    fn->name, (const char *)NULL);
  tarmac_http_response_set_text(res, 504, text);
}

static void answer_from_result(tarmac_function_t *fn,
                               const tarmac_call_result_t *result,
                               tarmac_http_response_t *res) {
  char err[256];
  const char *text = (const char *)result->data;
  switch (result->status) {
  case TARMAC_CALL_OK:
    if (tarmac_envelope_response(result->data, result->len, res, err,
                                 sizeof(err)) != 0)
      fail(fn, res, "function error", err, strlen(err));
    return;
  case TARMAC_CALL_GUEST_ERROR:
    fail(fn, res, "function error", text, result->len);
    return;
  case TARMAC_CALL_TRAP:
    if (result->trap == TARMAC_TRAP_DEADLINE) {
      atomic_fetch_add(&fn->deadline_exceeded, 1);
      timed_out(fn, res);
      return;
    }
    /* fall through */
  case TARMAC_CALL_DEAD:
    atomic_fetch_add(&fn->traps, 1);
    fail(fn, res, "function trapped", text, result->len);
    return;
  }
}

/* 503 with Retry-After: busy, not broken (slots and memory free up as
 * requests finish). Logs `text` (one line ending in a newline). */
static void answer_busy(const tarmac_function_t *fn,
                        tarmac_http_response_t *res, const char *text) {
  tarmac_log_fields(TARMAC_LOG_WARN, text, strlen(text) - 1, "function",
                    fn->name, (const char *)NULL);
  if (tarmac_http_response_set_text(res, 503, text) == 0)
    tarmac_http_response_add_header(res, "retry-after", 11, "1", 1);
}

/* 503 for a request the concurrency limit turned away. */
static void refuse_busy(const tarmac_function_t *fn,
                        tarmac_http_response_t *res) {
  tarmac_admission_stats_t st = tarmac_admission_stats(fn->admission);
  char text[200];
  snprintf(text, sizeof(text),
           "function busy: all %u invocation slots in use "
           "(APP_WASM_MAX_CONCURRENCY); retry later\n",
           st.limit);
  answer_busy(fn, res, text);
}

static void invoke_handler(tarmac_function_t *fn,
                           const tarmac_http_request_t *req,
                           tarmac_http_response_t *res) {
  tarmac_buffer_t envelope = TARMAC_BUFFER_INIT;
  if (tarmac_envelope_request(req, &envelope) != 0) {
    tarmac_http_response_set_text(res, 500, "out of memory\n");
    tarmac_buffer_free(&envelope);
    return;
  }
  tarmac_error_t err;
  tarmac_instance_t *instance = tarmac_pool_take(fn->pool, &err);
  if (instance == NULL && err.kind == TARMAC_ERROR_OVER_BUDGET) {
    tarmac_logf(TARMAC_LOG_DEBUG, "%s", err.message);
    answer_busy(fn, res, "guest memory budget exhausted "
                         "(APP_WASM_MEMORY_TOTAL_LIMIT); retry later\n");
    tarmac_buffer_free(&envelope);
    return;
  }
  if (instance == NULL) {
    fail(fn, res, "cannot instantiate the function", err.message,
         strlen(err.message));
    tarmac_buffer_free(&envelope);
    return;
  }
  tarmac_call_result_t result;
  atomic_fetch_add(&fn->invocations, 1);
  tarmac_instance_invoke(instance, handler_op, sizeof(handler_op) - 1,
                         envelope.data, envelope.len, &result);
  tarmac_buffer_free(&envelope);
  answer_from_result(fn, &result, res);
  tarmac_pool_give(fn->pool, instance);
}

void tarmac_function_handle(void *data, const tarmac_http_request_t *req,
                            tarmac_http_response_t *res) {
  tarmac_function_t *fn = data;
  if (serve_builtin(fn, req, res)) return;
  if (!tarmac_admission_enter(fn->admission)) {
    refuse_busy(fn, res);
    return;
  }
  invoke_handler(fn, req, res);
  tarmac_admission_leave(fn->admission);
}

tarmac_function_stats_t tarmac_function_stats(const tarmac_function_t *fn) {
  /* the counters only grow; reading them through a const object is safe */
  tarmac_function_t *counters = (tarmac_function_t *)fn;
  return (tarmac_function_stats_t){
      .invocations = atomic_load(&counters->invocations),
      .deadline_exceeded = atomic_load(&counters->deadline_exceeded),
      .traps = atomic_load(&counters->traps)};
}
