/* The instance pool with a real guest: instances are reused, a trapped
 * instance is discarded and replaced in the background, and many threads
 * can share the pool. In fresh mode an instance given back is restored (a
 * guest's global does not survive) and a trapped one is replaced before
 * tarmac_pool_give returns. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "server/pool.h"
#include "test.h"

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
  tarmac_pool_t *pool = tarmac_pool_new(module, 3, true, &err);
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
  tarmac_pool_t *pool = tarmac_pool_new(module, 2, true, &err);
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
  tarmac_pool_t *pool = module ? tarmac_pool_new(module, 2, true, &err) : NULL;
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

int main(void) {
  const char *path = getenv("HTTP_GUEST");
  CHECK(path != NULL);
  if (path == NULL) TEST_EXIT();
  tarmac_error_t err;
  tarmac_engine_config_t config = {0};
  tarmac_engine_t *engine = tarmac_engine_new(&config, &err);
  CHECK(engine != NULL);
  tarmac_module_t *module = NULL;
  CHECK_EQ_INT(tarmac_module_load(engine, path, NULL, &module, &err),
               TARMAC_LOAD_OK);
  tarmac_pool_t *pool = tarmac_pool_new(module, 3, false, &err);
  CHECK(pool != NULL);
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
  for (int i = 0; i < 500 && tarmac_pool_stats(pool).idle < 3; i++)
    usleep(10000);
  CHECK_EQ_INT(tarmac_pool_stats(pool).idle, 3);
  CHECK_EQ_INT(tarmac_pool_stats(pool).created, 4);

  /* an empty pool still serves (instantiating on demand) */
  tarmac_instance_t *held[4];
  for (int i = 0; i < 4; i++) {
    held[i] = tarmac_pool_take(pool, &err);
    CHECK(held[i] != NULL);
  }
  for (int i = 0; i < 4; i++) tarmac_pool_give(pool, held[i]);
  CHECK_EQ_INT(tarmac_pool_stats(pool).idle, 3);

  /* threads sharing the pool, mixing traps */
  run_workers(pool);
  tarmac_pool_free(pool);
  test_fresh(module);
  test_thread_affinity(module);
  test_fresh_without_snapshot(engine);
  tarmac_module_release(module);
  tarmac_engine_free(engine);
  TEST_EXIT();
}
