/* server/app: a running service — what `tarmac serve` builds from its
 * settings before it opens the listener, and what it swaps while it runs.
 *
 * Two lifetimes (docs/architecture.md, "Hot reload"):
 * - built once, for the whole process: the engine (its compile cache
 *   makes an unchanged module cheap to load again), the host callbacks
 *   and their backends (key-value store, SQL, HTTP client), the
 *   function-call callback, the metrics registry and the process-wide
 *   concurrency gate;
 * - built again by every reload, as one generation (server/generation.h):
 *   the service file's model, the modules, the functions with their pools
 *   and limits, the routes, the call table, init jobs, scheduled tasks.
 * The HTTP handler serves each request with the generation current when
 * it arrived, holding a reference until it is answered (server/current.h);
 * a replaced generation is freed by the reload thread once its last
 * request has ended.
 *
 * Owns all of it; tarmac_app_free releases it in reverse order. Built and
 * driven by one thread at a time (serve.c's main thread, then the watcher
 * thread for reloads); the HTTP handler, the tasks and the callbacks it
 * hands out run on any thread. */
#ifndef TARMAC_SERVER_APP_H
#define TARMAC_SERVER_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"
#include "metrics/metrics.h"
#include "server/config.h"

typedef struct tarmac_app tarmac_app_t;

/* Makes what lives across reloads, then the first generation: loads the
 * service file or the single module, compiles every module (each file
 * once), makes the pools and routes. NULL with err set: one line per
 * problem, each naming the file, service, route or function. */
tarmac_app_t *tarmac_app_new(const tarmac_server_config_t *config, char *err,
                             size_t err_size);
void tarmac_app_free(tarmac_app_t *app);

/* Runs the first generation's init functions in file order, each with
 * its retries. 0, or -1 with the failing function's last error (or
 * "stopped" after tarmac_app_interrupt). */
int tarmac_app_run_init(tarmac_app_t *app, char *err, size_t err_size);
/* Makes a running or later init run (start-up's or a reload's) return at
 * once (a signal arrived). Any thread. */
void tarmac_app_interrupt(tarmac_app_t *app);

/* Starts the scheduled tasks (none: nothing to do); from then on every
 * reload stops the old generation's and starts the new one's. 0 or -1
 * with err. */
int tarmac_app_start_tasks(tarmac_app_t *app, char *err, size_t err_size);
/* Stops them, waiting up to timeout_ms for running ones. False when one
 * did not end in time (it still uses the app: do not free it). */
bool tarmac_app_stop_tasks(tarmac_app_t *app, unsigned timeout_ms);

/* Builds a new generation from the files as they are now (compile,
 * validate, start instances, run its init functions), then switches to
 * it: requests already running finish on the old one, new requests get
 * the new one. On the caller's thread, which must not be an event loop's
 * or a request's. 0 with a summary in err ("generation N (K functions)"),
 * or -1 with err set (one line per problem, each naming the file): the
 * old generation keeps serving. A tarmac_reload_fn (server/watch.h);
 * data is the app. */
int tarmac_app_reload(void *data, char *err, size_t err_size);

/* The files a reload reads: the service file and every module of the
 * current generation and of the last version of the service file read
 * (service mode), or the module (single-function mode). Valid until the
 * next tarmac_app_reload; count in *count. */
const char *const *tarmac_app_files(const tarmac_app_t *app, size_t *count);

/* The metrics registry (NULL: metrics off); lives as long as the app. */
tarmac_metrics_t *tarmac_app_metrics(tarmac_app_t *app);

/* The HTTP handler and its data (the app). */
tarmac_http_handler_fn tarmac_app_http_handler(void);
void *tarmac_app_http_data(tarmac_app_t *app);

/* The current generation's function count and one-line summary (for the
 * start-up log; from the thread driving the app). */
size_t tarmac_app_function_count(const tarmac_app_t *app);
const char *tarmac_app_summary(const tarmac_app_t *app);

/* Logs each function's counters (at shutdown). */
void tarmac_app_log_stats(const tarmac_app_t *app);

#endif
