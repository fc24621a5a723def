/* server/function: serves HTTP requests with one function, the seed's way:
 * built-in endpoints (/health, /ready), everything else invokes
 * `request:handler` with the JSON request envelope on a pooled instance and
 * turns the guest's response envelope into the HTTP response. Failures are
 * 500 with a short plain-text reason: the guest's error, the trap kind
 * (that instance is discarded), or why its response is not an envelope.
 * Over the concurrency limit (server/admission.h) a request is answered
 * 503 with Retry-After without running the guest. A guest stopped at its
 * deadline answers 504. The function counts its
 * invocations and how they ended (atomics: any thread). */
#ifndef TARMAC_SERVER_FUNCTION_H
#define TARMAC_SERVER_FUNCTION_H

#include <stdatomic.h>
#include <stdbool.h>

#include "http/http.h"
#include "server/admission.h"
#include "server/pool.h"

typedef struct {
  unsigned long invocations;       /* guest invocations started */
  unsigned long deadline_exceeded; /* stopped at the deadline (504) */
  unsigned long traps;             /* other traps, dead instances (500) */
} tarmac_function_stats_t;

typedef struct {
  tarmac_pool_t *pool;
  tarmac_admission_t *admission; /* bounds concurrent invocations */
  const char *name;      /* for logs */
  bool maintenance_mode; /* /ready answers 503 */
  unsigned timeout_ms;   /* the engine's deadline, named in 504 bodies */
  /* counters behind tarmac_function_stats(); zero-initialised */
  atomic_ulong invocations, deadline_exceeded, traps;
} tarmac_function_t;

/* A snapshot of the counters (each read atomically, not all at once). */
tarmac_function_stats_t tarmac_function_stats(const tarmac_function_t *fn);

/* A tarmac_http_handler_fn; data is a tarmac_function_t. Thread-safe. */
void tarmac_function_handle(void *data, const tarmac_http_request_t *req,
                            tarmac_http_response_t *res);

#endif
