/* server/pool: ready instances of one function, shared by every thread.
 * A request takes an instance, runs it, and gives it back; a trapped
 * instance is freed on return and a refill thread creates its replacement
 * in the background, so requests do not pay for instantiation. When the
 * pool is empty (more guests running at once than it holds) the request
 * instantiates one itself.
 *
 * Fresh mode (the default, APP_WASM_REUSE_INSTANCES=false): the pool takes
 * one snapshot of the module after start-up and owns it; its instances are
 * made from it, and an instance given back is restored to it (in the giving
 * thread, before anyone else can take it), so no request sees what an
 * earlier one left. A trapped instance is replaced from the snapshot on the
 * spot. A module that cannot be snapshotted gets a newly started instance
 * for every request instead (slow, but never shared). Reuse mode keeps an
 * instance's state from request to request (Tarmac's behaviour). */
#ifndef TARMAC_SERVER_POOL_H
#define TARMAC_SERVER_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"

typedef struct tarmac_pool tarmac_pool_t;

/* Creates `size` instances up front (fresh: after the snapshot). NULL with
 * err set when the first instance cannot be created (the module's start-up
 * fails). */
tarmac_pool_t *tarmac_pool_new(tarmac_module_t *module, unsigned size,
                               bool fresh, tarmac_error_t *err);
/* Stops the refill thread and frees every idle instance. Instances taken
 * and not given back are the taker's. */
void tarmac_pool_free(tarmac_pool_t *pool);

/* An instance to run, or NULL with err set when none can be created
 * (err.kind TARMAC_ERROR_OVER_BUDGET: the process memory budget). */
tarmac_instance_t *tarmac_pool_take(tarmac_pool_t *pool, tarmac_error_t *err);
/* Returns an instance; a dead (trapped) one is freed and replaced. */
void tarmac_pool_give(tarmac_pool_t *pool, tarmac_instance_t *instance);

/* Counters for tests and logs. */
typedef struct {
  unsigned idle;
  unsigned long created;   /* including start-up */
  unsigned long discarded; /* dead instances freed */
  unsigned long restored;  /* fresh mode: instances reset after a request */
} tarmac_pool_stats_t;
tarmac_pool_stats_t tarmac_pool_stats(tarmac_pool_t *pool);

#endif
