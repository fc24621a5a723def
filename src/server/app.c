/* What a service keeps for its whole life, its current generation, and
 * reloads that replace the generation. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "callbacks/registry.h"
#include "engine/engine.h"
#include "log/log.h"
#include "server/app.h"
#include "server/calls.h"
#include "server/current.h"
#include "server/generation.h"
#include "server/host_callbacks.h"
#include "server/routes.h"
#include "service/service_file.h"

/* How long the reload thread waits for the requests of a replaced
 * generation before it logs, and before it leaves the generation for a
 * later reload (or the shutdown) to free. Requests are bounded by their
 * deadlines; these only keep a stuck one from blocking reloads. */
#define RETIRE_STEP_MS 100u
#define RETIRE_LOG_MS 1000u
#define RETIRE_WAIT_MS 30000u

/* A replaced generation whose requests or tasks had not ended in time. */
typedef struct {
  tarmac_current_slot_t *slot;
  tarmac_generation_t *gen;
} retired_t;

struct tarmac_app {
  const tarmac_server_config_t *config; /* the caller's; outlives the app */
  tarmac_host_callbacks_t *host;        /* the registry and its backends */
  tarmac_callbacks_t *callbacks;        /* host's registry */
  tarmac_metrics_t *metrics;            /* NULL: APP_ENABLE_METRICS=false */
  tarmac_engine_t *engine;
  tarmac_admission_t *admission;        /* the process-wide gate */
  tarmac_metric_series_t *generation_gauge; /* NULL: metrics off */
  tarmac_current_t *current;     /* what requests take */
  tarmac_generation_t *serving;  /* the same, for the driving thread */
  unsigned long last_number;     /* of the newest generation built */
  bool tasks_started;            /* tarmac_app_start_tasks was called */
  retired_t *retired;
  size_t retired_count;
  char **files; /* tarmac_app_files; owned strings */
  size_t file_count;
  int init_stop; /* eventfd: readable once a signal arrived */
};

/* ---- what lives across reloads ------------------------------------------ */

static int make_engine(tarmac_app_t *app, char *err, size_t err_size) {
  if (app->config->enable_metrics) {
    app->metrics = tarmac_metrics_new();
    if (app->metrics == NULL)
      return snprintf(err, err_size, "out of memory"), -1;
  }
  app->host = tarmac_host_callbacks_new(app->config, app->metrics, err,
                                        err_size);
  if (app->host == NULL) return -1;
  app->callbacks = tarmac_host_callbacks_registry(app->host);
  /* before the engine shares the registry: added once, for every
   * generation (server/calls.h finds the caller's) */
  if (tarmac_calls_register(app->callbacks) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  tarmac_engine_config_t engine_config = {
      .callbacks = app->callbacks,
      .memory_limit = app->config->memory_limit,
      .timeout_ms = app->config->timeout_ms};
  tarmac_error_t e;
  app->engine = tarmac_engine_new(&engine_config, &e);
  if (app->engine == NULL) return snprintf(err, err_size, "%s", e.message), -1;
  app->admission = tarmac_admission_new(app->config->max_concurrency,
                                        app->config->queue_timeout_ms);
  if (app->admission == NULL)
    return snprintf(err, err_size, "out of memory"), -1;
  return 0;
}

static const char *backends_unready(const void *data) {
  return tarmac_host_callbacks_unready(data);
}

static tarmac_generation_env_t generation_env(const tarmac_app_t *app) {
  return (tarmac_generation_env_t){.config = app->config,
                                   .engine = app->engine,
                                   .metrics = app->metrics,
                                   .admission = app->admission,
                                   .backends_unready = backends_unready,
                                   .backends_data = app->host,
                                   .number = app->last_number + 1};
}

/* ---- metrics collected at scrape time, and the generation gauge -------- */

static void collect_instances(void *data, tarmac_metrics_sink_t *sink) {
  tarmac_app_t *app = data;
  tarmac_current_slot_t *slot;
  const tarmac_generation_t *gen = tarmac_current_acquire(app->current, &slot);
  tarmac_generation_collect(gen, sink);
  tarmac_current_release(slot);
}

static int make_metrics(tarmac_app_t *app, char *err, size_t err_size) {
  if (app->metrics == NULL) return 0;
  tarmac_metric_family_t *f = tarmac_metrics_family(
      app->metrics, TARMAC_METRIC_GAUGE, "tarmac_functions_generation",
      "Generation of the service's functions serving now: 1 at start, one "
      "more per successful reload",
      NULL, 0, NULL, 0, err, err_size);
  if (f == NULL) return -1;
  app->generation_gauge = tarmac_metric_series(f, NULL);
  if (app->generation_gauge == NULL ||
      tarmac_metrics_add_collector(app->metrics, collect_instances, app) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  tarmac_metric_set(app->generation_gauge, (double)app->last_number);
  return 0;
}

/* ---- the files a reload reads ------------------------------------------- */

static void free_files(char **files, size_t count) {
  for (size_t i = 0; i < count; i++) free(files[i]);
  free(files);
}

/* Appends path to the list unless it is there. 0 or -1 (memory). */
static int add_file(char ***files, size_t *count, const char *path) {
  for (size_t i = 0; i < *count; i++)
    if (strcmp((*files)[i], path) == 0) return 0;
  char **grown = realloc(*files, (*count + 1) * sizeof(**files));
  if (grown == NULL) return -1;
  *files = grown;
  if ((grown[*count] = strdup(path)) == NULL) return -1;
  (*count)++;
  return 0;
}

static int add_generation_files(char ***files, size_t *count,
                                const tarmac_generation_t *gen) {
  const char *path;
  for (size_t i = 0; (path = tarmac_generation_file(gen, i)) != NULL; i++)
    if (add_file(files, count, path) != 0) return -1;
  return 0;
}

/* The modules a service file names now, even when it failed to build:
 * a module that does not exist yet is watched for. */
static int add_model_files(char ***files, size_t *count, const char *path) {
  tarmac_service_file_t *file = NULL;
  char err[256];
  if (tarmac_service_file_load(path, &file, err, sizeof err) != 0) return 0;
  int rc = 0;
  for (size_t i = 0; i < file->function_count && rc == 0; i++)
    rc = add_file(files, count, file->functions[i].filepath);
  tarmac_service_file_free(file);
  return rc;
}

/* Refreshes tarmac_app_files: at start (built is the one serving), or
 * after a reload attempt (`built` is the new generation, NULL when it
 * failed). Out of memory keeps the old list. */
static void remember_files(tarmac_app_t *app,
                           const tarmac_generation_t *built) {
  const tarmac_server_config_t *c = app->config;
  bool service = c->wasm_function_config[0] != '\0';
  char **files = NULL;
  size_t count = 0;
  int rc = add_file(&files, &count, service ? c->wasm_function_config
                                            : c->wasm_module);
  if (rc == 0) rc = add_generation_files(&files, &count, app->serving);
  if (rc == 0 && built != NULL)
    rc = add_generation_files(&files, &count, built);
  if (rc == 0 && built == NULL && service)
    rc = add_model_files(&files, &count, c->wasm_function_config);
  if (rc != 0) {
    free_files(files, count);
    return;
  }
  free_files(app->files, app->file_count);
  app->files = files;
  app->file_count = count;
}

const char *const *tarmac_app_files(const tarmac_app_t *app, size_t *count) {
  *count = app->file_count;
  return (const char *const *)app->files;
}

/* ---- replaced generations ------------------------------------------------ */

/* Frees a replaced generation once its tasks and requests have ended
 * (within wait_ms): true when it is gone. */
static bool free_if_done(tarmac_app_t *app, tarmac_current_slot_t *slot,
                         tarmac_generation_t *gen, unsigned wait_ms) {
  if (!tarmac_generation_stop_tasks(gen, wait_ms) ||
      !tarmac_current_wait_idle(slot, wait_ms))
    return false;
  tarmac_generation_free(gen);
  tarmac_current_recycle(app->current, slot);
  return true;
}

/* Frees replaced generations that a reload had to leave behind. */
static void sweep_retired(tarmac_app_t *app, unsigned wait_ms) {
  size_t kept = 0;
  for (size_t i = 0; i < app->retired_count; i++) {
    retired_t r = app->retired[i];
    if (!free_if_done(app, r.slot, r.gen, wait_ms)) app->retired[kept++] = r;
  }
  app->retired_count = kept;
}

/* Whether a signal asked the server to stop (init_stop is readable). */
static bool stopping(const tarmac_app_t *app) {
  struct pollfd p = {.fd = app->init_stop, .events = POLLIN};
  return poll(&p, 1, 0) == 1;
}

/* Waits for the last request of a replaced generation, on the reload
 * thread, then frees it. A generation still busy after RETIRE_WAIT_MS, or
 * when the server is stopping (the shutdown must not wait for this), is
 * left for a later reload or the shutdown to free. */
static void retire(tarmac_app_t *app, tarmac_current_slot_t *slot,
                   tarmac_generation_t *gen) {
  unsigned long number = tarmac_generation_number(gen);
  for (unsigned waited = 0; waited < RETIRE_WAIT_MS && !stopping(app);
       waited += RETIRE_STEP_MS) {
    if (free_if_done(app, slot, gen, RETIRE_STEP_MS)) return;
    if (waited == RETIRE_LOG_MS)
      tarmac_logf(TARMAC_LOG_INFO,
                  "waiting for %ld request(s) of generation %lu to end",
                  tarmac_current_slot_refs(slot), number);
  }
  retired_t *grown = realloc(app->retired,
                             (app->retired_count + 1) * sizeof(*grown));
  if (grown == NULL) {
    /* cannot even remember it: it stays allocated until exit */
    tarmac_logf(TARMAC_LOG_ERROR, "out of memory: generation %lu is leaked",
                number);
    return;
  }
  app->retired = grown;
  app->retired[app->retired_count++] = (retired_t){slot, gen};
  if (!stopping(app))
    tarmac_logf(TARMAC_LOG_WARN,
                "generation %lu still has requests or tasks running after %u "
                "ms; it is freed after they end", number, RETIRE_WAIT_MS);
}

/* ---- reloads ------------------------------------------------------------ */

/* Makes gen current: new requests get it, tasks move to it, the old one
 * is freed after its last request. 0, or -1 with err (out of memory:
 * nothing changed; tasks that could not start: gen serves without them). */
static int switch_to(tarmac_app_t *app, tarmac_generation_t *gen, char *err,
                     size_t err_size) {
  tarmac_current_slot_t *old_slot = tarmac_current_publish(app->current, gen);
  if (old_slot == NULL) return snprintf(err, err_size, "out of memory"), -1;
  tarmac_generation_t *old = app->serving;
  app->serving = gen;
  app->last_number = tarmac_generation_number(gen);
  if (app->generation_gauge != NULL)
    tarmac_metric_set(app->generation_gauge, (double)app->last_number);
  int rc = 0;
  if (app->tasks_started) {
    /* old tasks stop before new ones start: a task never runs twice at
     * once across the switch (a stuck one is waited for when freed) */
    tarmac_generation_stop_tasks(old, app->config->shutdown_timeout_ms);
    char why[512];
    if (tarmac_generation_start_tasks(gen, why, sizeof why) != 0) {
      snprintf(err, err_size,
               "generation %lu serves, but its scheduled tasks did not "
               "start: %s", app->last_number, why);
      rc = -1;
    }
  }
  retire(app, old_slot, old);
  return rc;
}

int tarmac_app_reload(void *data, char *err, size_t err_size) {
  tarmac_app_t *app = data;
  sweep_retired(app, 0);
  tarmac_generation_env_t env = generation_env(app);
  tarmac_generation_t *gen = tarmac_generation_new(&env, err, err_size);
  remember_files(app, gen);
  if (gen == NULL) return -1;
  char why[2048];
  if (tarmac_generation_run_init(gen, app->init_stop, why, sizeof why) != 0) {
    snprintf(err, err_size, "%s", why);
    tarmac_generation_free(gen);
    return -1;
  }
  if (stopping(app)) { /* a signal arrived while it was built */
    snprintf(err, err_size, "the server is shutting down");
    tarmac_generation_free(gen);
    return -1;
  }
  if (switch_to(app, gen, err, err_size) != 0) {
    if (app->serving != gen) tarmac_generation_free(gen);
    return -1;
  }
  snprintf(err, err_size, "generation %lu (%zu functions)",
           tarmac_generation_number(gen),
           tarmac_generation_function_count(gen));
  return 0;
}

/* ---- the whole ---------------------------------------------------------- */

tarmac_app_t *tarmac_app_new(const tarmac_server_config_t *config, char *err,
                             size_t err_size) {
  tarmac_app_t *app = calloc(1, sizeof(*app));
  if (app == NULL) return snprintf(err, err_size, "out of memory"), NULL;
  app->config = config;
  app->init_stop = eventfd(0, EFD_CLOEXEC);
  if (app->init_stop < 0) {
    snprintf(err, err_size, "cannot make an eventfd: %s", strerror(errno));
    tarmac_app_free(app);
    return NULL;
  }
  if (make_engine(app, err, err_size) == 0) {
    tarmac_generation_env_t env = generation_env(app);
    app->serving = tarmac_generation_new(&env, err, err_size);
  }
  if (app->serving != NULL) {
    app->last_number = 1;
    app->current = tarmac_current_new(app->serving);
    if (app->current == NULL) snprintf(err, err_size, "out of memory");
  }
  if (app->current == NULL || make_metrics(app, err, err_size) != 0) {
    tarmac_app_free(app);
    return NULL;
  }
  remember_files(app, app->serving);
  return app;
}

void tarmac_app_free(tarmac_app_t *app) {
  if (app == NULL) return;
  sweep_retired(app, 0);
  for (size_t i = 0; i < app->retired_count; i++) /* cannot happen once */
    tarmac_logf(TARMAC_LOG_WARN, "generation %lu left running at exit",
                tarmac_generation_number(app->retired[i].gen));
  free(app->retired);
  tarmac_generation_free(app->serving);
  tarmac_current_free(app->current);
  free_files(app->files, app->file_count);
  tarmac_admission_free(app->admission);
  tarmac_engine_free(app->engine);
  tarmac_host_callbacks_free(app->host);
  tarmac_metrics_free(app->metrics);
  if (app->init_stop >= 0) close(app->init_stop);
  free(app);
}

int tarmac_app_run_init(tarmac_app_t *app, char *err, size_t err_size) {
  return tarmac_generation_run_init(app->serving, app->init_stop, err,
                                    err_size);
}

void tarmac_app_interrupt(tarmac_app_t *app) {
  uint64_t one = 1;
  /* an eventfd counter cannot overflow from a few signals */
  if (write(app->init_stop, &one, sizeof one) != sizeof one)
    tarmac_logf(TARMAC_LOG_WARN, "cannot interrupt init functions: %s",
                strerror(errno));
}

int tarmac_app_start_tasks(tarmac_app_t *app, char *err, size_t err_size) {
  app->tasks_started = true;
  return tarmac_generation_start_tasks(app->serving, err, err_size);
}

bool tarmac_app_stop_tasks(tarmac_app_t *app, unsigned timeout_ms) {
  app->tasks_started = false;
  return tarmac_generation_stop_tasks(app->serving, timeout_ms);
}

/* Serves the request with the generation current at its arrival, held
 * until it is answered: the handler returns only once the guest has
 * returned, even when its thread handed its event loop on meanwhile
 * (http/server.c runs the rest of the loop on another thread). */
static void handle(void *data, const tarmac_http_request_t *req,
                   tarmac_http_response_t *res) {
  tarmac_app_t *app = data;
  tarmac_current_slot_t *slot;
  tarmac_generation_t *gen = tarmac_current_acquire(app->current, &slot);
  tarmac_routes_handle(tarmac_generation_routes(gen), req, res);
  tarmac_current_release(slot);
}

tarmac_http_handler_fn tarmac_app_http_handler(void) { return handle; }

tarmac_metrics_t *tarmac_app_metrics(tarmac_app_t *app) { return app->metrics; }

void *tarmac_app_http_data(tarmac_app_t *app) { return app; }

size_t tarmac_app_function_count(const tarmac_app_t *app) {
  return tarmac_generation_function_count(app->serving);
}

const char *tarmac_app_summary(const tarmac_app_t *app) {
  return tarmac_generation_summary(app->serving);
}

void tarmac_app_log_stats(const tarmac_app_t *app) {
  tarmac_generation_log_stats(app->serving);
  tarmac_logf(TARMAC_LOG_INFO,
              "%llu requests refused over the concurrency limit",
              (unsigned long long)tarmac_admission_stats(app->admission)
                  .refused);
}
