/* server/host_callbacks: the host callbacks a guest gets, built from the
 * APP_* settings — the same set for `tarmac serve` and `tarmac call`:
 * logging always; metrics when a registry is given; and each state
 * callback (key-value store, SQL, HTTP client) its settings enable. The
 * server adds function calls itself (server/calls.h): they need the
 * service's functions.
 *
 * Owns: the registry and every backend behind it (connection pools,
 * stores); tarmac_host_callbacks_free releases them after every guest
 * that could call them is gone. */
#ifndef TARMAC_SERVER_HOST_CALLBACKS_H
#define TARMAC_SERVER_HOST_CALLBACKS_H

#include <stdbool.h>
#include <stddef.h>

#include "callbacks/registry.h"
#include "metrics/metrics.h"
#include "server/config.h"

typedef struct tarmac_host_callbacks tarmac_host_callbacks_t;

/* metrics NULL: no tarmac/metrics callbacks and no callback timing. NULL
 * with err set when a backend cannot be set up (a bad setting, a store
 * that cannot be opened). */
tarmac_host_callbacks_t *tarmac_host_callbacks_new(
    const tarmac_server_config_t *config, tarmac_metrics_t *metrics,
    char *err, size_t err_size);
void tarmac_host_callbacks_free(tarmac_host_callbacks_t *host);

/* The registry to give the engine (routes may still be added to it
 * before the engine is made). */
tarmac_callbacks_t *tarmac_host_callbacks_registry(tarmac_host_callbacks_t *host);

/* The first configured backend that /ready finds unreachable, as /ready's
 * body says it ("key-value store unreachable", "sql database
 * unreachable"; static text), or NULL when all are reachable (Tarmac
 * answers /ready 503 while its key-value store is not; we also while a
 * PostgreSQL or MariaDB database is not). Any thread; cheap: no round
 * trip, each backend is probed in the background (util/reachability.h). */
const char *tarmac_host_callbacks_unready(const tarmac_host_callbacks_t *host);

#endif
