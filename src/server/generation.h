/* server/generation: what a reload replaces, built as one whole — the
 * service file's model (or single-function mode's one function), the
 * loaded modules, the functions with their pools and limits, the HTTP
 * routes, the function-call table, the init jobs and the scheduled tasks.
 *
 * What lives across reloads is given in tarmac_generation_env_t and stays
 * its owner's (server/app): the engine (its compile cache makes unchanged
 * modules cheap to load again), the host callbacks and their backends, the
 * metrics registry and the process-wide concurrency gate.
 *
 * Owns: everything else above; tarmac_generation_free releases it once no
 * request, task or init job runs in it (server/current counts requests).
 * Built and driven by one thread; its routes, functions and tasks run on
 * any thread. */
#ifndef TARMAC_SERVER_GENERATION_H
#define TARMAC_SERVER_GENERATION_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"
#include "metrics/metrics.h"
#include "server/admission.h"
#include "server/config.h"
#include "server/routes.h"

typedef struct tarmac_generation tarmac_generation_t;

typedef struct {
  const tarmac_server_config_t *config;
  tarmac_engine_t *engine;
  tarmac_metrics_t *metrics;     /* NULL: metrics off */
  tarmac_admission_t *admission; /* the process-wide gate */
  /* what /ready asks (server/routes.h) */
  const char *(*backends_unready)(const void *data);
  const void *backends_data;
  unsigned long number; /* 1 at start, +1 per successful reload */
} tarmac_generation_env_t;

/* Loads the service file or the single module, compiles every module
 * (each file once), makes the pools and routes. NULL with err set: one
 * line per problem, each naming the file, service, route or function.
 * env and what it points to must outlive the generation. */
tarmac_generation_t *tarmac_generation_new(const tarmac_generation_env_t *env,
                                           char *err, size_t err_size);
void tarmac_generation_free(tarmac_generation_t *gen);

/* Runs the init functions in file order, each with its retries; the
 * waits between retries end when stop_fd becomes readable. 0, or -1 with
 * the failing function's last error. */
int tarmac_generation_run_init(tarmac_generation_t *gen, int stop_fd,
                               char *err, size_t err_size);

/* Starts the scheduled tasks (none: nothing to do). 0 or -1 with err. */
int tarmac_generation_start_tasks(tarmac_generation_t *gen, char *err,
                                  size_t err_size);
/* Stops them, waiting up to timeout_ms for running ones. False when one
 * did not end in time (it still uses the generation: do not free it). */
bool tarmac_generation_stop_tasks(tarmac_generation_t *gen,
                                  unsigned timeout_ms);

/* The routes the HTTP handler serves this generation with. */
tarmac_routes_t *tarmac_generation_routes(tarmac_generation_t *gen);

unsigned long tarmac_generation_number(const tarmac_generation_t *gen);
size_t tarmac_generation_function_count(const tarmac_generation_t *gen);
/* A one-line summary for the log. */
const char *tarmac_generation_summary(const tarmac_generation_t *gen);
/* The files it was built from, i = 0 .. up to NULL: the service file and
 * every function's module (service mode; a module shared by functions
 * comes once per function), or the one module. Valid while gen lives. */
const char *tarmac_generation_file(const tarmac_generation_t *gen, size_t i);

/* Writes its pool gauges (tarmac_instances_ready/busy) into a metrics
 * collector's sink. */
void tarmac_generation_collect(const tarmac_generation_t *gen,
                               tarmac_metrics_sink_t *sink);
/* Logs each function's counters. */
void tarmac_generation_log_stats(const tarmac_generation_t *gen);

#endif
