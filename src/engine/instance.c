/* Instances: creation under trap protection, start-up exports, waPC
 * invocation and its result rules, and teardown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "engine/instance_state.h"
#include "runtime/deadline.h"
#include "runtime/fiber.h"
#include "runtime/runtime.h"
#include "wasi/wasi.h"

/* Output buffers above this size are released after an invocation so an
 * idle pooled instance does not hold a large reply. */
#define RETAINED_BUFFER_BYTES (64u * 1024u)

typedef struct {
  tarmac_instance_t *instance;
  void (*entry)(void *guest);
} startup_call_t;

/* A waPC guest imports from at most the host's import modules (wapc, two
 * WASI versions, env), and every one of them receives the instance. */
#define MAX_IMPORT_MODULES 8

static void run_instantiate(void *arg) {
  tarmac_instance_t *inst = arg;
  const tarmac_module_descriptor_t *d = inst->module->descriptor;
  void *imports[MAX_IMPORT_MODULES];
  for (uint32_t i = 0; i < d->import_module_count; i++) imports[i] = inst;
  d->instantiate(inst->guest, imports);
}

static void run_startup_export(void *arg) {
  startup_call_t *call = arg;
  call->entry(call->instance->guest);
}

/* Formats "<trap name>[: detail]" for the trap that just happened. */
static void describe_trap(int trap, char *out, size_t size) {
  const char *detail = tarmac_rt_trap_detail();
  snprintf(out, size, "%s%s%s", tarmac_rt_trap_name(trap), *detail ? ": " : "",
           detail);
}

/* Runs one protected step of start-up; proc_exit(0) counts as a return. */
int tarmac_instance_run_limited(tarmac_instance_t *inst, tarmac_rt_body_fn body,
                                void *arg) {
  uint64_t previous = tarmac_rt_set_memory_limit(inst->memory_limit);
  int trap = tarmac_rt_run_protected(body, arg);
  tarmac_rt_set_memory_limit(previous);
  return trap;
}

static int run_startup_step(tarmac_instance_t *inst, tarmac_rt_body_fn body,
                            void *arg, const char *what, tarmac_error_t *err) {
  int trap = tarmac_instance_run_limited(inst, body, arg);
  if (trap == WASM_RT_TRAP_NONE) return 0;
  if (trap == TARMAC_TRAP_MEMORY_BUDGET) err->kind = TARMAC_ERROR_OVER_BUDGET;
  if (trap == TARMAC_TRAP_EXIT && tarmac_rt_exit_code() == 0) return 0;
  char reason[512];
  describe_trap(trap, reason, sizeof reason);
  snprintf(err->message, sizeof err->message, "%s of %s trapped: %s", what,
           inst->name, reason);
  err->trap = trap;
  return -1;
}

static int run_startup_steps(tarmac_instance_t *inst, tarmac_error_t *err) {
  const tarmac_module_descriptor_t *d = inst->module->descriptor;
  if (run_startup_step(inst, run_instantiate, inst, "instantiation", err) != 0)
    return -1;
  struct {
    void (*entry)(void *);
    const char *name;
  } steps[] = {{d->start, "_start"},
               {d->initialize, "_initialize"},
               {d->wapc_init, "wapc_init"}};
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    if (!steps[i].entry) continue;
    startup_call_t call = {inst, steps[i].entry};
    if (run_startup_step(inst, run_startup_export, &call, steps[i].name, err) != 0)
      return -1;
  }
  return 0;
}

/* The whole start-up runs under one deadline. */
static int run_startup(tarmac_instance_t *inst, tarmac_error_t *err) {
  uint64_t saved = tarmac_rt_deadline_arm(inst->timeout_ns);
  int rc = run_startup_steps(inst, err);
  tarmac_rt_deadline_restore(saved);
  return rc;
}

tarmac_instance_t *tarmac_instance_alloc(tarmac_module_t *module,
                                         tarmac_error_t *err) {
  err->kind = TARMAC_ERROR_OTHER;
  err->trap = WASM_RT_TRAP_NONE;
  if (!module->descriptor->guest_call ||
      module->descriptor->import_module_count > MAX_IMPORT_MODULES) {
    snprintf(err->message, sizeof err->message,
             "%s was loaded without the waPC checks", module->name);
    return NULL;
  }
  tarmac_instance_t *inst = calloc(1, sizeof *inst);
  if (!inst) goto oom;
  inst->guest = calloc(1, module->descriptor->instance_size);
  if (!inst->guest) {
    free(inst);
    goto oom;
  }
  tarmac_module_retain(module);
  inst->self = inst;
  inst->module = module;
  inst->name = module->name;
  inst->callbacks = module->engine->callbacks;
  inst->wasi_args = (const char *const *)module->engine->wasi_args;
  inst->wasi_environ = (const char *const *)module->engine->wasi_environ;
  inst->memory = module->descriptor->memory(inst->guest);
  inst->phase = TARMAC_PHASE_STARTING;
  tarmac_instance_set_limits(inst, NULL);
  return inst;
oom:
  snprintf(err->message, sizeof err->message,
           "out of memory creating an instance of %s", module->name);
  return NULL;
}

void tarmac_instance_set_limits(tarmac_instance_t *inst,
                                const tarmac_limits_t *limits) {
  const tarmac_engine_t *engine = inst->module->engine;
  inst->timeout_ns = limits && limits->timeout_ms
                         ? (uint64_t)limits->timeout_ms * 1000000u
                         : engine->timeout_ns;
  inst->memory_limit = limits && limits->memory_limit ? limits->memory_limit
                                                      : engine->memory_limit;
}

tarmac_instance_t *tarmac_instance_new(tarmac_module_t *module,
                                       tarmac_error_t *err) {
  return tarmac_instance_new_limited(module, NULL, err);
}

tarmac_instance_t *tarmac_instance_new_limited(tarmac_module_t *module,
                                               const tarmac_limits_t *limits,
                                               tarmac_error_t *err) {
  tarmac_instance_t *inst = tarmac_instance_alloc(module, err);
  if (!inst) return NULL;
  tarmac_instance_set_limits(inst, limits);
  if (run_startup(inst, err) != 0) {
    inst->phase = TARMAC_PHASE_DEAD;
    tarmac_instance_free(inst);
    return NULL;
  }
  tarmac_wasi_flush(inst);
  inst->phase = TARMAC_PHASE_IDLE;
  return inst;
}

void tarmac_instance_free(tarmac_instance_t *inst) {
  if (!inst) return;
  tarmac_wasi_flush(inst);
  inst->module->descriptor->free_instance(inst->guest);
  free(inst->guest);
  tarmac_buffer_free(&inst->response);
  tarmac_buffer_free(&inst->error);
  tarmac_buffer_free(&inst->host_response);
  tarmac_buffer_free(&inst->host_error);
  tarmac_buffer_free(&inst->trap_message);
  /* the WASI line buffers were released by tarmac_wasi_flush above */
  tarmac_snapshot_release(inst->snapshot);
  free(inst->restore_states);
  tarmac_module_release(inst->module);
  free(inst);
}

typedef struct {
  tarmac_instance_t *instance;
  uint32_t op_len, payload_len;
  uint32_t result;
} guest_call_t;

static void run_guest_call(void *arg) {
  guest_call_t *call = arg;
  tarmac_instance_t *inst = call->instance;
  call->result = inst->module->descriptor->guest_call(
      inst->guest, call->op_len, call->payload_len);
}

static tarmac_call_status_t finish(tarmac_call_result_t *result,
                                   tarmac_call_status_t status,
                                   const tarmac_buffer_t *data, int trap) {
  result->status = status;
  result->trap = trap;
  result->data = data->data ? data->data : (const uint8_t *)"";
  result->len = data->len;
  return status;
}

/* Applies waPC's result rules after a call that did not trap. */
static tarmac_call_status_t guest_outcome(tarmac_instance_t *inst,
                                          uint32_t returned,
                                          tarmac_call_result_t *result) {
  if (inst->error_set)
    return finish(result, TARMAC_CALL_GUEST_ERROR, &inst->error, 0);
  if (returned == 1)
    return finish(result, TARMAC_CALL_OK, &inst->response, 0);
  tarmac_buffer_clear(&inst->error);
  if (tarmac_buffer_append_str(&inst->error, "call to ") != 0 ||
      tarmac_callbacks_append_quoted(&inst->error, inst->op, inst->op_len) != 0 ||
      tarmac_buffer_append_str(&inst->error, " was unsuccessful") != 0)
    tarmac_buffer_set(&inst->error, "call was unsuccessful", 21);
  return finish(result, TARMAC_CALL_GUEST_ERROR, &inst->error, 0);
}

static void reset_invocation(tarmac_instance_t *inst) {
  tarmac_buffer_trim(&inst->response, RETAINED_BUFFER_BYTES);
  tarmac_buffer_trim(&inst->error, RETAINED_BUFFER_BYTES);
  tarmac_buffer_trim(&inst->host_response, RETAINED_BUFFER_BYTES);
  tarmac_buffer_trim(&inst->host_error, RETAINED_BUFFER_BYTES);
  inst->error_set = false;
}

/* Calls in progress on this thread (tarmac_instance_depth), and the
 * innermost one: the chain goes on through each instance's `caller`. */
static _Thread_local unsigned tls_depth;
static _Thread_local tarmac_instance_t *tls_innermost;

unsigned tarmac_instance_depth(void) { return tls_depth; }

/* A guest waiting on a fiber leaves its chain of calls with the fiber
 * (runtime/fiber.h): the thread goes on with another. */
typedef struct {
  unsigned depth;
  tarmac_instance_t *innermost;
} fiber_calls_t;

static void swap_fiber_calls(void *saved) {
  fiber_calls_t *s = saved, mine = {tls_depth, tls_innermost};
  tls_depth = s->depth;
  tls_innermost = s->innermost;
  *s = mine;
}

__attribute__((constructor)) static void register_fiber_calls(void) {
  if (tarmac_fiber_local_register(swap_fiber_calls, sizeof(fiber_calls_t)))
    abort(); /* the table is sized for every module's locals */
}

void tarmac_instance_set_owner(tarmac_instance_t *inst, const void *owner) {
  inst->owner = owner;
}

unsigned tarmac_instance_chain_count(const void *owner) {
  unsigned count = 0;
  for (const tarmac_instance_t *i = tls_innermost; i; i = i->caller)
    count += i->owner == owner;
  return count;
}

/* Refuses, as a trap of B's (B's call ends, the caller's goes on), a
 * nested call entered with too little native stack left for its guest. */
static void run_guest_call_checked(void *arg) {
  if (tarmac_rt_stack_left() < TARMAC_ENGINE_NESTED_STACK_RESERVE)
    tarmac_rt_trap_detail_set(WASM_RT_TRAP_EXHAUSTION,
                              "too little stack left for a nested call");
  run_guest_call(arg);
}

/* Runs the guest under the instance's deadline (the caller's when
 * nested and earlier: tarmac_rt_deadline_arm keeps the earlier one). */
static int run_invocation(tarmac_instance_t *inst, guest_call_t *call) {
  /* restore counts page faults on its own thread only (snapshot.c) */
  if (inst->snapshot && tarmac_rt_thread_id() != inst->restore_thread)
    inst->faulted = true;
  uint64_t saved = tarmac_rt_deadline_arm(inst->timeout_ns);
  inst->caller = tls_innermost;
  tls_innermost = inst;
  tls_depth++;
  int trap = tarmac_rt_run_protected(
      tls_depth > 1 ? run_guest_call_checked : run_guest_call, call);
  tls_depth--;
  tls_innermost = inst->caller;
  inst->caller = NULL;
  tarmac_rt_deadline_restore(saved);
  return trap;
}

static tarmac_call_status_t refuse(tarmac_instance_t *inst,
                                   tarmac_call_result_t *result) {
  static const tarmac_buffer_t dead_message = {
      (uint8_t *)"instance is dead after an earlier trap", 38, 38};
  static const tarmac_buffer_t busy_message = {
      (uint8_t *)"instance is already inside a call", 33, 33};
  return finish(result, TARMAC_CALL_DEAD,
                inst->phase == TARMAC_PHASE_DEAD ? &dead_message
                                                 : &busy_message,
                0);
}

tarmac_call_status_t tarmac_instance_invoke(tarmac_instance_t *inst,
                                            const char *op, size_t op_len,
                                            const uint8_t *payload,
                                            size_t payload_len,
                                            tarmac_call_result_t *result) {
  if (inst->phase != TARMAC_PHASE_IDLE) return refuse(inst, result);
  reset_invocation(inst);
  tarmac_buffer_clear(&inst->trap_message);
  if (op_len > UINT32_MAX || payload_len > UINT32_MAX) {
    tarmac_buffer_set(&inst->error, "payload larger than 4 GiB", 25);
    return finish(result, TARMAC_CALL_GUEST_ERROR, &inst->error, 0);
  }
  inst->op = op;
  inst->op_len = op_len;
  inst->payload = payload;
  inst->payload_len = payload_len;
  inst->phase = TARMAC_PHASE_INVOKING;
  guest_call_t call = {inst, (uint32_t)op_len, (uint32_t)payload_len, 0};
  int trap = run_invocation(inst, &call);
  tarmac_wasi_flush(inst);
  inst->payload = NULL;
  inst->payload_len = 0;
  if (trap != WASM_RT_TRAP_NONE) {
    inst->phase = TARMAC_PHASE_DEAD;
    char reason[512];
    describe_trap(trap, reason, sizeof reason);
    if (tarmac_buffer_set(&inst->trap_message, reason, strlen(reason)) != 0)
      tarmac_buffer_clear(&inst->trap_message);
    return finish(result, TARMAC_CALL_TRAP, &inst->trap_message, trap);
  }
  inst->phase = TARMAC_PHASE_IDLE;
  tarmac_call_status_t status = guest_outcome(inst, call.result, result);
  inst->op = NULL; /* after guest_outcome: its message names the op */
  inst->op_len = 0;
  return status;
}

bool tarmac_instance_alive(const tarmac_instance_t *inst) {
  return inst->phase != TARMAC_PHASE_DEAD;
}

tarmac_module_t *tarmac_instance_module(const tarmac_instance_t *inst) {
  return inst->module;
}

void tarmac_instance_set_user_data(tarmac_instance_t *inst, void *data) {
  inst->user_data = data;
}

void *tarmac_instance_user_data(const tarmac_instance_t *inst) {
  return inst->user_data;
}
