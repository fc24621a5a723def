/* Bounded instance pool: lazy creation, bounded waits, and a refill
 * thread for modules whose replacements must be started (pool.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "runtime/deadline.h"
#include "server/pool.h"
#include "util/blocking.h"
#include "util/clock.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

struct tarmac_pool {
  tarmac_module_t *module; /* retained */
  bool fresh;              /* no state kept between requests */
  tarmac_snapshot_t *snapshot; /* owned; fresh mode, NULL when refused */
  tarmac_limits_t limits;
  char *name;              /* owned; the function, for messages */
  unsigned size;           /* bound on `live` */
  unsigned wait_ms;
  pthread_mutex_t lock;
  pthread_cond_t wake;      /* refill thread: a replacement owed, or stop */
  pthread_cond_t available; /* takers: an idle instance or a free slot */
  tarmac_instance_t **idle; /* stack of up to `size` */
  unsigned idle_count;
  unsigned live;           /* idle + taken + being made; <= size */
  unsigned missing;        /* replacements the refill thread owes */
  unsigned long created;
  unsigned long discarded;
  unsigned long restored;
  unsigned long waited;
  unsigned long exhausted;
  bool stopping;
  pthread_t refiller;
  bool refiller_started;
};

/* Makes one instance; the caller holds a slot for it. */
static tarmac_instance_t *create(tarmac_pool_t *pool, tarmac_error_t *err) {
  tarmac_instance_t *instance =
      pool->snapshot
          ? tarmac_instance_from_snapshot(pool->snapshot, err)
          : tarmac_instance_new_limited(pool->module, &pool->limits, err);
  if (instance != NULL) {
    tarmac_instance_set_owner(instance, pool);
    pthread_mutex_lock(&pool->lock);
    pool->created++;
    pthread_mutex_unlock(&pool->lock);
  }
  return instance;
}

/* Lock held. Never overflows: idle instances hold slots, so at most
 * `size` of them. */
static void push_idle(tarmac_pool_t *pool, tarmac_instance_t *instance) {
  pool->idle[pool->idle_count++] = instance;
  pthread_cond_signal(&pool->available);
}

/* Lock held: a slot given up (its instance freed, or never made). */
static void release_slot(tarmac_pool_t *pool) {
  pool->live--;
  pthread_cond_signal(&pool->available);
}

/* Makes one owed replacement while there is a free slot for it (lock
 * held; dropped while the instance is started). */
static void refill_one(tarmac_pool_t *pool) {
  pool->missing--;
  if (pool->live >= pool->size) return; /* takers made their own */
  pool->live++;
  pthread_mutex_unlock(&pool->lock);
  tarmac_error_t err;
  tarmac_instance_t *instance = create(pool, &err);
  if (instance == NULL)
    tarmac_logf(TARMAC_LOG_ERROR, "cannot refill the instance pool of %s: %s",
                pool->name, err.message);
  pthread_mutex_lock(&pool->lock);
  if (instance != NULL)
    push_idle(pool, instance);
  else
    release_slot(pool);
}

static void *refill_main(void *arg) {
  tarmac_pool_t *pool = arg;
  pthread_mutex_lock(&pool->lock);
  for (;;) {
    while (pool->missing == 0 && !pool->stopping)
      pthread_cond_wait(&pool->wake, &pool->lock);
    if (pool->stopping) break;
    refill_one(pool);
  }
  pthread_mutex_unlock(&pool->lock);
  return NULL;
}

/* Fresh mode's snapshot; a module that cannot have one gets a started
 * instance per request instead (logged: it is much slower). */
static int take_snapshot(tarmac_pool_t *pool, tarmac_error_t *err) {
  pool->fresh = true;
  pool->snapshot = tarmac_snapshot_new_limited(pool->module, &pool->limits,
                                               err);
  if (pool->snapshot) return 0;
  if (err->kind != TARMAC_ERROR_NO_SNAPSHOT) return -1;
  tarmac_logf(TARMAC_LOG_WARN,
              "%s; every request starts a new instance instead",
              err->message);
  return 0;
}

/* The lock and both condition variables; `available` on CLOCK_MONOTONIC,
 * the clock of guest deadlines. */
static int init_sync(tarmac_pool_t *pool) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr) != 0) return -1;
  int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&pool->available, &attr);
  pthread_condattr_destroy(&attr);
  if (rc != 0) return -1;
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->wake, NULL);
  return 0;
}

/* The pool's fields from its config; NULL when out of memory. */
static tarmac_pool_t *allocate(tarmac_module_t *module,
                               const tarmac_pool_config_t *config) {
  tarmac_pool_t *pool = calloc(1, sizeof(*pool));
  if (pool == NULL) return NULL;
  pool->size = config->size ? config->size : 1;
  pool->idle = calloc(pool->size, sizeof(*pool->idle));
  const char *name = config->name ? config->name : tarmac_module_name(module);
  pool->name = strdup(name ? name : "function");
  if (pool->idle == NULL || pool->name == NULL || init_sync(pool) != 0) {
    free(pool->idle);
    free(pool->name);
    free(pool);
    return NULL;
  }
  pool->wait_ms = config->wait_ms;
  pool->limits = config->limits;
  pool->module = module;
  tarmac_module_retain(module);
  return pool;
}

/* The warm set: at least one, so start-up failures show at start. */
static int make_warm(tarmac_pool_t *pool, unsigned warm, tarmac_error_t *err) {
  if (warm == 0) warm = 1;
  if (warm > pool->size) warm = pool->size;
  for (unsigned i = 0; i < warm; i++) {
    tarmac_instance_t *instance = create(pool, err);
    if (instance == NULL) return -1;
    pool->live++;
    pool->idle[pool->idle_count++] = instance;
  }
  return 0;
}

tarmac_pool_t *tarmac_pool_new(tarmac_module_t *module,
                               const tarmac_pool_config_t *config,
                               tarmac_error_t *err) {
  err->kind = TARMAC_ERROR_OTHER;
  tarmac_pool_t *pool = allocate(module, config);
  if (pool == NULL) {
    snprintf(err->message, sizeof(err->message), "out of memory");
    return NULL;
  }
  if (config->fresh && take_snapshot(pool, err) != 0) goto fail;
  if (make_warm(pool, config->warm, err) != 0) goto fail;
  /* replacements that must be started, not copied from a snapshot */
  if (pool->snapshot == NULL) {
    if (pthread_create(&pool->refiller, NULL, refill_main, pool) != 0) {
      snprintf(err->message, sizeof(err->message),
               "cannot start the pool refill thread");
      goto fail;
    }
    pool->refiller_started = true;
  }
  return pool;
fail:
  tarmac_pool_free(pool);
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
  free(pool->name);
  tarmac_snapshot_release(pool->snapshot);
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->wake);
  pthread_cond_destroy(&pool->available);
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

/* How long a take may wait: wait_ms from now, or the calling thread's
 * guest deadline when earlier (a nested call). CLOCK_MONOTONIC ns. */
typedef struct {
  uint64_t until_ns;
  bool by_deadline; /* the caller's deadline ends the wait */
} wait_bound_t;

static wait_bound_t wait_bound(const tarmac_pool_t *pool) {
  uint64_t own = (tarmac_clock_ms(CLOCK_MONOTONIC) + pool->wait_ms) * NS_PER_MS;
  uint64_t until = tarmac_rt_deadline_bound(own);
  return (wait_bound_t){until, until < own};
}

/* Lock held: the take failed after waiting, or at once (`bound` NULL)
 * because this thread's chain of nested calls holds every instance. */
static void fail_exhausted(tarmac_pool_t *pool, const wait_bound_t *bound,
                           tarmac_error_t *err) {
  pool->exhausted++;
  err->kind = TARMAC_ERROR_POOL_EXHAUSTED;
  if (bound == NULL)
    snprintf(err->message, sizeof(err->message),
             "all %u instances of %s are held by this chain of nested calls",
             pool->size, pool->name);
  else if (bound->by_deadline)
    snprintf(err->message, sizeof(err->message),
             "all %u instances of %s busy until the caller's deadline",
             pool->size, pool->name);
  else if (pool->wait_ms == 0)
    snprintf(err->message, sizeof(err->message),
             "all %u instances of %s busy", pool->size, pool->name);
  else
    snprintf(err->message, sizeof(err->message),
             "all %u instances of %s busy for %u ms", pool->size, pool->name,
             pool->wait_ms);
}

/* Lock held: waits until an instance is idle or a slot is free (true),
 * or the bound passes (false). */
static bool wait_for_room(tarmac_pool_t *pool, const wait_bound_t *bound) {
  struct timespec until = {(time_t)(bound->until_ns / NS_PER_S),
                           (long)(bound->until_ns % NS_PER_S)};
  while (pool->idle_count == 0 && pool->live >= pool->size) {
    int rc = pthread_cond_timedwait(&pool->available, &pool->lock, &until);
    /* a signal consumed by a timed-out waiter must not be lost: look at
     * the pool once more before giving up */
    if (rc == ETIMEDOUT)
      return pool->idle_count > 0 || pool->live < pool->size;
  }
  return true;
}

/* Lock held: wait_for_room after handing the calling thread's event loop
 * on (util/blocking.h), like any other wait for something outside the
 * guest, so the loop keeps answering while the pool is exhausted. The
 * hook runs outside the pool's lock (it may start a thread). No new bound
 * is needed: a request waiting here has passed admission and counts among
 * its running invocations (admission.h), which bounds these waiters and
 * their threads. */
static bool wait_handing_on(tarmac_pool_t *pool, const wait_bound_t *bound) {
  pthread_mutex_unlock(&pool->lock);
  tarmac_blocking_begin();
  pthread_mutex_lock(&pool->lock);
  bool room = wait_for_room(pool, bound);
  /* the end hook does nothing under the lock that matters (the HTTP
   * layer's is empty); ending here keeps the pairing in one place */
  tarmac_blocking_end();
  return room;
}

/* Lock held, every instance busy: waits for room as the pool allows
 * (false, err set: none came). */
static bool wait_for_instance(tarmac_pool_t *pool, tarmac_error_t *err) {
  /* a function calling itself through others (A -> B -> A): waiting for
   * an instance this very thread holds would only time out */
  if (tarmac_instance_depth() > 0 &&
      tarmac_instance_chain_count(pool) >= pool->size) {
    fail_exhausted(pool, NULL, err);
    return false;
  }
  wait_bound_t bound = wait_bound(pool);
  if (pool->wait_ms == 0) {
    fail_exhausted(pool, &bound, err);
    return false;
  }
  pool->waited++;
  bool room = wait_handing_on(pool, &bound);
  if (!room) fail_exhausted(pool, &bound, err);
  return room;
}

tarmac_instance_t *tarmac_pool_take(tarmac_pool_t *pool, tarmac_error_t *err) {
  err->kind = TARMAC_ERROR_OTHER;
  pthread_mutex_lock(&pool->lock);
  if (pool->idle_count == 0 && pool->live >= pool->size &&
      !wait_for_instance(pool, err)) {
    pthread_mutex_unlock(&pool->lock);
    return NULL;
  }
  tarmac_instance_t *instance = pop_idle(pool);
  if (instance == NULL) pool->live++; /* a free slot: make one in it */
  pthread_mutex_unlock(&pool->lock);
  if (instance != NULL) return instance;
  instance = create(pool, err);
  if (instance == NULL) {
    pthread_mutex_lock(&pool->lock);
    release_slot(pool);
    pthread_mutex_unlock(&pool->lock);
  }
  return instance;
}

/* Fresh mode with a snapshot: restore, or replace on the spot in the same
 * slot (making an instance from the snapshot costs about as much as
 * restoring one). */
static void give_fresh(tarmac_pool_t *pool, tarmac_instance_t *instance) {
  bool alive = tarmac_instance_alive(instance);
  bool restored = alive && tarmac_instance_restore(instance);
  if (!restored) {
    tarmac_instance_free(instance);
    tarmac_error_t err;
    instance = create(pool, &err); /* NULL: a taker makes one later */
  }
  pthread_mutex_lock(&pool->lock);
  pool->restored += restored;
  pool->discarded += !alive;
  if (instance != NULL)
    push_idle(pool, instance);
  else
    release_slot(pool);
  pthread_mutex_unlock(&pool->lock);
}

void tarmac_pool_give(tarmac_pool_t *pool, tarmac_instance_t *instance) {
  if (pool->snapshot) {
    give_fresh(pool, instance);
    return;
  }
  bool alive = tarmac_instance_alive(instance);
  if (alive && !pool->fresh) {
    pthread_mutex_lock(&pool->lock);
    push_idle(pool, instance);
    pthread_mutex_unlock(&pool->lock);
    return;
  }
  /* dead, or fresh without a snapshot: a newly started one replaces it */
  tarmac_instance_free(instance);
  pthread_mutex_lock(&pool->lock);
  pool->discarded += !alive;
  release_slot(pool);
  pool->missing++;
  pthread_cond_signal(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
}

tarmac_pool_stats_t tarmac_pool_stats(tarmac_pool_t *pool) {
  pthread_mutex_lock(&pool->lock);
  tarmac_pool_stats_t stats = {
      .idle = pool->idle_count,
      .busy = pool->live - pool->idle_count,
      .size = pool->size,
      .created = pool->created,
      .discarded = pool->discarded,
      .restored = pool->restored,
      .waited = pool->waited,
      .exhausted = pool->exhausted,
  };
  pthread_mutex_unlock(&pool->lock);
  return stats;
}
