/* Many threads, each with its own instances of one shared module, mixing
 * thousands of successful calls, guest errors and traps of every kind at
 * once. Every result must be right; a trapped instance must refuse further
 * calls and be replaced. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine_fixture.h"
#include "runtime/runtime.h"
#include "test.h"

#define THREADS 4
#define CALLS_PER_THREAD 3000

typedef struct {
  const char *op;
  tarmac_call_status_t status;
  int trap;
} expectation_t;

static const expectation_t k_cases[] = {
    {"respond", TARMAC_CALL_OK, 0},
    {"respond", TARMAC_CALL_OK, 0},
    {"respond", TARMAC_CALL_OK, 0},
    {"error_return_1", TARMAC_CALL_GUEST_ERROR, 0},
    {"oob_load", TARMAC_CALL_TRAP, WASM_RT_TRAP_OOB},
    {"respond", TARMAC_CALL_OK, 0},
    {"div_zero", TARMAC_CALL_TRAP, WASM_RT_TRAP_DIV_BY_ZERO},
    {"unreachable", TARMAC_CALL_TRAP, WASM_RT_TRAP_UNREACHABLE},
    {"null_indirect", TARMAC_CALL_TRAP, WASM_RT_TRAP_CALL_INDIRECT},
    {"bad_response_ptr", TARMAC_CALL_TRAP, WASM_RT_TRAP_OOB},
    {"respond", TARMAC_CALL_OK, 0},
    {"recursion", TARMAC_CALL_TRAP, WASM_RT_TRAP_EXHAUSTION},
    {"int_overflow", TARMAC_CALL_TRAP, WASM_RT_TRAP_INT_OVERFLOW},
};
#define CASES (sizeof k_cases / sizeof k_cases[0])

typedef struct {
  tarmac_module_t *module;
  int index;
  int wrong;
  int calls;
} worker_t;

static void *worker(void *arg) {
  worker_t *w = arg;
  tarmac_error_t err;
  tarmac_instance_t *inst = tarmac_instance_new(w->module, &err);
  char payload[64];
  for (int i = 0; i < CALLS_PER_THREAD && inst; i++) {
    const expectation_t *c = &k_cases[(size_t)(i + w->index) % CASES];
    int n = snprintf(payload, sizeof payload, "thread %d call %d", w->index, i);
    tarmac_call_result_t r;
    tarmac_call_status_t st = tarmac_instance_invoke(
        inst, c->op, strlen(c->op), (const uint8_t *)payload, (size_t)n, &r);
    w->calls++;
    bool right = st == c->status && r.status == st;
    if (st == TARMAC_CALL_OK)
      right = right && r.len == (size_t)n && memcmp(r.data, payload, (size_t)n) == 0;
    if (st == TARMAC_CALL_TRAP) right = right && r.trap == c->trap;
    if (!right) {
      w->wrong++;
      fprintf(stderr, "thread %d call %d %s: status %d trap %d: %.*s\n",
              w->index, i, c->op, st, r.trap, (int)r.len, (const char *)r.data);
    }
    if (st == TARMAC_CALL_TRAP) {
      /* dead: refuses, then is replaced */
      if (tarmac_instance_invoke(inst, "respond", 7, NULL, 0, &r) != TARMAC_CALL_DEAD ||
          tarmac_instance_alive(inst))
        w->wrong++;
      tarmac_instance_free(inst);
      inst = tarmac_instance_new(w->module, &err);
    }
  }
  if (!inst) w->wrong++;
  tarmac_instance_free(inst);
  return NULL;
}

int main(void) {
  engine_fixture_t f;
  fixture_open(&f, 0);
  tarmac_module_t *module = fixture_load(&f, "TARMAC_GUEST_DIR", "wapc_ops");
  pthread_t threads[THREADS];
  worker_t workers[THREADS];
  for (int i = 0; i < THREADS; i++) {
    workers[i] = (worker_t){.module = module, .index = i};
    CHECK_EQ_INT(pthread_create(&threads[i], NULL, worker, &workers[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    CHECK_EQ_INT(workers[i].wrong, 0);
    CHECK_EQ_INT(workers[i].calls, CALLS_PER_THREAD);
  }
  tarmac_module_release(module);
  CHECK_EQ_INT(tarmac_rt_live_memories(), 0);
  fixture_close(&f);
  TEST_EXIT();
}
