/* server/pool: the instances of one function, shared by every thread. A
 * request takes an instance, runs it, and gives it back.
 *
 * Bounded: at most `size` instances exist at once (busy + idle + being
 * made). They are made lazily, on demand, beyond a small warm set made at
 * start (so start-up failures show at start, and the server does not keep
 * size x the module's memory resident up front). When all `size` are busy
 * take() waits up to `wait_ms` (and never past the calling thread's armed
 * guest deadline, so a nested call does not outwait its caller), then
 * fails with TARMAC_ERROR_POOL_EXHAUSTED; at once when the calling
 * thread's own chain of nested calls holds all of them (A -> B -> A).
 *
 * Fresh mode (the default, APP_WASM_REUSE_INSTANCES=false): the pool takes
 * one snapshot of the module after start-up and owns it; its instances are
 * made from it, and an instance given back is restored to it (in the giving
 * thread, before anyone else can take it), so no request sees what an
 * earlier one left. A trapped instance is replaced from the snapshot on the
 * spot. A module that cannot be snapshotted gets a newly started instance
 * for every request instead (slow, but never shared): a refill thread
 * starts the replacement of each one given back, in the background. Reuse
 * mode keeps an instance's state from request to request (Tarmac's
 * behaviour); a trapped one frees its slot and the refill thread starts a
 * replacement.
 *
 * Every instance runs under the pool's limits (engine.h, tarmac_limits_t). */
#ifndef TARMAC_SERVER_POOL_H
#define TARMAC_SERVER_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"

typedef struct tarmac_pool tarmac_pool_t;

/* 5 s: long enough to ride out a burst, short enough that a client is
 * answered 503 well before a gateway gives up on it. */
#define TARMAC_POOL_DEFAULT_WAIT_MS 5000u

typedef struct {
  unsigned size;    /* most instances at once; 0 = 1 */
  unsigned warm;    /* made at start (at most size); 0 = 1 */
  bool fresh;       /* fresh mode (above); false: reuse mode */
  unsigned wait_ms; /* longest wait for a busy pool; 0: none, refused
                       at once (TARMAC_POOL_DEFAULT_WAIT_MS is the
                       usual value) */
  tarmac_limits_t limits; /* of every instance; zeros: the engine's */
  const char *name; /* the function, for messages (copied); NULL: the
                       module's name */
} tarmac_pool_config_t;

/* Makes the warm instances (fresh: after the snapshot). NULL with err set
 * when the first instance cannot be created (the module's start-up
 * fails). The pool retains the module. */
tarmac_pool_t *tarmac_pool_new(tarmac_module_t *module,
                               const tarmac_pool_config_t *config,
                               tarmac_error_t *err);
/* Stops the refill thread and frees every idle instance. Every instance
 * taken must have been given back. */
void tarmac_pool_free(tarmac_pool_t *pool);

/* An instance to run, or NULL with err set: none could be created
 * (err.kind TARMAC_ERROR_OVER_BUDGET: the process memory budget), or all
 * stayed busy (TARMAC_ERROR_POOL_EXHAUSTED, "all 4 instances of <name>
 * busy for 5000 ms", "... busy until the caller's deadline", "... are held
 * by this chain of nested calls"). Instances are tagged with the pool
 * (tarmac_instance_set_owner). */
tarmac_instance_t *tarmac_pool_take(tarmac_pool_t *pool, tarmac_error_t *err);
/* Returns an instance taken from this pool; a dead (trapped) one is freed
 * and replaced. */
void tarmac_pool_give(tarmac_pool_t *pool, tarmac_instance_t *instance);

/* Counters for metrics, tests and logs. */
typedef struct {
  unsigned idle;           /* ready to take */
  unsigned busy;           /* taken, or being made */
  unsigned size;           /* the bound on idle + busy */
  unsigned long created;   /* including start-up */
  unsigned long discarded; /* dead instances freed */
  unsigned long restored;  /* fresh mode: instances reset after a request */
  unsigned long waited;    /* takes that found all busy and waited */
  unsigned long exhausted; /* takes that failed with POOL_EXHAUSTED */
} tarmac_pool_stats_t;
tarmac_pool_stats_t tarmac_pool_stats(tarmac_pool_t *pool);

#endif
