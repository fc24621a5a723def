/* HTTP requests to functions: built-ins, routing, contracts, answers. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "runtime/runtime.h"
#include "server/router.h"
#include "server/routes.h"
#include "util/clock.h"

/* Statuses the HTTP layer lets a handler set (http.h): 200 to 599. */
#define STATUS_FIRST 200
#define STATUS_COUNT 400

/* A router target: one function under one pattern (its metric label). */
typedef struct route {
  struct route *next; /* every route, for freeing */
  tarmac_function_t *fn; /* NULL: a built-in or no route at all */
  char *label;           /* the pattern, "default", a built-in's path */
  /* tarmac_http_request_duration_seconds{route,status}, looked up once
   * per status and kept: the request path then touches only this array
   * and the series' per-thread shard */
  _Atomic(tarmac_metric_series_t *) *by_status;
} route_t;

struct tarmac_routes {
  tarmac_routes_config_t config;
  tarmac_router_t *router;
  tarmac_metric_family_t *durations; /* NULL: metrics off */
  route_t *all;
  route_t *unrouted; /* 404 and 405 answers */
  route_t *health, *ready, *metrics_page;
};

static route_t *route_new(tarmac_routes_t *routes, tarmac_function_t *fn,
                          const char *label) {
  route_t *r = calloc(1, sizeof(*r));
  if (r == NULL) return NULL;
  r->fn = fn;
  r->label = strdup(label);
  if (routes->durations != NULL)
    r->by_status = calloc(STATUS_COUNT, sizeof(*r->by_status));
  if (r->label == NULL || (routes->durations != NULL && r->by_status == NULL)) {
    free(r->label);
    free(r);
    return NULL;
  }
  r->next = routes->all;
  routes->all = r;
  return r;
}

static int add_builtins(tarmac_routes_t *routes) {
  routes->unrouted = route_new(routes, NULL, "none");
  routes->health = route_new(routes, NULL, "/health");
  routes->ready = route_new(routes, NULL, "/ready");
  routes->metrics_page = route_new(routes, NULL, "/metrics");
  return routes->unrouted && routes->health && routes->ready &&
                 routes->metrics_page
             ? 0
             : -1;
}

tarmac_routes_t *tarmac_routes_new(const tarmac_routes_config_t *config,
                                   char *err, size_t err_size) {
  tarmac_routes_t *routes = calloc(1, sizeof(*routes));
  if (routes == NULL) goto oom;
  routes->config = *config;
  routes->router = tarmac_router_new();
  if (routes->router == NULL) goto oom;
  if (config->metrics != NULL) {
    static const char *const labels[] = {"route", "status"};
    routes->durations = tarmac_metrics_family(
        config->metrics, TARMAC_METRIC_HISTOGRAM,
        "tarmac_http_request_duration_seconds",
        "Time from a request's arrival at its handler to its answer, per "
        "route pattern and status",
        labels, 2, NULL, 0, err, err_size);
    if (routes->durations == NULL) {
      tarmac_routes_free(routes);
      return NULL;
    }
  }
  if (add_builtins(routes) != 0) goto oom;
  return routes;
oom:
  snprintf(err, err_size, "out of memory");
  tarmac_routes_free(routes);
  return NULL;
}

void tarmac_routes_free(tarmac_routes_t *routes) {
  if (routes == NULL) return;
  tarmac_router_free(routes->router);
  for (route_t *r = routes->all, *next; r != NULL; r = next) {
    next = r->next;
    free(r->by_status);
    free(r->label);
    free(r);
  }
  free(routes);
}

int tarmac_routes_add(tarmac_routes_t *routes, const char *method,
                      const char *pattern, tarmac_function_t *fn, char *err,
                      size_t err_size) {
  route_t *r = route_new(routes, fn, pattern);
  if (r == NULL) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  return tarmac_router_add(routes->router, method, pattern, r, err, err_size);
}

int tarmac_routes_set_default(tarmac_routes_t *routes, tarmac_function_t *fn) {
  route_t *r = route_new(routes, fn, "default");
  if (r == NULL) return -1;
  tarmac_router_set_default(routes->router, r);
  return 0;
}

/* Records the request's duration under its route and status. */
static void observe(const tarmac_routes_t *routes, route_t *r, int status,
                    uint64_t started_ns) {
  if (routes->durations == NULL || status < STATUS_FIRST ||
      status >= STATUS_FIRST + STATUS_COUNT)
    return;
  _Atomic(tarmac_metric_series_t *) *slot = &r->by_status[status - STATUS_FIRST];
  tarmac_metric_series_t *series = atomic_load_explicit(slot,
                                                        memory_order_acquire);
  if (series == NULL) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    const char *values[2] = {r->label, code};
    series = tarmac_metric_series(routes->durations, values);
    if (series == NULL) return;
    atomic_store_explicit(slot, series, memory_order_release);
  }
  tarmac_metric_observe(series, (double)(tarmac_clock_ns() - started_ns) / 1e9);
}

static bool path_is(const tarmac_http_request_t *req, const char *path,
                    size_t len) {
  return req->path_len == len && memcmp(req->path, path, len) == 0;
}

static void serve_metrics(const tarmac_routes_t *routes,
                          tarmac_http_response_t *res) {
  if (routes->config.metrics == NULL) {
    tarmac_http_response_set_text(res, 404, "metrics are off "
                                            "(APP_ENABLE_METRICS)\n");
    return;
  }
  tarmac_http_response_reset(res);
  res->status = 200;
  if (tarmac_metrics_render(routes->config.metrics, &res->body) != 0 ||
      tarmac_http_response_add_header(
          res, "content-type", 12, "text/plain; version=0.0.4; charset=utf-8",
          40) != 0)
    tarmac_http_response_set_text(res, 500, "out of memory\n");
}

/* The built-in endpoint for this path, answered; NULL when none. */
static route_t *serve_builtin(const tarmac_routes_t *routes,
                              const tarmac_http_request_t *req,
                              tarmac_http_response_t *res) {
  if (req->path_len < 6 || req->path_len > 8) return NULL;
  if (path_is(req, "/health", 7)) {
    tarmac_http_response_set_text(res, 200, "OK\n");
    return routes->health;
  }
  if (path_is(req, "/ready", 6)) {
    const tarmac_routes_config_t *c = &routes->config;
    const char *unready =
        c->backends_unready ? c->backends_unready(c->backends_data) : NULL;
    char text[96];
    if (c->maintenance_mode != NULL && atomic_load(c->maintenance_mode)) {
      tarmac_http_response_set_text(res, 503, "maintenance mode\n");
    } else if (unready != NULL) {
      snprintf(text, sizeof text, "%s\n", unready);
      tarmac_http_response_set_text(res, 503, text);
    } else {
      tarmac_http_response_set_text(res, 200, "ready\n");
    }
    return routes->ready;
  }
  if (path_is(req, "/metrics", 8)) {
    serve_metrics(routes, res);
    return routes->metrics_page;
  }
  return NULL;
}

/* 503 with Retry-After: busy, not broken. Logs `text` (one line). */
static void answer_busy(const char *fn_name, tarmac_http_response_t *res,
                        const char *text) {
  tarmac_log_fields(TARMAC_LOG_WARN, text, strlen(text), "function", fn_name,
                    (const char *)NULL);
  char body[1100];
  snprintf(body, sizeof body, "%s\n", text);
  if (tarmac_http_response_set_text(res, 503, body) == 0)
    tarmac_http_response_add_header(res, "retry-after", 11, "1", 1);
}

/* 404, or 405 with Allow. */
static void answer_unrouted(tarmac_route_status_t status,
                            const tarmac_http_request_t *req,
                            const char *allow, tarmac_http_response_t *res) {
  char text[600];
  int path_len = req->path_len > 256 ? 256 : (int)req->path_len;
  int method_len = req->method_len > 32 ? 32 : (int)req->method_len;
  if (status == TARMAC_ROUTE_NOT_FOUND) {
    snprintf(text, sizeof text, "no route for %.*s\n", path_len, req->path);
    tarmac_http_response_set_text(res, 404, text);
    return;
  }
  snprintf(text, sizeof text, "method %.*s not allowed for %.*s (allowed: %s)\n",
           method_len, req->method, path_len, req->path, allow);
  if (tarmac_http_response_set_text(res, 405, text) == 0)
    tarmac_http_response_add_header(res, "allow", 5, allow, strlen(allow));
}

/* The guest answered: the contract's response, or the failure's status
 * (500; 504 at the deadline) with its text. */
typedef struct {
  const tarmac_function_t *fn;
  tarmac_http_response_t *res;
} http_call_t;

static void fail(const tarmac_function_t *fn, tarmac_http_response_t *res,
                 int status, const char *text) {
  tarmac_log_fields(TARMAC_LOG_WARN, text, strlen(text), "function", fn->name,
                    (const char *)NULL);
  char body[1300];
  snprintf(body, sizeof body, "%s\n", text);
  tarmac_http_response_set_text(res, status, body);
}

static void answer_result(void *ctx, const tarmac_call_result_t *result) {
  http_call_t *call = ctx;
  char text[1200];
  if (result->status == TARMAC_CALL_OK) {
    char err[512];
    if (tarmac_contract_response(call->fn->contract, result->data, result->len,
                                 call->res, err, sizeof err) == 0)
      return;
    snprintf(text, sizeof text, "function error: %s", err);
    fail(call->fn, call->res, 500, text);
    return;
  }
  if (result->status == TARMAC_CALL_GUEST_ERROR &&
      tarmac_contract_guest_error(call->fn->contract,
                                  (const char *)result->data, result->len,
                                  call->res))
    return; /* the contract's own answer (v0.4: 500, the error text) */
  tarmac_function_describe_failure(call->fn, result, text, sizeof text);
  bool late = result->status == TARMAC_CALL_TRAP &&
              result->trap == TARMAC_TRAP_DEADLINE;
  fail(call->fn, call->res, late ? 504 : 500, text);
}

static void invoke(tarmac_function_t *fn, const tarmac_http_request_t *req,
                   const tarmac_route_match_t *match,
                   tarmac_http_response_t *res) {
  tarmac_contract_call_t call;
  tarmac_buffer_t scratch = TARMAC_BUFFER_INIT;
  char err[256];
  if (tarmac_contract_request(fn->contract, req, match, &scratch, &call, err,
                              sizeof err) != 0) {
    tarmac_buffer_free(&scratch);
    fail(fn, res, 500, err);
    return;
  }
  http_call_t ctx = {.fn = fn, .res = res};
  tarmac_error_t unavailable;
  if (tarmac_function_run(fn, call.operation, call.operation_len,
                          call.payload, call.payload_len, answer_result, &ctx,
                          &unavailable) != 0) {
    char text[1200];
    tarmac_function_describe_unavailable(fn, &unavailable, text, sizeof text);
    if (unavailable.kind == TARMAC_ERROR_POOL_EXHAUSTED ||
        unavailable.kind == TARMAC_ERROR_OVER_BUDGET)
      answer_busy(fn->name, res, text);
    else
      fail(fn, res, 500, text);
  }
  tarmac_buffer_free(&scratch);
}

/* Through the process-wide gate, then the function's own. */
static void admit_and_invoke(const tarmac_routes_t *routes,
                             tarmac_function_t *fn,
                             const tarmac_http_request_t *req,
                             const tarmac_route_match_t *match,
                             tarmac_http_response_t *res) {
  char text[300];
  if (!tarmac_admission_enter(routes->config.admission)) {
    snprintf(text, sizeof text,
             "function busy: all %u invocation slots in use "
             "(APP_WASM_MAX_CONCURRENCY); retry later",
             tarmac_admission_stats(routes->config.admission).limit);
    answer_busy(fn->name, res, text);
    return;
  }
  if (fn->admission != NULL && !tarmac_admission_enter(fn->admission)) {
    snprintf(text, sizeof text,
             "function %s busy: all %u of its invocation slots in use "
             "(max_concurrency); retry later",
             fn->name, tarmac_admission_stats(fn->admission).limit);
    answer_busy(fn->name, res, text);
  } else {
    invoke(fn, req, match, res);
    if (fn->admission != NULL) tarmac_admission_leave(fn->admission);
  }
  tarmac_admission_leave(routes->config.admission);
}

void tarmac_routes_handle(void *data, const tarmac_http_request_t *req,
                          tarmac_http_response_t *res) {
  tarmac_routes_t *routes = data;
  uint64_t started = routes->durations ? tarmac_clock_ns() : 0;
  route_t *r = serve_builtin(routes, req, res);
  if (r == NULL) {
    tarmac_route_match_t match;
    char allow[256];
    tarmac_route_status_t found =
        tarmac_router_match(routes->router, req->method, req->method_len,
                            req->path, req->path_len, &match, allow,
                            sizeof allow);
    if (found == TARMAC_ROUTE_FOUND) {
      r = match.target;
      admit_and_invoke(routes, r->fn, req, &match, res);
    } else {
      r = routes->unrouted;
      answer_unrouted(found, req, allow, res);
    }
  }
  observe(routes, r, res->status, started);
}
