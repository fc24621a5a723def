/* bench_engine: what one waPC round trip and one instance cost.
 *
 *   invoke      tarmac_instance_invoke("echo", 16 bytes) through the whole
 *               host path (protection, __guest_request, __guest_response,
 *               result rules)
 *   baseline    the guest's __guest_call entry called directly in a loop
 *               inside one protected frame, with the same imports: the cost
 *               of the guest code and imports alone
 *   instance    tarmac_instance_new + tarmac_instance_free (memory
 *               reservation, instantiation, start-up exports, teardown)
 *   snapshot    tarmac_instance_from_snapshot + tarmac_instance_free (what
 *               a fresh instance costs instead)
 *   restore     tarmac_instance_restore after one invocation (fresh
 *               instances' per-request cost), timed alone, with the pages
 *               one invocation dirtied (Private_Dirty of the memory)
 *   stop        with --stop-latency: a guest operation that never returns
 *               run under a 20 ms deadline, 50 times; the time from the
 *               deadline to the trap being caught (min, median, p90, max)
 *
 * Usage: bench_engine MODULE.wasm [iterations [operation [payload]]]
 * (default: the echo example's "echo" with 16 bytes), or
 *        bench_engine --stop-latency MODULE.wasm operation [payload]. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "callbacks/registry.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/instance_state.h"
#include "runtime/deadline.h"
#include "runtime/runtime.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct {
  tarmac_instance_t *inst;
  long iterations;
} raw_loop_t;

static void raw_guest_calls(void *arg) {
  raw_loop_t *loop = arg;
  tarmac_instance_t *inst = loop->inst;
  for (long i = 0; i < loop->iterations; i++) {
    inst->response.len = 0;
    inst->module->descriptor->guest_call(inst->guest, (uint32_t)inst->op_len,
                                         (uint32_t)inst->payload_len);
  }
}

/* KiB of the mapping at `start` that this process wrote (its private
 * copies of the memory image), from /proc/self/smaps; -1 if not found. */
static long private_dirty_kib(const void *start) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  bool in_mapping = false;
  long kib = -1;
  while (f && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line */
      in_mapping = lo == (unsigned long)(uintptr_t)start;
    else if (in_mapping && sscanf(line, "Private_Dirty: %ld kB", &kib) == 1)
      break;
  }
  if (f) fclose(f);
  return kib;
}

typedef struct {
  const char *op;
  size_t op_len;
  const uint8_t *payload;
  size_t payload_len;
} request_t;

/* Fresh instances: creation from a snapshot, and restore after a request. */
static int bench_fresh(tarmac_module_t *module, const request_t *req,
                       long iterations) {
  tarmac_error_t err;
  tarmac_snapshot_t *snap = tarmac_snapshot_new(module, &err);
  tarmac_instance_t *inst = snap ? tarmac_instance_from_snapshot(snap, &err)
                                 : NULL;
  if (!inst) {
    fprintf(stderr, "bench_engine: %s\n", err.message);
    tarmac_snapshot_release(snap);
    return 2;
  }
  long instances = iterations / 20 > 1000 ? iterations / 20 : 1000;
  double t0 = now_ns();
  for (long i = 0; i < instances; i++)
    tarmac_instance_free(tarmac_instance_from_snapshot(snap, &err));
  double create_ns = (now_ns() - t0) / (double)instances;
  tarmac_call_result_t r;
  tarmac_instance_invoke(inst, req->op, req->op_len, req->payload,
                         req->payload_len, &r);
  long dirty_kib = private_dirty_kib(inst->memory->data);
  double restore_total = 0, t_all = now_ns();
  bool ok = r.status == TARMAC_CALL_OK;
  for (long i = 0; i < instances && ok; i++) {
    t0 = now_ns();
    ok = tarmac_instance_restore(inst);
    restore_total += now_ns() - t0;
    tarmac_instance_invoke(inst, req->op, req->op_len, req->payload,
                           req->payload_len, &r);
    ok = ok && r.status == TARMAC_CALL_OK;
  }
  double cycle_ns = (now_ns() - t_all) / (double)instances;
  printf("  instance from snapshot + destroy : %8.1f ns/op\n", create_ns);
  printf("  restore after one invocation     : %8.1f ns/op (%ld KiB dirtied "
         "per invocation)\n", restore_total / (double)instances, dirty_kib);
  printf("  invoke + restore                 : %8.1f ns/op\n", cycle_ns);
  tarmac_instance_free(inst);
  tarmac_snapshot_release(snap);
  return ok ? 0 : 1;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#define STOP_ROUNDS 50

/* One runaway call under a 20 ms deadline on a fresh instance: ns from
 * the deadline to the trap caught, or -1 when it did not end that way. */
static double stop_once(tarmac_module_t *module, const char *op,
                        const uint8_t *payload, size_t payload_len) {
  tarmac_error_t err;
  tarmac_instance_t *inst = tarmac_instance_new(module, &err);
  if (!inst) return -1;
  inst->op = op;
  inst->op_len = strlen(op);
  inst->payload = payload;
  inst->payload_len = payload_len;
  inst->phase = TARMAC_PHASE_INVOKING;
  raw_loop_t loop = {inst, 1};
  uint64_t saved = tarmac_rt_deadline_arm(20 * 1000000u);
  double deadline = (double)tarmac_rt_deadline();
  int trap = tarmac_rt_run_protected(raw_guest_calls, &loop);
  double caught = now_ns();
  tarmac_rt_deadline_restore(saved);
  inst->phase = TARMAC_PHASE_DEAD;
  tarmac_instance_free(inst);
  return trap == TARMAC_TRAP_DEADLINE ? caught - deadline : -1;
}

static int stop_latency(tarmac_module_t *module, const char *op,
                        const char *payload) {
  double ns[STOP_ROUNDS];
  for (int i = 0; i < STOP_ROUNDS; i++) {
    ns[i] = stop_once(module, op, (const uint8_t *)payload, strlen(payload));
    if (ns[i] < 0) {
      fprintf(stderr, "bench_engine: %s was not stopped by its deadline\n",
              op);
      return 2;
    }
  }
  qsort(ns, STOP_ROUNDS, sizeof ns[0], by_value);
  printf("stop latency (%s, deadline to trap caught, %d runs): min %.1f us, "
         "median %.1f us, p90 %.1f us, max %.1f us\n",
         op, STOP_ROUNDS, ns[0] / 1e3, ns[STOP_ROUNDS / 2] / 1e3,
         ns[STOP_ROUNDS * 9 / 10] / 1e3, ns[STOP_ROUNDS - 1] / 1e3);
  return 0;
}

int main(int argc, char **argv) {
  bool stop_mode = argc > 1 && strcmp(argv[1], "--stop-latency") == 0;
  if (stop_mode) {
    argv++;
    argc--;
  }
  if (argc < 2 || (stop_mode && argc < 3)) {
    fprintf(stderr, "usage: bench_engine MODULE.wasm [iterations "
                    "[operation [payload]]]\n"
                    "       bench_engine --stop-latency MODULE.wasm "
                    "operation [payload]\n");
    return 64;
  }
  long iterations = argc > 2 ? atol(argv[2]) : 1000000;
  tarmac_error_t err;
  tarmac_callbacks_t *callbacks = tarmac_callbacks_new();
  if (!callbacks || tarmac_callbacks_add_logging(callbacks) != 0) return 1;
  tarmac_engine_config_t config = {.callbacks = callbacks};
  tarmac_engine_t *engine = tarmac_engine_new(&config, &err);
  tarmac_module_t *module = NULL;
  if (!engine ||
      tarmac_module_load(engine, argv[1], NULL, &module, &err) != TARMAC_LOAD_OK) {
    fprintf(stderr, "bench_engine: %s\n", err.message);
    return 3;
  }
  if (stop_mode) {
    int rc = stop_latency(module, argv[2], argc > 3 ? argv[3] : "");
    tarmac_module_release(module);
    tarmac_engine_free(engine);
    tarmac_callbacks_free(callbacks);
    return rc;
  }
  const char *op = argc > 3 ? argv[3] : "echo";
  size_t op_len = strlen(op);
  const uint8_t *payload =
      (const uint8_t *)(argc > 4 ? argv[4] : "0123456789abcdef");
  size_t payload_len = strlen((const char *)payload);
  tarmac_instance_t *inst = tarmac_instance_new(module, &err);
  if (!inst) {
    fprintf(stderr, "bench_engine: %s\n", err.message);
    return 2;
  }
  tarmac_call_result_t r;
  for (int i = 0; i < 1000; i++)
    tarmac_instance_invoke(inst, op, op_len, payload, payload_len, &r);
  if (r.status != TARMAC_CALL_OK) {
    fprintf(stderr, "bench_engine: %s failed: %.*s\n", op, (int)r.len,
            (const char *)r.data);
    return 1;
  }

  double t0 = now_ns();
  for (long i = 0; i < iterations; i++)
    tarmac_instance_invoke(inst, op, op_len, payload, payload_len, &r);
  double invoke_ns = (now_ns() - t0) / (double)iterations;

  inst->op = op;
  inst->op_len = op_len;
  inst->payload = payload;
  inst->payload_len = payload_len;
  inst->phase = TARMAC_PHASE_INVOKING;
  raw_loop_t loop = {inst, iterations};
  t0 = now_ns();
  int trap = tarmac_rt_run_protected(raw_guest_calls, &loop);
  double raw_ns = (now_ns() - t0) / (double)iterations;
  inst->phase = TARMAC_PHASE_IDLE;
  if (trap != WASM_RT_TRAP_NONE) return 2;
  tarmac_instance_free(inst);

  long instances = iterations / 20 > 1000 ? iterations / 20 : 1000;
  t0 = now_ns();
  for (long i = 0; i < instances; i++) tarmac_instance_free(tarmac_instance_new(module, &err));
  double instance_ns = (now_ns() - t0) / (double)instances;

  printf("engine benchmark (%s, %ld iterations)\n", argv[1], iterations);
  printf("  invoke %s, %zu B, full host path : %8.1f ns/op\n", op, payload_len,
         invoke_ns);
  printf("  baseline: raw __guest_call loop  : %8.1f ns/op\n", raw_ns);
  printf("  host path overhead ratio         : %8.2fx baseline\n", invoke_ns / raw_ns);
  printf("  instantiate + destroy            : %8.1f ns/op (%ld runs)\n",
         instance_ns, instances);
  request_t req = {op, op_len, payload, payload_len};
  int rc = bench_fresh(module, &req, iterations);
  tarmac_module_release(module);
  tarmac_engine_free(engine);
  tarmac_callbacks_free(callbacks);
  return rc;
}
