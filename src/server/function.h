/* server/function: one function of a service — its pool of instances, the
 * contract its HTTP requests speak, its own concurrency gate when it has
 * one, and its counters and metrics. Every trigger (an HTTP route, a
 * scheduled task, an init job, another function's host call) runs the
 * function through tarmac_function_run, so deadlines, pool bounds, trap
 * accounting and duration metrics are the same for all of them.
 *
 * A function belongs to one generation (server/generation.h): its
 * callees are looked up in that generation's call table, whatever
 * generation is current by then.
 *
 * Owns: nothing it was given (pool, admission, metric series belong to
 * server/app, which builds and frees functions); the counters are its own.
 * Thread-safe once built: any thread may run it. */
#ifndef TARMAC_SERVER_FUNCTION_H
#define TARMAC_SERVER_FUNCTION_H

#include <stdatomic.h>
#include <stdbool.h>

#include "engine/engine.h"
#include "metrics/metrics.h"
#include "server/admission.h"
#include "server/contract.h"
#include "server/pool.h"

typedef struct {
  unsigned long invocations;       /* guest invocations started */
  unsigned long deadline_exceeded; /* stopped at the deadline (504) */
  unsigned long traps;             /* other traps, dead instances (500) */
  unsigned long unavailable;       /* no instance: pool or memory budget */
} tarmac_function_stats_t;

typedef struct tarmac_function {
  const char *name;              /* the function's key; tags logs, metrics */
  tarmac_contract_t contract;    /* how its HTTP requests reach it */
  tarmac_pool_t *pool;
  tarmac_admission_t *admission; /* its own gate (max_concurrency) or NULL */
  unsigned timeout_ms;           /* its deadline, named in 504 bodies */
  unsigned pool_size;            /* named in 503 bodies */
  bool callable;                 /* has a `function` route */
  /* its generation's function-call table: the callees its host calls
   * reach (server/calls.h); NULL: none */
  const struct tarmac_calls *calls;
  tarmac_metric_family_t *traps_family; /* tarmac_traps_total; NULL: off */
  tarmac_metric_series_t *duration;     /* tarmac_function_duration_seconds */
  /* counters behind tarmac_function_stats(); zero-initialised */
  atomic_ulong invocations, deadline_exceeded, traps, unavailable;
} tarmac_function_t;

/* Called with the invocation's result while the instance is still held
 * (result->data belongs to the instance until this returns). */
typedef void (*tarmac_function_result_fn)(void *ctx,
                                          const tarmac_call_result_t *result);

/* Takes an instance (waiting as the pool allows), invokes `op` with the
 * payload under the function's deadline, hands the result to on_result,
 * and gives the instance back. 0 when the guest ran (whatever it
 * answered); -1 with err set when no instance could be had: err->kind
 * TARMAC_ERROR_POOL_EXHAUSTED or TARMAC_ERROR_OVER_BUDGET (busy, retry
 * later) or another reason (the function cannot start). */
int tarmac_function_run(tarmac_function_t *fn, const char *op, size_t op_len,
                        const uint8_t *payload, size_t payload_len,
                        tarmac_function_result_fn on_result, void *ctx,
                        tarmac_error_t *err);

/* The function whose guest this thread is running now (the innermost,
 * when calls are nested), or NULL. Host callbacks use it to act in the
 * caller's generation. */
tarmac_function_t *tarmac_function_running(void);

/* "call failed: <why>" text for a result that is not TARMAC_CALL_OK,
 * into out (NUL-terminated, cut to size): the guest's error, the trap, or
 * the deadline naming the function's timeout. */
void tarmac_function_describe_failure(const tarmac_function_t *fn,
                                      const tarmac_call_result_t *result,
                                      char *out, size_t size);

/* "all N instances of <fn> busy ..." / "guest memory budget exhausted"
 * text for a tarmac_function_run failure, into out. */
void tarmac_function_describe_unavailable(const tarmac_function_t *fn,
                                          const tarmac_error_t *err,
                                          char *out, size_t size);

/* A snapshot of the counters (each read atomically, not all at once). */
tarmac_function_stats_t tarmac_function_stats(const tarmac_function_t *fn);

#endif
