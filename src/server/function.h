/* server/function: serves HTTP requests with one function, the seed's way:
 * built-in endpoints (/health, /ready), everything else invokes
 * `request:handler` with the JSON request envelope on a pooled instance and
 * turns the guest's response envelope into the HTTP response. Failures are
 * 500 with a short plain-text reason: the guest's error, the trap kind
 * (that instance is discarded), or why its response is not an envelope.
 * Over the concurrency limit (server/admission.h) a request is answered
 * 503 with Retry-After without running the guest. */
#ifndef TARMAC_SERVER_FUNCTION_H
#define TARMAC_SERVER_FUNCTION_H

#include <stdbool.h>

#include "http/http.h"
#include "server/admission.h"
#include "server/pool.h"

typedef struct {
  tarmac_pool_t *pool;
  tarmac_admission_t *admission; /* bounds concurrent invocations */
  const char *name;      /* for logs */
  bool maintenance_mode; /* /ready answers 503 */
} tarmac_function_t;

/* A tarmac_http_handler_fn; data is a tarmac_function_t. Thread-safe. */
void tarmac_function_handle(void *data, const tarmac_http_request_t *req,
                            tarmac_http_response_t *res);

#endif
