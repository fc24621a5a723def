/* server/app: a running service — everything `tarmac serve` builds from its
 * settings before it opens the listener, and what it runs besides HTTP.
 * In service mode (APP_WASM_FUNCTION_CONFIG) that is every function of the
 * service file with its pool and limits, the HTTP routes, the init jobs,
 * the scheduled tasks and the function-call table; in single-function mode
 * it is one function serving every path. Either way: the engine, the host
 * callbacks (logging, metrics, function calls) and the metrics registry.
 *
 * Owns all of it; tarmac_app_free releases it in reverse order. Built and
 * driven by one thread (serve.c); the HTTP handler, the tasks and the
 * callbacks it hands out run on any thread. */
#ifndef TARMAC_SERVER_APP_H
#define TARMAC_SERVER_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"
#include "server/config.h"

typedef struct tarmac_app tarmac_app_t;

/* Loads the service file or the single module, compiles every module
 * (each file once), makes the pools and routes. NULL with err set: one
 * line per problem, each naming the file, service, route or function. */
tarmac_app_t *tarmac_app_new(const tarmac_server_config_t *config, char *err,
                             size_t err_size);
void tarmac_app_free(tarmac_app_t *app);

/* Runs the init functions in file order, each with its retries. 0, or -1
 * with the failing function's last error (or "stopped" after
 * tarmac_app_interrupt). */
int tarmac_app_run_init(tarmac_app_t *app, char *err, size_t err_size);
/* Makes a running or later tarmac_app_run_init return at once (a signal
 * arrived). Any thread. */
void tarmac_app_interrupt(tarmac_app_t *app);

/* Starts the scheduled tasks (none: nothing to do). 0 or -1 with err. */
int tarmac_app_start_tasks(tarmac_app_t *app, char *err, size_t err_size);
/* Stops them, waiting up to timeout_ms for running ones. False when one
 * did not end in time (it still uses the app: do not free it). */
bool tarmac_app_stop_tasks(tarmac_app_t *app, unsigned timeout_ms);

/* The HTTP handler and its data. */
tarmac_http_handler_fn tarmac_app_http_handler(void);
void *tarmac_app_http_data(tarmac_app_t *app);

/* How many functions, and a one-line summary for the start-up log. */
size_t tarmac_app_function_count(const tarmac_app_t *app);
const char *tarmac_app_summary(const tarmac_app_t *app);

/* Logs each function's counters (at shutdown). */
void tarmac_app_log_stats(const tarmac_app_t *app);

#endif
