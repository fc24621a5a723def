/* One invocation of a function, whatever triggered it. */
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "runtime/runtime.h"
#include "server/function.h"
#include "util/clock.h"

/* A short, fixed label per trap kind: metric labels must come from a
 * small set the server chooses, never from a guest's text. */
static const char *trap_label(int trap) {
  switch (trap) {
    case WASM_RT_TRAP_OOB: return "out_of_bounds";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer_overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "division_by_zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid_conversion";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable";
    case WASM_RT_TRAP_CALL_INDIRECT: return "call_indirect";
    case WASM_RT_TRAP_EXHAUSTION: return "stack_exhausted";
    case TARMAC_TRAP_EXIT: return "exit";
    case TARMAC_TRAP_ABORT: return "abort";
    case TARMAC_TRAP_RESOURCE: return "resource";
    case TARMAC_TRAP_HOST_FAULT: return "host_fault";
    case TARMAC_TRAP_MEMORY_BUDGET: return "memory_budget";
    case TARMAC_TRAP_DEADLINE: return "deadline";
    default: return "other";
  }
}

static void count_result(tarmac_function_t *fn,
                         const tarmac_call_result_t *result) {
  if (result->status != TARMAC_CALL_TRAP && result->status != TARMAC_CALL_DEAD)
    return;
  int trap = result->status == TARMAC_CALL_DEAD ? -1 : result->trap;
  if (trap == TARMAC_TRAP_DEADLINE)
    atomic_fetch_add(&fn->deadline_exceeded, 1);
  else
    atomic_fetch_add(&fn->traps, 1);
  if (fn->traps_family == NULL) return;
  const char *labels[2] = {fn->name, trap < 0 ? "dead" : trap_label(trap)};
  tarmac_metric_series_t *series =
      tarmac_metric_series(fn->traps_family, labels);
  if (series != NULL) tarmac_metric_add(series, 1);
}

/* The invocation running on this thread (nested calls stack up through
 * the saved values on their callers' frames). */
static _Thread_local tarmac_function_t *running;

tarmac_function_t *tarmac_function_running(void) { return running; }

int tarmac_function_run(tarmac_function_t *fn, const char *op, size_t op_len,
                        const uint8_t *payload, size_t payload_len,
                        tarmac_function_result_fn on_result, void *ctx,
                        tarmac_error_t *err) {
  tarmac_instance_t *instance = tarmac_pool_take(fn->pool, err);
  if (instance == NULL) {
    atomic_fetch_add(&fn->unavailable, 1);
    return -1;
  }
  atomic_fetch_add(&fn->invocations, 1);
  uint64_t started = fn->duration ? tarmac_clock_ns() : 0;
  tarmac_call_result_t result;
  tarmac_function_t *caller = running;
  running = fn;
  tarmac_instance_invoke(instance, op, op_len, payload, payload_len, &result);
  running = caller;
  if (fn->duration != NULL)
    tarmac_metric_observe(fn->duration,
                          (double)(tarmac_clock_ns() - started) / 1e9);
  count_result(fn, &result);
  on_result(ctx, &result);
  tarmac_pool_give(fn->pool, instance);
  return 0;
}

void tarmac_function_describe_failure(const tarmac_function_t *fn,
                                      const tarmac_call_result_t *result,
                                      char *out, size_t size) {
  int len = result->len > 1024 ? 1024 : (int)result->len;
  const char *text = (const char *)result->data;
  switch (result->status) {
    case TARMAC_CALL_OK:
      snprintf(out, size, "function %s succeeded", fn->name);
      return;
    case TARMAC_CALL_GUEST_ERROR:
      snprintf(out, size, "function error: %.*s", len, text);
      return;
    case TARMAC_CALL_TRAP:
      if (result->trap == TARMAC_TRAP_DEADLINE) {
        snprintf(out, size, "function timed out: deadline of %u ms exceeded",
                 fn->timeout_ms);
        return;
      }
      /* fall through */
    case TARMAC_CALL_DEAD:
      snprintf(out, size, "function trapped: %.*s", len, text);
      return;
  }
}

void tarmac_function_describe_unavailable(const tarmac_function_t *fn,
                                          const tarmac_error_t *err,
                                          char *out, size_t size) {
  switch (err->kind) {
    case TARMAC_ERROR_POOL_EXHAUSTED:
      snprintf(out, size, "function %s busy: %s; retry later", fn->name,
               err->message);
      return;
    case TARMAC_ERROR_OVER_BUDGET:
      snprintf(out, size,
               "function %s: guest memory budget exhausted "
               "(APP_WASM_MEMORY_TOTAL_LIMIT); retry later", fn->name);
      return;
    default:
      snprintf(out, size, "cannot instantiate function %s: %s", fn->name,
               err->message);
      return;
  }
}

tarmac_function_stats_t tarmac_function_stats(const tarmac_function_t *fn) {
  /* the counters only grow; reading them through a const object is safe */
  tarmac_function_t *counters = (tarmac_function_t *)fn;
  return (tarmac_function_stats_t){
      .invocations = atomic_load(&counters->invocations),
      .deadline_exceeded = atomic_load(&counters->deadline_exceeded),
      .traps = atomic_load(&counters->traps),
      .unavailable = atomic_load(&counters->unavailable)};
}
