/* The instance pool with a real guest: instances are reused, a trapped
 * instance is discarded and replaced in the background, and many threads
 * can share the pool. In fresh mode an instance given back is restored (a
 * guest's global does not survive) and a trapped one is replaced before
 * tarmac_pool_give returns. The pool is bounded: instances are made on
 * demand beyond the warm set, never more than `size` exist, and a take
 * that finds all busy waits for one given back, then fails with
 * TARMAC_ERROR_POOL_EXHAUSTED after wait_ms or the caller's deadline, or
 * at once when the caller's own chain of nested calls holds them all. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/deadline.h"
#include "server/pool.h"
#include "test.h"
#include "util/clock.h"

#define WAIT TARMAC_POOL_DEFAULT_WAIT_MS

static tarmac_pool_t *pool_of(tarmac_module_t *module, unsigned size,
                              unsigned warm, bool fresh, unsigned wait_ms) {
  tarmac_pool_config_t config = {.size = size, .warm = warm, .fresh = fresh,
                                 .wait_ms = wait_ms, .name = "hello"};
  tarmac_error_t err;
  tarmac_pool_t *pool = tarmac_pool_new(module, &config, &err);
  if (pool == NULL) fprintf(stderr, "pool: %s\n", err.message);
  return pool;
}

static const char op[] = "request:handler";

static tarmac_call_status_t invoke(tarmac_instance_t *inst, const char *env,
                                   tarmac_call_result_t *res) {
  return tarmac_instance_invoke(inst, op, sizeof(op) - 1,
                                (const uint8_t *)env, strlen(env), res);
}

typedef struct {
  tarmac_pool_t *pool;
  int failures;
} worker_t;

static void *worker(void *arg) {
  worker_t *w = arg;
  tarmac_error_t err;
  for (int i = 0; i < 300; i++) {
    tarmac_instance_t *inst = tarmac_pool_take(w->pool, &err);
    if (inst == NULL) {
      w->failures++;
      continue;
    }
    tarmac_call_result_t res;
    bool trap = i % 5 == 0;
    tarmac_call_status_t st =
        invoke(inst, trap ? "{\"HTTP_PATH\":\"/trap/div\"}" : "{\"x\":1}", &res);
    if (st != (trap ? TARMAC_CALL_TRAP : TARMAC_CALL_OK)) w->failures++;
    tarmac_pool_give(w->pool, inst);
  }
  return NULL;
}

static void run_workers(tarmac_pool_t *pool) {
  worker_t workers[4] = {{pool, 0}, {pool, 0}, {pool, 0}, {pool, 0}};
  pthread_t tids[4];
  for (int i = 0; i < 4; i++) pthread_create(&tids[i], NULL, worker, &workers[i]);
  for (int i = 0; i < 4; i++) {
    pthread_join(tids[i], NULL);
    CHECK_EQ_INT(workers[i].failures, 0);
  }
}

static void test_fresh(tarmac_module_t *module) {
  static const char store[] =
      "{\"HTTP_PATH\":\"/previous\",\"payload\":\"c2VjcmV0\"}";
  tarmac_error_t err;
  tarmac_pool_t *pool = pool_of(module, 3, 3, true, WAIT);
  CHECK(pool != NULL);
  if (pool == NULL) return;
  CHECK_EQ_INT(tarmac_pool_stats(pool).created, 3);
  for (int i = 0; i < 2; i++) { /* the same instance twice (a stack) */
    tarmac_instance_t *a = tarmac_pool_take(pool, &err);
    tarmac_call_result_t res;
    CHECK_EQ_INT(invoke(a, store, &res), TARMAC_CALL_OK);
    CHECK_BYTES(res.data, res.len, "{\"payload\":\"\"}");
    tarmac_pool_give(pool, a);
  }
  CHECK_EQ_INT(tarmac_pool_stats(pool).restored, 2);
  CHECK_EQ_INT(tarmac_pool_stats(pool).created, 3);
  tarmac_instance_t *a = tarmac_pool_take(pool, &err);
  tarmac_call_result_t res;
  CHECK_EQ_INT(invoke(a, "{\"HTTP_PATH\":\"/trap/oob\"}", &res),
               TARMAC_CALL_TRAP);
  tarmac_pool_give(pool, a);
  tarmac_pool_stats_t stats = tarmac_pool_stats(pool);
  CHECK_EQ_INT(stats.discarded, 1);
  CHECK_EQ_INT(stats.idle, 3); /* replaced at once, from the snapshot */
  CHECK_EQ_INT(stats.created, 4);
  run_workers(pool);
  tarmac_pool_free(pool);
}

typedef struct {
  tarmac_pool_t *pool;
  tarmac_instance_t *instance;
} holder_t;

static void *take_and_run(void *arg) {
  holder_t *h = arg;
  tarmac_error_t err;
  tarmac_call_result_t res;
  h->instance = tarmac_pool_take(h->pool, &err);
  if (h->instance != NULL) invoke(h->instance, "{\"x\":1}", &res);
  return NULL;
}

static void *give_back(void *arg) {
  holder_t *h = arg;
  tarmac_pool_give(h->pool, h->instance); /* restored on this thread */
  return NULL;
}

/* A thread gets back the instance it restored itself even when another
 * thread gave one back after it (its next restore then needs no look at
 * the page map). */
static void test_thread_affinity(tarmac_module_t *module) {
  tarmac_error_t err;
  tarmac_call_result_t res;
  tarmac_pool_t *pool = pool_of(module, 2, 2, true, WAIT);
  CHECK(pool != NULL);
  if (pool == NULL) return;
  holder_t other = {pool, NULL};
  pthread_t t;
  tarmac_instance_t *mine = tarmac_pool_take(pool, &err);
  CHECK_EQ_INT(pthread_create(&t, NULL, take_and_run, &other), 0);
  pthread_join(t, NULL);
  invoke(mine, "{\"x\":1}", &res);
  tarmac_pool_give(pool, mine); /* restored here */
  CHECK_EQ_INT(pthread_create(&t, NULL, give_back, &other), 0);
  pthread_join(t, NULL); /* the other instance, restored elsewhere, on top */
  CHECK(other.instance != NULL && other.instance != mine);
  tarmac_instance_t *again = tarmac_pool_take(pool, &err);
  CHECK(again == mine);
  tarmac_pool_give(pool, again);
  tarmac_pool_free(pool);
}

/* A module the engine cannot snapshot (a funcref global): fresh mode starts
 * a new instance for every request instead of keeping one. */
static void test_fresh_without_snapshot(tarmac_engine_t *engine) {
  char path[4096];
  snprintf(path, sizeof path, "%s/funcref_global.wasm",
           getenv("TARMAC_GUEST_DIR") ? getenv("TARMAC_GUEST_DIR") : ".");
  tarmac_error_t err;
  tarmac_module_t *module = NULL;
  CHECK_EQ_INT(tarmac_module_load(engine, path, NULL, &module, &err),
               TARMAC_LOAD_OK);
  tarmac_pool_t *pool = module ? pool_of(module, 2, 2, true, WAIT) : NULL;
  CHECK(pool != NULL);
  if (pool == NULL) {
    tarmac_module_release(module);
    return;
  }
  tarmac_instance_t *a = tarmac_pool_take(pool, &err);
  tarmac_call_result_t res;
  CHECK_EQ_INT(tarmac_instance_invoke(a, "x", 1, NULL, 0, &res),
               TARMAC_CALL_OK);
  tarmac_pool_give(pool, a); /* freed; the refill thread starts another */
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do { /* readiness: the replacement counted, not a fixed sleep */
    sched_yield();
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (tarmac_pool_stats(pool).created < 3 && now.tv_sec - start.tv_sec < 30);
  tarmac_pool_stats_t stats = tarmac_pool_stats(pool);
  CHECK_EQ_INT(stats.created, 3);
  CHECK_EQ_INT(stats.restored, 0);
  CHECK_EQ_INT(stats.discarded, 0);
  tarmac_pool_free(pool);
  tarmac_module_release(module);
}

/* wait_ms 0: a full pool refuses at once. */
static void test_no_wait(tarmac_module_t *module) {
  tarmac_pool_t *pool = pool_of(module, 1, 1, true, 0);
  CHECK(pool != NULL);
  if (pool == NULL) return;
  tarmac_error_t err;
  tarmac_instance_t *mine = tarmac_pool_take(pool, &err);
  CHECK(tarmac_pool_take(pool, &err) == NULL);
  CHECK_EQ_INT(err.kind, TARMAC_ERROR_POOL_EXHAUSTED);
  CHECK(strcmp(err.message, "all 1 instances of hello busy") == 0);
  CHECK_EQ_INT(tarmac_pool_stats(pool).waited, 0);
  tarmac_pool_give(pool, mine);
  tarmac_pool_free(pool);
}

/* Only the warm set is made up front; more on demand, up to size. */
static void test_lazy(tarmac_module_t *module) {
  tarmac_pool_t *pool = pool_of(module, 100, 1, true, WAIT);
  CHECK(pool != NULL);
  if (pool == NULL) return;
  tarmac_pool_stats_t stats = tarmac_pool_stats(pool);
  CHECK_EQ_INT(stats.created, 1);
  CHECK_EQ_INT(stats.idle, 1);
  CHECK_EQ_INT(stats.size, 100);
  tarmac_error_t err;
  tarmac_instance_t *held[5];
  for (int i = 0; i < 5; i++) held[i] = tarmac_pool_take(pool, &err);
  stats = tarmac_pool_stats(pool);
  CHECK_EQ_INT(stats.created, 5);
  CHECK_EQ_INT(stats.busy, 5);
  CHECK_EQ_INT(stats.waited, 0);
  for (int i = 0; i < 5; i++) tarmac_pool_give(pool, held[i]);
  stats = tarmac_pool_stats(pool);
  CHECK_EQ_INT(stats.idle, 5);
  CHECK_EQ_INT(stats.busy, 0);
  tarmac_pool_free(pool);
}

typedef struct {
  tarmac_pool_t *pool;
  atomic_uint holding;  /* instances taken and not given back */
  atomic_uint most;     /* the largest `holding` seen */
  atomic_int failures;
} bound_run_t;

static void note_holding(bound_run_t *run, unsigned now) {
  unsigned most = atomic_load(&run->most);
  while (now > most && !atomic_compare_exchange_weak(&run->most, &most, now)) {
  }
}

static void *bounded_worker(void *arg) {
  bound_run_t *run = arg;
  tarmac_error_t err;
  for (int i = 0; i < 100; i++) {
    tarmac_instance_t *inst = tarmac_pool_take(run->pool, &err);
    if (inst == NULL) {
      atomic_fetch_add(&run->failures, 1);
      continue;
    }
    note_holding(run, atomic_fetch_add(&run->holding, 1) + 1);
    tarmac_call_result_t res;
    bool trap = i % 7 == 0;
    /* 1 ms in the guest: the threads hold their instances long enough
     * to contend for them */
    tarmac_call_status_t st = invoke(
        inst, trap ? "{\"HTTP_PATH\":\"/trap/div\"}"
                   : "{\"HTTP_PATH\":\"/sleep/1\"}", &res);
    if (st != (trap ? TARMAC_CALL_TRAP : TARMAC_CALL_OK))
      atomic_fetch_add(&run->failures, 1);
    atomic_fetch_sub(&run->holding, 1);
    tarmac_pool_give(run->pool, inst);
  }
  return NULL;
}

/* 8 threads on a pool of 3 (both modes): never more than 3 instances
 * taken at once or alive, every take served (they wait their turn). */
static void test_bound_under_threads(tarmac_module_t *module, bool fresh) {
  bound_run_t run = {.pool = pool_of(module, 3, 1, fresh, WAIT)};
  CHECK(run.pool != NULL);
  if (run.pool == NULL) return;
  pthread_t tids[8];
  for (int i = 0; i < 8; i++)
    CHECK_EQ_INT(pthread_create(&tids[i], NULL, bounded_worker, &run), 0);
  for (int i = 0; i < 8; i++) pthread_join(tids[i], NULL);
  tarmac_pool_stats_t stats = tarmac_pool_stats(run.pool);
  CHECK_EQ_INT(atomic_load(&run.failures), 0);
  CHECK(atomic_load(&run.most) <= 3);
  CHECK(stats.idle + stats.busy <= 3);
  CHECK(stats.waited > 0); /* the threads did contend */
  CHECK_EQ_INT(stats.exhausted, 0);
  /* alive = created - discarded - freed fresh-mode leftovers: at most 3 */
  CHECK(stats.created - stats.discarded <= 3);
  tarmac_pool_free(run.pool);
}

typedef struct {
  tarmac_pool_t *pool;
  tarmac_instance_t *got;
  tarmac_error_t err;
} waiter_t;

static void *take_waiting(void *arg) {
  waiter_t *w = arg;
  w->got = tarmac_pool_take(w->pool, &w->err);
  return NULL;
}

/* A waiter gets the instance given back while it waits. */
static void test_waiter_served(tarmac_module_t *module) {
  tarmac_pool_t *pool = pool_of(module, 1, 1, true, 60000);
  CHECK(pool != NULL);
  if (pool == NULL) return;
  tarmac_error_t err;
  tarmac_instance_t *mine = tarmac_pool_take(pool, &err);
  waiter_t w = {.pool = pool};
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, take_waiting, &w), 0);
  uint64_t start_ms = tarmac_clock_ms(CLOCK_MONOTONIC);
  while (tarmac_pool_stats(pool).waited == 0 &&
         tarmac_clock_ms(CLOCK_MONOTONIC) - start_ms < 30000)
    sched_yield(); /* readiness: the waiter is waiting */
  CHECK_EQ_INT(tarmac_pool_stats(pool).waited, 1);
  tarmac_pool_give(pool, mine);
  pthread_join(t, NULL);
  CHECK(w.got == mine); /* restored and handed over, not a new one */
  CHECK(tarmac_clock_ms(CLOCK_MONOTONIC) - start_ms < 30000);
  CHECK_EQ_INT(tarmac_pool_stats(pool).created, 1);
  if (w.got) tarmac_pool_give(pool, w.got);
  tarmac_pool_free(pool);
}

/* The caller's guest deadline (a nested call) ends the wait before
 * wait_ms. */
static void test_wait_bounded_by_deadline(tarmac_module_t *module) {
  tarmac_pool_t *pool = pool_of(module, 1, 1, true, 60000);
  CHECK(pool != NULL);
  if (pool == NULL) return;
  tarmac_error_t err;
  tarmac_instance_t *mine = tarmac_pool_take(pool, &err);
  uint64_t start_ms = tarmac_clock_ms(CLOCK_MONOTONIC);
  uint64_t saved = tarmac_rt_deadline_arm(100 * 1000000ull);
  CHECK(tarmac_pool_take(pool, &err) == NULL);
  tarmac_rt_deadline_restore(saved);
  uint64_t waited_ms = tarmac_clock_ms(CLOCK_MONOTONIC) - start_ms;
  CHECK(waited_ms >= 90 && waited_ms < 30000);
  CHECK_EQ_INT(err.kind, TARMAC_ERROR_POOL_EXHAUSTED);
  CHECK(strcmp(err.message,
               "all 1 instances of hello busy until the caller's deadline") == 0);
  tarmac_pool_give(pool, mine);
  tarmac_pool_free(pool);
}

/* The route the nested_caller guest calls: runs the operation on an
 * instance of the pool in `route_data` (a function calling a function). */
static int call_from_pool(void *route_data, const tarmac_host_call_t *call,
                          tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_pool_t *pool = *(tarmac_pool_t **)route_data;
  tarmac_error_t err;
  tarmac_instance_t *inst = tarmac_pool_take(pool, &err);
  if (inst == NULL) {
    tarmac_buffer_append_str(error, err.message);
    return -1;
  }
  tarmac_call_result_t res;
  tarmac_call_status_t st = tarmac_instance_invoke(
      inst, call->operation, call->operation_len, call->payload,
      call->payload_len, &res);
  int rc = tarmac_buffer_set(st == TARMAC_CALL_OK ? response : error,
                             res.data, res.len);
  tarmac_pool_give(pool, inst);
  return st == TARMAC_CALL_OK && rc == 0 ? 0 : -1;
}

static tarmac_pool_t *nested_pool; /* the route's pool */

/* A function calling itself through the pool: with every instance in the
 * calling thread's own chain, the take fails at once, not after wait_ms. */
static void test_chain_holds_all(tarmac_module_t *module, unsigned size,
                                 const char *op) {
  nested_pool = pool_of(module, size, 1, true, 60000);
  CHECK(nested_pool != NULL);
  if (nested_pool == NULL) return;
  tarmac_error_t err;
  tarmac_instance_t *a = tarmac_pool_take(nested_pool, &err);
  uint64_t start_ms = tarmac_clock_ms(CLOCK_MONOTONIC);
  tarmac_call_result_t res;
  CHECK_EQ_INT(tarmac_instance_invoke(a, op, strlen(op), NULL, 0, &res),
               TARMAC_CALL_GUEST_ERROR);
  CHECK(tarmac_clock_ms(CLOCK_MONOTONIC) - start_ms < 30000);
  char expected[128];
  snprintf(expected, sizeof expected,
           "all %u instances of hello are held by this chain of nested calls",
           size);
  CHECK_BYTES(res.data, res.len, expected);
  CHECK_EQ_INT(tarmac_pool_stats(nested_pool).waited, 0);
  CHECK_EQ_INT(tarmac_pool_stats(nested_pool).exhausted, 1);
  /* one level less than the pool holds is served */
  CHECK_EQ_INT(tarmac_instance_invoke(a, op + 1, strlen(op + 1), NULL, 0, &res),
               TARMAC_CALL_OK);
  tarmac_pool_give(nested_pool, a);
  tarmac_pool_free(nested_pool);
}

static void test_nested(tarmac_engine_t *engine) {
  char path[4096];
  snprintf(path, sizeof path, "%s/nested_caller.wasm",
           getenv("TARMAC_GUEST_DIR") ? getenv("TARMAC_GUEST_DIR") : ".");
  tarmac_error_t err;
  tarmac_module_t *module = NULL;
  CHECK_EQ_INT(tarmac_module_load(engine, path, NULL, &module, &err),
               TARMAC_LOAD_OK);
  if (module == NULL) return;
  test_chain_holds_all(module, 1, "ce");
  test_chain_holds_all(module, 2, "cce");
  tarmac_module_release(module);
}

/* Reuse mode: take and give back without creating, a trap replaced by
 * the refill thread, a full pool failing after wait_ms, threads sharing
 * it. */
static void test_reuse(tarmac_module_t *module) {
  tarmac_error_t err;
  tarmac_pool_t *pool = pool_of(module, 3, 3, false, 1000);
  CHECK(pool != NULL);
  if (pool == NULL) return;
  CHECK_EQ_INT(tarmac_pool_stats(pool).idle, 3);
  CHECK_EQ_INT(tarmac_pool_stats(pool).created, 3);
  /* reuse: take and give back without creating */
  tarmac_instance_t *a = tarmac_pool_take(pool, &err);
  tarmac_call_result_t res;
  CHECK_EQ_INT(invoke(a, "{\"HTTP_PATH\":\"/x\"}", &res), TARMAC_CALL_OK);
  CHECK_BYTES(res.data, res.len, "{\"HTTP_PATH\":\"/x\"}");
  tarmac_pool_give(pool, a);
  CHECK_EQ_INT(tarmac_pool_stats(pool).created, 3);
  CHECK_EQ_INT(tarmac_pool_stats(pool).idle, 3);
  /* a trap: discarded, then replaced by the refill thread */
  a = tarmac_pool_take(pool, &err);
  CHECK_EQ_INT(invoke(a, "{\"HTTP_PATH\":\"/trap/unreachable\"}", &res),
               TARMAC_CALL_TRAP);
  tarmac_pool_give(pool, a);
  CHECK_EQ_INT(tarmac_pool_stats(pool).discarded, 1);
  uint64_t since_ms = tarmac_clock_ms(CLOCK_MONOTONIC);
  while (tarmac_pool_stats(pool).idle < 3 &&
         tarmac_clock_ms(CLOCK_MONOTONIC) - since_ms < 30000)
    sched_yield(); /* readiness: the replacement is in */
  CHECK_EQ_INT(tarmac_pool_stats(pool).idle, 3);
  CHECK_EQ_INT(tarmac_pool_stats(pool).created, 4);
  /* a full pool: the next take waits wait_ms (1 s), then fails */
  tarmac_instance_t *held[3];
  for (int i = 0; i < 3; i++) {
    held[i] = tarmac_pool_take(pool, &err);
    CHECK(held[i] != NULL);
  }
  uint64_t start_ms = tarmac_clock_ms(CLOCK_MONOTONIC);
  CHECK(tarmac_pool_take(pool, &err) == NULL);
  CHECK(tarmac_clock_ms(CLOCK_MONOTONIC) - start_ms >= 1000);
  CHECK_EQ_INT(err.kind, TARMAC_ERROR_POOL_EXHAUSTED);
  CHECK(strcmp(err.message, "all 3 instances of hello busy for 1000 ms") == 0);
  CHECK_EQ_INT(tarmac_pool_stats(pool).exhausted, 1);
  CHECK_EQ_INT(tarmac_pool_stats(pool).busy, 3);
  for (int i = 0; i < 3; i++) tarmac_pool_give(pool, held[i]);
  CHECK_EQ_INT(tarmac_pool_stats(pool).idle, 3);
  CHECK_EQ_INT(tarmac_pool_stats(pool).busy, 0);
  /* threads sharing the pool, mixing traps */
  run_workers(pool);
  tarmac_pool_free(pool);
}

int main(void) {
  const char *path = getenv("HTTP_GUEST");
  CHECK(path != NULL);
  if (path == NULL) TEST_EXIT();
  tarmac_error_t err;
  tarmac_callbacks_t *callbacks = tarmac_callbacks_new();
  CHECK(callbacks != NULL &&
        tarmac_callbacks_add(callbacks, "tarmac", "function", NULL,
                             call_from_pool, &nested_pool) == 0);
  tarmac_engine_config_t config = {.callbacks = callbacks};
  tarmac_engine_t *engine = tarmac_engine_new(&config, &err);
  CHECK(engine != NULL);
  tarmac_module_t *module = NULL;
  CHECK_EQ_INT(tarmac_module_load(engine, path, NULL, &module, &err),
               TARMAC_LOAD_OK);
  test_reuse(module);
  test_no_wait(module);
  test_fresh(module);
  test_thread_affinity(module);
  test_fresh_without_snapshot(engine);
  test_lazy(module);
  test_bound_under_threads(module, true);
  test_bound_under_threads(module, false);
  test_waiter_served(module);
  test_wait_bounded_by_deadline(module);
  test_nested(engine);
  tarmac_module_release(module);
  tarmac_engine_free(engine);
  tarmac_callbacks_free(callbacks);
  TEST_EXIT();
}
