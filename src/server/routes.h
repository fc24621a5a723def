/* server/routes: the HTTP side of a service. Answers the built-in
 * endpoints (/health, /ready, /metrics), finds the function for a method
 * and path (server/router.h: 404, 405 with Allow, path parameters, the
 * default function), admits the request through the process-wide
 * concurrency gate (and the function's own, when it has one), turns the
 * request into the function's contract (server/contract.h), runs it, and
 * turns its result into the response: the contract's answer, 500 for a
 * guest error or trap, 504 at the deadline, 503 with Retry-After when busy.
 * Records every request's duration per route and status.
 *
 * Owns: the router and the per-route metric caches. Not owned: the
 * functions, the gate, the metrics registry (server/app builds them and
 * frees them after this). Read-only once built, shared by every HTTP
 * thread. */
#ifndef TARMAC_SERVER_ROUTES_H
#define TARMAC_SERVER_ROUTES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"
#include "metrics/metrics.h"
#include "server/admission.h"
#include "server/function.h"

typedef struct tarmac_routes tarmac_routes_t;

typedef struct {
  tarmac_admission_t *admission; /* the process-wide gate */
  tarmac_metrics_t *metrics;     /* NULL: no metrics, /metrics answers 404 */
  /* /ready answers 503 while it is true; NULL: never. Not owned: it
   * changes while the server runs (server/live_settings.h). */
  const atomic_bool *maintenance_mode;
  /* /ready answers 503 with this text while it is not NULL (a backend
   * is unreachable: "sql database unreachable"); NULL hook: always
   * ready. Called on an HTTP thread: must be cheap. */
  const char *(*backends_unready)(const void *data);
  const void *backends_data;
} tarmac_routes_config_t;

/* NULL with err set when out of memory or the metric family clashes. */
tarmac_routes_t *tarmac_routes_new(const tarmac_routes_config_t *config,
                                   char *err, size_t err_size);
void tarmac_routes_free(tarmac_routes_t *routes);

/* Routes `method` requests for `pattern` to fn. -1 with err set for a
 * duplicate or a bad pattern (the service file's checks should have
 * caught both). */
int tarmac_routes_add(tarmac_routes_t *routes, const char *method,
                      const char *pattern, tarmac_function_t *fn, char *err,
                      size_t err_size);
/* Requests no route matches go to fn (any method). 0 or -1 (memory). */
int tarmac_routes_set_default(tarmac_routes_t *routes, tarmac_function_t *fn);

/* A tarmac_http_handler_fn; data is a tarmac_routes_t. Thread-safe. */
void tarmac_routes_handle(void *data, const tarmac_http_request_t *req,
                          tarmac_http_response_t *res);

#endif
