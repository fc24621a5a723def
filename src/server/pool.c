/* Instance pool with a background refill thread. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "log/log.h"
#include "server/pool.h"

struct tarmac_pool {
  tarmac_module_t *module; /* retained */
  bool fresh;              /* no state kept between requests */
  tarmac_snapshot_t *snapshot; /* owned; fresh mode, NULL when refused */
  unsigned size;           /* idle instances to keep ready */
  pthread_mutex_t lock;
  pthread_cond_t wake;     /* refill thread: an instance died, or stop */
  tarmac_instance_t **idle; /* stack of `size` slots */
  unsigned idle_count;
  unsigned missing;        /* dead instances not yet replaced */
  unsigned long created;
  unsigned long discarded;
  unsigned long restored;
  bool stopping;
  pthread_t refiller;
  bool refiller_started;
};

static tarmac_instance_t *create(tarmac_pool_t *pool, tarmac_error_t *err) {
  tarmac_instance_t *instance =
      pool->snapshot ? tarmac_instance_from_snapshot(pool->snapshot, err)
                     : tarmac_instance_new(pool->module, err);
  if (instance != NULL) {
    pthread_mutex_lock(&pool->lock);
    pool->created++;
    pthread_mutex_unlock(&pool->lock);
  }
  return instance;
}

/* Keeps an instance if there is room; frees it otherwise. `restored`
 * counts it as restored under the same lock. */
static void keep_or_free(tarmac_pool_t *pool, tarmac_instance_t *instance,
                         bool restored) {
  pthread_mutex_lock(&pool->lock);
  pool->restored += restored;
  if (pool->idle_count < pool->size) {
    pool->idle[pool->idle_count++] = instance;
    instance = NULL;
  }
  pthread_mutex_unlock(&pool->lock);
  if (instance != NULL) tarmac_instance_free(instance);
}

static void *refill_main(void *arg) {
  tarmac_pool_t *pool = arg;
  pthread_mutex_lock(&pool->lock);
  for (;;) {
    while (pool->missing == 0 && !pool->stopping)
      pthread_cond_wait(&pool->wake, &pool->lock);
    if (pool->stopping) break;
    pool->missing--;
    pthread_mutex_unlock(&pool->lock);
    tarmac_error_t err;
    tarmac_instance_t *instance = create(pool, &err);
    if (instance != NULL)
      keep_or_free(pool, instance, false);
    else
      tarmac_logf(TARMAC_LOG_ERROR, "cannot refill the instance pool: %s",
                  err.message);
    pthread_mutex_lock(&pool->lock);
  }
  pthread_mutex_unlock(&pool->lock);
  return NULL;
}

/* Fresh mode's snapshot; a module that cannot have one gets a started
 * instance per request instead (logged: it is much slower). */
static int take_snapshot(tarmac_pool_t *pool, tarmac_error_t *err) {
  pool->fresh = true;
  pool->snapshot = tarmac_snapshot_new(pool->module, err);
  if (pool->snapshot) return 0;
  if (err->kind != TARMAC_ERROR_NO_SNAPSHOT) return -1;
  tarmac_logf(TARMAC_LOG_WARN,
              "%s; every request starts a new instance instead",
              err->message);
  return 0;
}

tarmac_pool_t *tarmac_pool_new(tarmac_module_t *module, unsigned size,
                               bool fresh, tarmac_error_t *err) {
  tarmac_pool_t *pool = calloc(1, sizeof(*pool));
  if (pool == NULL) goto oom;
  pool->idle = calloc(size ? size : 1, sizeof(*pool->idle));
  if (pool->idle == NULL) {
    free(pool);
    goto oom;
  }
  pool->size = size ? size : 1;
  pool->module = module;
  tarmac_module_retain(module);
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->wake, NULL);
  if (fresh && take_snapshot(pool, err) != 0) goto fail;
  for (unsigned i = 0; i < pool->size; i++) {
    tarmac_instance_t *instance = create(pool, err);
    if (instance == NULL) goto fail;
    pool->idle[pool->idle_count++] = instance;
  }
  if (pthread_create(&pool->refiller, NULL, refill_main, pool) != 0) {
    snprintf(err->message, sizeof(err->message),
             "cannot start the pool refill thread");
    goto fail;
  }
  pool->refiller_started = true;
  return pool;
fail:
  tarmac_pool_free(pool);
  return NULL;
oom:
  snprintf(err->message, sizeof(err->message), "out of memory");
  return NULL;
}

void tarmac_pool_free(tarmac_pool_t *pool) {
  if (pool == NULL) return;
  if (pool->refiller_started) {
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    pthread_join(pool->refiller, NULL);
  }
  for (unsigned i = 0; i < pool->idle_count; i++)
    tarmac_instance_free(pool->idle[i]);
  free(pool->idle);
  tarmac_snapshot_release(pool->snapshot);
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->wake);
  tarmac_module_release(pool->module);
  free(pool);
}

/* Idle instances looked at for one last restored on the taking thread. */
#define AFFINITY_SCAN 8u

/* Pops an idle instance (lock held), preferring among the most recently
 * given back one that this thread restored: another thread's instance
 * costs its next restore a look at the page map (about 2 us). */
static tarmac_instance_t *pop_idle(tarmac_pool_t *pool) {
  if (pool->idle_count == 0) return NULL;
  unsigned top = pool->idle_count - 1;
  unsigned scan = pool->idle_count < AFFINITY_SCAN ? pool->idle_count
                                                    : AFFINITY_SCAN;
  for (unsigned i = 0; i < scan && pool->snapshot != NULL; i++) {
    tarmac_instance_t *candidate = pool->idle[top - i];
    if (tarmac_instance_restored_here(candidate)) {
      pool->idle[top - i] = pool->idle[top];
      pool->idle[top] = candidate;
      break;
    }
  }
  pool->idle_count = top;
  return pool->idle[top];
}

tarmac_instance_t *tarmac_pool_take(tarmac_pool_t *pool, tarmac_error_t *err) {
  pthread_mutex_lock(&pool->lock);
  tarmac_instance_t *instance = pop_idle(pool);
  pthread_mutex_unlock(&pool->lock);
  if (instance != NULL) return instance;
  return create(pool, err);
}

/* Fresh mode with a snapshot: restore, or replace on the spot (making an
 * instance from the snapshot costs about as much as restoring one). */
static void give_fresh(tarmac_pool_t *pool, tarmac_instance_t *instance) {
  bool alive = tarmac_instance_alive(instance);
  if (alive && tarmac_instance_restore(instance)) {
    keep_or_free(pool, instance, true);
    return;
  }
  tarmac_instance_free(instance);
  tarmac_error_t err;
  instance = create(pool, &err);
  pthread_mutex_lock(&pool->lock);
  pool->discarded += !alive;
  pool->missing += instance == NULL; /* the refill thread tries again */
  if (instance == NULL) pthread_cond_signal(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  if (instance != NULL) keep_or_free(pool, instance, false);
}

void tarmac_pool_give(tarmac_pool_t *pool, tarmac_instance_t *instance) {
  if (pool->snapshot) {
    give_fresh(pool, instance);
    return;
  }
  bool alive = tarmac_instance_alive(instance);
  if (alive && !pool->fresh) {
    keep_or_free(pool, instance, false);
    return;
  }
  /* dead, or fresh without a snapshot: a newly started one replaces it */
  tarmac_instance_free(instance);
  pthread_mutex_lock(&pool->lock);
  pool->discarded += !alive;
  pool->missing++;
  pthread_cond_signal(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
}

tarmac_pool_stats_t tarmac_pool_stats(tarmac_pool_t *pool) {
  pthread_mutex_lock(&pool->lock);
  tarmac_pool_stats_t stats = {pool->idle_count, pool->created,
                               pool->discarded, pool->restored};
  pthread_mutex_unlock(&pool->lock);
  return stats;
}
