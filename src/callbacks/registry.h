/* callbacks/registry: routes a guest's host call (binding, namespace,
 * operation) to the host function that serves it. Filled at start-up, then
 * read-only and shared by every instance and thread without locks.
 *
 * A route names binding and namespace exactly; its operation is exact, or
 * NULL for "any operation in this namespace" (the callback receives the
 * operation, e.g. tarmac/logging/<Level>). Exact routes win over wildcards. */
#ifndef TARMAC_CALLBACKS_REGISTRY_H
#define TARMAC_CALLBACKS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"
#include "util/buffer.h"

typedef struct tarmac_instance tarmac_instance_t;

typedef struct {
  const char *binding;
  size_t binding_len;
  const char *namespace_;
  size_t namespace_len;
  const char *operation;
  size_t operation_len;
  const uint8_t *payload;
  size_t payload_len;
  tarmac_instance_t *caller; /* the instance making the call */
  const char *function_name; /* the caller's function (for logs/metrics) */
} tarmac_host_call_t;

/* Serves one host call. Write the reply into `response` and return 0, or
 * write a message into `error` and return -1 (the guest's __host_call then
 * returns 0). Both buffers arrive empty. `route_data` is what was given at
 * registration. Callbacks run on the guest's thread and must be
 * thread-safe. */
typedef int (*tarmac_callback_fn)(void *route_data, const tarmac_host_call_t *call,
                                  tarmac_buffer_t *response,
                                  tarmac_buffer_t *error);

typedef struct tarmac_callbacks tarmac_callbacks_t;

tarmac_callbacks_t *tarmac_callbacks_new(void);
void tarmac_callbacks_free(tarmac_callbacks_t *registry);

/* Adds a route (strings are copied). operation NULL = any operation.
 * Returns 0, or -1 when out of memory or the route already exists. */
int tarmac_callbacks_add(tarmac_callbacks_t *registry, const char *binding,
                         const char *namespace_, const char *operation,
                         tarmac_callback_fn fn, void *route_data);

/* Dispatches a call. When no route matches, writes
 * `no host callback for binding "b", namespace "n", operation "o"` into
 * `error` and returns -1. registry may be NULL (no routes). */
int tarmac_callbacks_dispatch(const tarmac_callbacks_t *registry,
                              const tarmac_host_call_t *call,
                              tarmac_buffer_t *response, tarmac_buffer_t *error);

/* Appends a name from a host call (any bytes) to an error message:
 * double-quoted, '"' and '\' escaped, bytes outside printable ASCII as
 * \xHH, and cut after 128 bytes with "..." after the closing quote.
 * 0 or -1 (out of memory). */
int tarmac_callbacks_append_quoted(tarmac_buffer_t *out, const char *name,
                                   size_t len);
/* The same quoting of a NUL-terminated text, as a string held in buf (the
 * caller frees buf); `fallback` when memory runs out. For messages. */
const char *tarmac_callbacks_quoted(const char *text, tarmac_buffer_t *buf,
                                    const char *fallback);

/* Times every dispatch in m's histogram
 * tarmac_callback_duration_seconds{callback="<namespace>/<operation>"}
 * (default buckets). The label is always a registered route's name
 * (a wildcard route's operation part is "*"), never a guest's text; calls
 * that match no route count as callback="unknown". Call at start-up,
 * before or after adding routes, before the registry is shared. 0, or -1
 * (out of memory, or the family exists with another type). */
int tarmac_callbacks_set_metrics(tarmac_callbacks_t *registry,
                                 tarmac_metrics_t *m);

/* Makes the registry own data: free_fn(data) runs in
 * tarmac_callbacks_free (for state that routes share). On failure (-1,
 * out of memory) free_fn(data) has already run. */
int tarmac_callbacks_own(tarmac_callbacks_t *registry, void *data,
                         void (*free_fn)(void *data));

/* Registers the logging routes: tarmac/logging/<Level> and
 * tarmac/logger/<level> (level case-insensitive: trace, debug, info, warn,
 * warning, error). Each logs the payload at that level tagged with the
 * calling function and replies empty. 0 or -1. */
int tarmac_callbacks_add_logging(tarmac_callbacks_t *registry);

#endif
