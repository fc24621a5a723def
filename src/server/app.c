/* Building a service from its settings, and running its init jobs and
 * scheduled tasks. */
#include <errno.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "callbacks/registry.h"
#include "engine/engine.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "server/app.h"
#include "server/calls.h"
#include "server/host_callbacks.h"
#include "server/init_jobs.h"
#include "server/routes.h"
#include "server/scheduler.h"
#include "service/service_file.h"
#include "util/buffer.h"

/* Triggers other than HTTP (init, schedule) invoke this operation with an
 * empty payload, as Tarmac does, whatever contract the function's HTTP
 * routes speak. */
static const char trigger_op[] = "handler";

struct tarmac_app {
  const tarmac_server_config_t *config; /* the caller's; outlives the app */
  tarmac_service_file_t *file;          /* service mode; owned */
  tarmac_service_file_t single;         /* single-function mode's model */
  tarmac_service_function_t single_fn;
  char single_name[256];
  tarmac_host_callbacks_t *host; /* the registry and its backends */
  tarmac_callbacks_t *callbacks; /* host's registry */
  tarmac_metrics_t *metrics; /* NULL: APP_ENABLE_METRICS=false */
  tarmac_engine_t *engine;
  tarmac_module_t **modules; /* per function; one load per distinct file */
  tarmac_function_t *functions;
  tarmac_function_t **function_list; /* pointers to the above */
  size_t function_count;
  tarmac_admission_t *admission; /* the process-wide gate */
  tarmac_routes_t *routes;
  tarmac_calls_t *calls;
  tarmac_metric_family_t *task_durations, *task_failures;
  tarmac_task_t *tasks;
  size_t task_count;
  tarmac_scheduler_t *scheduler;
  int init_stop; /* eventfd: readable once a signal arrived */
  char summary[256];
};

/* ---- the model -------------------------------------------------------- */

static const tarmac_service_file_t *model(const tarmac_app_t *app) {
  return app->file != NULL ? app->file : &app->single;
}

/* Single-function mode as a one-function model with no routes (the
 * function becomes the default route: every path). */
static int single_model(tarmac_app_t *app, char *err, size_t err_size) {
  const tarmac_server_config_t *c = app->config;
  tarmac_service_function_t *f = &app->single_fn;
  char copy[sizeof c->wasm_module];
  snprintf(copy, sizeof copy, "%s", c->wasm_module);
  const char *base = basename(copy);
  size_t len = strlen(base);
  if (len > 5 && strcmp(base + len - 5, ".wasm") == 0) len -= 5;
  snprintf(app->single_name, sizeof app->single_name, "%.*s", (int)len, base);
  *f = (tarmac_service_function_t){.name = app->single_name,
                                   .service = app->single_name,
                                   .filepath = (char *)c->wasm_module,
                                   .pool_wait_ms = -1,
                                   .reuse_instances = -1};
  f->contract = c->wasm_module_is_seed ? TARMAC_CONTRACT_SEED
                                       : TARMAC_CONTRACT_V04;
  if (c->wasm_contract[0] != '\0' &&
      tarmac_contract_parse(c->wasm_contract, &f->contract) != 0) {
    snprintf(err, err_size,
             "APP_WASM_CONTRACT=%s is not a contract (seed, v0.1, v0.2, "
             "v0.3 or v0.4)", c->wasm_contract);
    return -1;
  }
  app->single = (tarmac_service_file_t){.functions = f, .function_count = 1};
  return 0;
}

/* ---- engine, modules ------------------------------------------------- */

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
  tarmac_engine_config_t engine_config = {
      .callbacks = app->callbacks,
      .memory_limit = app->config->memory_limit,
      .timeout_ms = app->config->timeout_ms};
  tarmac_error_t e;
  app->engine = tarmac_engine_new(&engine_config, &e);
  if (app->engine == NULL) return snprintf(err, err_size, "%s", e.message), -1;
  return 0;
}

/* The problem's context: "<file>: service "s": function "f": " in
 * service mode, nothing in single-function mode (the path says it all). */
static void function_context(const tarmac_app_t *app,
                             const tarmac_service_function_t *f, char *out,
                             size_t size) {
  if (app->file == NULL)
    snprintf(out, size, "%s", "");
  else
    snprintf(out, size, "%s: service \"%s\", function \"%s\": ",
             app->file->path, f->service, f->name);
}

/* The module of an earlier function with the same file: loaded once. */
static tarmac_module_t *loaded_before(const tarmac_app_t *app, size_t i) {
  const tarmac_service_function_t *f = &model(app)->functions[i];
  for (size_t j = 0; j < i; j++)
    if (app->modules[j] != NULL &&
        strcmp(model(app)->functions[j].filepath, f->filepath) == 0)
      return app->modules[j];
  return NULL;
}

static int load_module(tarmac_app_t *app, size_t i, tarmac_buffer_t *problems) {
  const tarmac_service_function_t *f = &model(app)->functions[i];
  char where[600];
  function_context(app, f, where, sizeof where);
  tarmac_module_t *earlier = loaded_before(app, i);
  if (earlier != NULL) {
    tarmac_module_retain(earlier);
    app->modules[i] = earlier;
    return 0;
  }
  if (access(f->filepath, R_OK) != 0)
    return tarmac_buffer_appendf(problems, "%scannot read module %s: %s\n",
                                 where, f->filepath, strerror(errno)),
           -1;
  tarmac_error_t e;
  if (tarmac_module_load(app->engine, f->filepath, f->name, &app->modules[i],
                         &e) != TARMAC_LOAD_OK)
    return tarmac_buffer_appendf(problems, "%scannot load module %s: %s\n",
                                 where, f->filepath, e.message),
           -1;
  return 0;
}

/* Every module, each file once; every failure reported. */
static int load_modules(tarmac_app_t *app, char *err, size_t err_size) {
  size_t n = model(app)->function_count;
  app->modules = calloc(n, sizeof(*app->modules));
  if (app->modules == NULL) return snprintf(err, err_size, "out of memory"), -1;
  tarmac_buffer_t problems = TARMAC_BUFFER_INIT;
  int rc = 0;
  for (size_t i = 0; i < n; i++)
    if (load_module(app, i, &problems) != 0) rc = -1;
  if (rc != 0) {
    if (problems.len > 0) problems.len--; /* the last line's newline */
    snprintf(err, err_size, "%.*s", (int)problems.len,
             problems.data ? (const char *)problems.data : "out of memory");
  }
  tarmac_buffer_free(&problems);
  return rc;
}

/* ---- functions and their pools --------------------------------------- */

static unsigned pick(unsigned value, unsigned fallback) {
  return value ? value : fallback;
}

static tarmac_pool_config_t pool_config(const tarmac_app_t *app,
                                        const tarmac_service_function_t *f) {
  const tarmac_server_config_t *c = app->config;
  bool reuse = f->reuse_instances >= 0 ? f->reuse_instances != 0
                                       : c->reuse_instances;
  return (tarmac_pool_config_t){
      .name = f->name,
      .size = pick(f->pool_size, c->pool_size),
      .warm = 1,
      .fresh = !reuse,
      .wait_ms = f->pool_wait_ms >= 0 ? (unsigned)f->pool_wait_ms
                                      : c->pool_wait_ms,
      .limits = {.timeout_ms = pick(f->timeout_ms, c->timeout_ms),
                 .memory_limit = f->memory_limit ? f->memory_limit
                                                 : c->memory_limit}};
}

static int make_metric_series(tarmac_function_t *fn,
                              tarmac_metric_family_t *durations) {
  if (durations == NULL) return 0;
  const char *labels[1] = {fn->name};
  fn->duration = tarmac_metric_series(durations, labels);
  return fn->duration != NULL ? 0 : -1;
}

static int make_function(tarmac_app_t *app, size_t i,
                         tarmac_metric_family_t *durations,
                         tarmac_metric_family_t *traps, char *err,
                         size_t err_size) {
  const tarmac_service_function_t *f = &model(app)->functions[i];
  tarmac_function_t *fn = &app->functions[i];
  tarmac_pool_config_t pc = pool_config(app, f);
  *fn = (tarmac_function_t){.name = f->name, .contract = f->contract,
                            .timeout_ms = pc.limits.timeout_ms,
                            .pool_size = pc.size, .traps_family = traps};
  char where[600];
  function_context(app, f, where, sizeof where);
  tarmac_error_t e;
  fn->pool = tarmac_pool_new(app->modules[i], &pc, &e);
  if (fn->pool == NULL)
    return snprintf(err, err_size, "%scannot instantiate module %s: %s",
                    where, f->filepath, e.message),
           -1;
  if (f->max_concurrency != 0) {
    fn->admission = tarmac_admission_new(f->max_concurrency,
                                         app->config->queue_timeout_ms);
    if (fn->admission == NULL)
      return snprintf(err, err_size, "out of memory"), -1;
  }
  if (make_metric_series(fn, durations) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  app->function_list[i] = fn;
  return 0;
}

/* Says how the worst case of every full pool compares with the process
 * guest memory budget: past it, requests are answered 503, not the
 * machine's memory exhausted. */
static void log_memory_budget(const tarmac_app_t *app) {
  const tarmac_server_config_t *c = app->config;
  uint64_t worst = 0;
  for (size_t i = 0; i < app->function_count; i++) {
    tarmac_pool_config_t pc = pool_config(app, &model(app)->functions[i]);
    uint64_t ceiling = pc.limits.memory_limit ? pc.limits.memory_limit
                                              : TARMAC_RT_DEFAULT_MEMORY_LIMIT;
    worst += (uint64_t)pc.size * ceiling;
  }
  tarmac_rt_set_memory_budget(c->memory_total_limit);
  bool over = worst > c->memory_total_limit;
  tarmac_logf(over ? TARMAC_LOG_WARN : TARMAC_LOG_INFO,
              "guest memory budget %llu bytes; every pool full at its memory "
              "ceiling would use %llu (%s)",
              (unsigned long long)c->memory_total_limit,
              (unsigned long long)worst,
              over ? "more than the budget: instances past it answer 503"
                   : "within the budget");
}

static int make_functions(tarmac_app_t *app, char *err, size_t err_size) {
  size_t n = model(app)->function_count;
  app->functions = calloc(n, sizeof(*app->functions));
  app->function_list = calloc(n, sizeof(*app->function_list));
  if (app->functions == NULL || app->function_list == NULL)
    return snprintf(err, err_size, "out of memory"), -1;
  tarmac_metric_family_t *durations = NULL, *traps = NULL;
  if (app->metrics != NULL) {
    static const char *const fn_label[] = {"function"};
    static const char *const trap_labels[] = {"function", "kind"};
    durations = tarmac_metrics_family(
        app->metrics, TARMAC_METRIC_HISTOGRAM,
        "tarmac_function_duration_seconds",
        "Time a function's guest ran per invocation, any trigger", fn_label,
        1, NULL, 0, err, err_size);
    traps = tarmac_metrics_family(
        app->metrics, TARMAC_METRIC_COUNTER, "tarmac_traps_total",
        "Invocations that ended in a trap, per function and trap kind",
        trap_labels, 2, NULL, 0, err, err_size);
    if (durations == NULL || traps == NULL) return -1;
  }
  log_memory_budget(app);
  for (size_t i = 0; i < n; i++) {
    app->function_count = i + 1; /* freed with the others if it fails */
    if (make_function(app, i, durations, traps, err, err_size) != 0) return -1;
  }
  return 0;
}

/* ---- routes and calls ------------------------------------------------- */

static tarmac_function_t *function_named(const tarmac_app_t *app,
                                         const char *name) {
  for (size_t i = 0; i < app->function_count; i++)
    if (strcmp(app->functions[i].name, name) == 0) return &app->functions[i];
  return NULL;
}

static int add_http_route(tarmac_app_t *app, const tarmac_service_route_t *r,
                          char *err, size_t err_size) {
  for (size_t m = 0; m < r->method_count; m++)
    if (tarmac_routes_add(app->routes, r->methods[m], r->path,
                          &app->functions[r->function], err, err_size) != 0)
      return -1;
  return 0;
}

static const char *backends_unready(const void *data) {
  return tarmac_host_callbacks_unready(data);
}

static int make_routes(tarmac_app_t *app, char *err, size_t err_size) {
  const tarmac_server_config_t *c = app->config;
  app->admission = tarmac_admission_new(c->max_concurrency,
                                        c->queue_timeout_ms);
  if (app->admission == NULL) return snprintf(err, err_size, "out of memory"), -1;
  tarmac_routes_config_t rc = {.admission = app->admission,
                               .metrics = app->metrics,
                               .maintenance_mode = c->maintenance_mode,
                               .backends_unready = backends_unready,
                               .backends_data = app->host};
  app->routes = tarmac_routes_new(&rc, err, err_size);
  if (app->routes == NULL) return -1;
  const tarmac_service_file_t *m = model(app);
  for (size_t i = 0; i < m->route_count; i++) {
    const tarmac_service_route_t *r = &m->routes[i];
    if (r->type == TARMAC_ROUTE_FUNCTION) app->functions[r->function].callable = true;
    if (r->type == TARMAC_ROUTE_HTTP && add_http_route(app, r, err, err_size))
      return -1;
  }
  tarmac_function_t *fallback = app->file == NULL
                                    ? &app->functions[0]
                                    : function_named(app, "default");
  if (fallback != NULL && tarmac_routes_set_default(app->routes, fallback) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  app->calls = tarmac_calls_new(app->function_list, app->function_count,
                                c->call_depth_limit);
  if (app->calls == NULL || tarmac_calls_register(app->calls, app->callbacks))
    return snprintf(err, err_size, "out of memory"), -1;
  return 0;
}

/* ---- metrics collected at scrape time -------------------------------- */

/* One gauge family of every function's pool counts. */
static void sink_pool_gauge(const tarmac_app_t *app, tarmac_metrics_sink_t *sink,
                            const tarmac_pool_stats_t *st, bool busy,
                            const char *name, const char *help) {
  static const char *const label[] = {"function"};
  tarmac_metrics_sink_family(sink, TARMAC_METRIC_GAUGE, name, help);
  for (size_t i = 0; i < app->function_count; i++)
    tarmac_metrics_sink_sample(sink, label, &app->functions[i].name, 1,
                               (double)(busy ? st[i].busy : st[i].idle));
}

static void collect_instances(void *data, tarmac_metrics_sink_t *sink) {
  const tarmac_app_t *app = data;
  tarmac_pool_stats_t *st = calloc(app->function_count, sizeof(*st));
  if (st == NULL) return;
  for (size_t i = 0; i < app->function_count; i++)
    st[i] = tarmac_pool_stats(app->functions[i].pool);
  sink_pool_gauge(app, sink, st, false, "tarmac_instances_ready",
                  "Instances of a function ready to run");
  sink_pool_gauge(app, sink, st, true, "tarmac_instances_busy",
                  "Instances of a function running a guest");
  free(st);
}

/* ---- init jobs --------------------------------------------------------- */

typedef struct {
  tarmac_function_t *fn;
  char *err;
  size_t err_size;
  int rc;
} trigger_t;

static void trigger_result(void *ctx, const tarmac_call_result_t *result) {
  trigger_t *t = ctx;
  t->rc = result->status == TARMAC_CALL_OK ? 0 : -1;
  if (t->rc != 0)
    tarmac_function_describe_failure(t->fn, result, t->err, t->err_size);
}

/* Runs the function once with an empty payload: 0, or -1 with err. */
static int trigger(void *data, char *err, size_t err_size) {
  trigger_t t = {.fn = data, .err = err, .err_size = err_size, .rc = -1};
  tarmac_error_t e;
  if (tarmac_function_run(t.fn, trigger_op, sizeof(trigger_op) - 1,
                          (const uint8_t *)"", 0, trigger_result, &t,
                          &e) != 0) {
    tarmac_function_describe_unavailable(t.fn, &e, err, err_size);
    return -1;
  }
  return t.rc;
}

int tarmac_app_run_init(tarmac_app_t *app, char *err, size_t err_size) {
  const tarmac_service_file_t *m = model(app);
  for (size_t i = 0; i < m->route_count; i++) {
    const tarmac_service_route_t *r = &m->routes[i];
    if (r->type != TARMAC_ROUTE_INIT) continue;
    tarmac_function_t *fn = &app->functions[r->function];
    tarmac_logf(TARMAC_LOG_INFO, "running init function %s", fn->name);
    if (tarmac_init_run(fn->name, trigger, fn, r->retries,
                        (uint64_t)r->frequency_s * 1000u, app->init_stop,
                        err, err_size) != 0)
      return -1;
  }
  return 0;
}

void tarmac_app_interrupt(tarmac_app_t *app) {
  uint64_t one = 1;
  /* an eventfd counter cannot overflow from a few signals */
  if (write(app->init_stop, &one, sizeof one) != sizeof one)
    tarmac_logf(TARMAC_LOG_WARN, "cannot interrupt init functions: %s",
                strerror(errno));
}

/* ---- scheduled tasks -------------------------------------------------- */

static void after_task(void *data, size_t index, double seconds, bool ok) {
  tarmac_app_t *app = data;
  if (app->metrics == NULL) return;
  const char *labels[1] = {app->tasks[index].name};
  tarmac_metric_series_t *d = tarmac_metric_series(app->task_durations, labels);
  if (d != NULL) tarmac_metric_observe(d, seconds);
  tarmac_metric_series_t *f = tarmac_metric_series(app->task_failures, labels);
  if (f != NULL) tarmac_metric_add(f, ok ? 0 : 1);
}

static int task_families(tarmac_app_t *app, char *err, size_t err_size) {
  if (app->metrics == NULL) return 0;
  static const char *const fn_label[] = {"function"};
  app->task_durations = tarmac_metrics_family(
      app->metrics, TARMAC_METRIC_HISTOGRAM,
      "tarmac_scheduled_task_duration_seconds",
      "Time a scheduled task's run took, per function", fn_label, 1, NULL, 0,
      err, err_size);
  app->task_failures = tarmac_metrics_family(
      app->metrics, TARMAC_METRIC_COUNTER,
      "tarmac_scheduled_task_failures_total",
      "Scheduled task runs that failed, per function", fn_label, 1, NULL, 0,
      err, err_size);
  return app->task_durations && app->task_failures ? 0 : -1;
}

int tarmac_app_start_tasks(tarmac_app_t *app, char *err, size_t err_size) {
  const tarmac_service_file_t *m = model(app);
  app->tasks = calloc(m->route_count ? m->route_count : 1, sizeof(*app->tasks));
  if (app->tasks == NULL) return snprintf(err, err_size, "out of memory"), -1;
  for (size_t i = 0; i < m->route_count; i++) {
    const tarmac_service_route_t *r = &m->routes[i];
    if (r->type != TARMAC_ROUTE_SCHEDULED) continue;
    tarmac_function_t *fn = &app->functions[r->function];
    app->tasks[app->task_count++] = (tarmac_task_t){
        .name = fn->name, .period_ms = r->frequency_s * 1000u, .fn = trigger,
        .data = fn};
  }
  if (app->task_count == 0) return 0;
  if (task_families(app, err, err_size) != 0) return -1;
  tarmac_scheduler_config_t sc = {.after_run = after_task, .hook_data = app};
  app->scheduler = tarmac_scheduler_start(app->tasks, app->task_count, &sc,
                                          err, err_size);
  return app->scheduler != NULL ? 0 : -1;
}

bool tarmac_app_stop_tasks(tarmac_app_t *app, unsigned timeout_ms) {
  if (app->scheduler == NULL) return true;
  if (!tarmac_scheduler_stop(app->scheduler, timeout_ms)) return false;
  tarmac_scheduler_free(app->scheduler);
  app->scheduler = NULL;
  return true;
}

/* ---- the whole --------------------------------------------------------- */

static int load_model(tarmac_app_t *app, char *err, size_t err_size) {
  if (app->config->wasm_function_config[0] == '\0')
    return single_model(app, err, err_size);
  return tarmac_service_file_load(app->config->wasm_function_config,
                                  &app->file, err, err_size);
}

static void summarize(tarmac_app_t *app) {
  size_t http = 0;
  const tarmac_service_file_t *m = model(app);
  for (size_t i = 0; i < m->route_count; i++)
    http += m->routes[i].type == TARMAC_ROUTE_HTTP;
  if (app->file == NULL)
    snprintf(app->summary, sizeof app->summary, "%s (%s contract, every path)",
             app->single_name, tarmac_contract_name(app->single_fn.contract));
  else
    snprintf(app->summary, sizeof app->summary,
             "%zu functions, %zu http routes from %s", app->function_count,
             http, app->file->path);
}

tarmac_app_t *tarmac_app_new(const tarmac_server_config_t *config, char *err,
                             size_t err_size) {
  tarmac_app_t *app = calloc(1, sizeof(*app));
  if (app == NULL) return snprintf(err, err_size, "out of memory"), NULL;
  app->config = config;
  app->init_stop = eventfd(0, EFD_CLOEXEC);
  if (app->init_stop < 0) {
    snprintf(err, err_size, "cannot make an eventfd: %s", strerror(errno));
  } else if (load_model(app, err, err_size) == 0 &&
             make_engine(app, err, err_size) == 0 &&
             load_modules(app, err, err_size) == 0 &&
             make_functions(app, err, err_size) == 0 &&
             make_routes(app, err, err_size) == 0 &&
             (app->metrics == NULL ||
              tarmac_metrics_add_collector(app->metrics, collect_instances,
                                           app) == 0)) {
    summarize(app);
    return app;
  }
  tarmac_app_free(app);
  return NULL;
}

void tarmac_app_free(tarmac_app_t *app) {
  if (app == NULL) return;
  tarmac_scheduler_free(app->scheduler);
  free(app->tasks);
  tarmac_calls_free(app->calls);
  tarmac_routes_free(app->routes);
  tarmac_admission_free(app->admission);
  for (size_t i = 0; i < app->function_count; i++) {
    tarmac_admission_free(app->functions[i].admission);
    tarmac_pool_free(app->functions[i].pool);
  }
  size_t n = app->modules ? model(app)->function_count : 0;
  for (size_t i = 0; i < n; i++)
    if (app->modules[i] != NULL) tarmac_module_release(app->modules[i]);
  free(app->modules);
  free(app->functions);
  free(app->function_list);
  tarmac_engine_free(app->engine);
  tarmac_host_callbacks_free(app->host);
  tarmac_metrics_free(app->metrics);
  tarmac_service_file_free(app->file);
  if (app->init_stop >= 0) close(app->init_stop);
  free(app);
}

tarmac_http_handler_fn tarmac_app_http_handler(void) {
  return tarmac_routes_handle;
}

void *tarmac_app_http_data(tarmac_app_t *app) { return app->routes; }

size_t tarmac_app_function_count(const tarmac_app_t *app) {
  return app->function_count;
}

const char *tarmac_app_summary(const tarmac_app_t *app) { return app->summary; }

void tarmac_app_log_stats(const tarmac_app_t *app) {
  for (size_t i = 0; i < app->function_count; i++) {
    tarmac_function_stats_t st = tarmac_function_stats(&app->functions[i]);
    tarmac_logf(TARMAC_LOG_INFO,
                "function %s: %lu invocations, %lu deadline exceeded, %lu "
                "traps, %lu without an instance",
                app->functions[i].name, st.invocations, st.deadline_exceeded,
                st.traps, st.unavailable);
  }
  if (app->admission != NULL)
    tarmac_logf(TARMAC_LOG_INFO,
                "%llu requests refused over the concurrency limit",
                (unsigned long long)tarmac_admission_stats(app->admission)
                    .refused);
}
