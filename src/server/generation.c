/* A generation: the service built from its files, with its init jobs
 * and scheduled tasks. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"
#include "runtime/runtime.h"
#include "server/calls.h"
#include "server/generation.h"
#include "server/init_jobs.h"
#include "server/scheduler.h"
#include "service/service_file.h"
#include "util/buffer.h"

/* Triggers other than HTTP (init, schedule) invoke this operation with an
 * empty payload, as Tarmac does, whatever contract the function's HTTP
 * routes speak. */
static const char trigger_op[] = "handler";

struct tarmac_generation {
  tarmac_generation_env_t env;          /* a copy; its pointees are not ours */
  const tarmac_server_config_t *config; /* env.config */
  tarmac_service_file_t *file;          /* service mode; owned */
  tarmac_service_file_t single;         /* single-function mode's model */
  tarmac_service_function_t single_fn;
  char single_name[256];
  tarmac_module_t **modules; /* per function; one load per distinct file */
  tarmac_function_t *functions;
  tarmac_function_t **function_list; /* pointers to the above */
  size_t function_count;
  tarmac_routes_t *routes;
  tarmac_calls_t *calls;
  tarmac_metric_family_t *task_durations, *task_failures;
  tarmac_task_t *tasks;
  size_t task_count;
  tarmac_scheduler_t *scheduler;
  char summary[256];
};

/* ---- the model -------------------------------------------------------- */

static const tarmac_service_file_t *model(const tarmac_generation_t *gen) {
  return gen->file != NULL ? gen->file : &gen->single;
}

/* Single-function mode as a one-function model with no routes (the
 * function becomes the default route: every path). */
static int single_model(tarmac_generation_t *gen, char *err, size_t err_size) {
  const tarmac_server_config_t *c = gen->config;
  tarmac_service_function_t *f = &gen->single_fn;
  char copy[sizeof c->wasm_module];
  snprintf(copy, sizeof copy, "%s", c->wasm_module);
  const char *base = basename(copy);
  size_t len = strlen(base);
  if (len > 5 && strcmp(base + len - 5, ".wasm") == 0) len -= 5;
  snprintf(gen->single_name, sizeof gen->single_name, "%.*s", (int)len, base);
  *f = (tarmac_service_function_t){.name = gen->single_name,
                                   .service = gen->single_name,
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
  gen->single = (tarmac_service_file_t){.functions = f, .function_count = 1};
  return 0;
}

/* ---- modules ------------------------------------------------- */

/* The problem's context: "<file>: service "s": function "f": " in
 * service mode, nothing in single-function mode (the path says it all). */
static void function_context(const tarmac_generation_t *gen,
                             const tarmac_service_function_t *f, char *out,
                             size_t size) {
  if (gen->file == NULL)
    snprintf(out, size, "%s", "");
  else
    snprintf(out, size, "%s: service \"%s\", function \"%s\": ",
             gen->file->path, f->service, f->name);
}

/* The module of an earlier function with the same file: loaded once. */
static tarmac_module_t *loaded_before(const tarmac_generation_t *gen,
                                      size_t i) {
  const tarmac_service_function_t *f = &model(gen)->functions[i];
  for (size_t j = 0; j < i; j++)
    if (gen->modules[j] != NULL &&
        strcmp(model(gen)->functions[j].filepath, f->filepath) == 0)
      return gen->modules[j];
  return NULL;
}

static int load_module(tarmac_generation_t *gen, size_t i,
                       tarmac_buffer_t *problems) {
  const tarmac_service_function_t *f = &model(gen)->functions[i];
  char where[600];
  function_context(gen, f, where, sizeof where);
  tarmac_module_t *earlier = loaded_before(gen, i);
  if (earlier != NULL) {
    tarmac_module_retain(earlier);
    gen->modules[i] = earlier;
    return 0;
  }
  if (access(f->filepath, R_OK) != 0)
    return tarmac_buffer_appendf(problems, "%scannot read module %s: %s\n",
                                 where, f->filepath, strerror(errno)),
           -1;
  tarmac_error_t e;
  if (tarmac_module_load(gen->env.engine, f->filepath, f->name,
                         &gen->modules[i], &e) != TARMAC_LOAD_OK)
    return tarmac_buffer_appendf(problems, "%scannot load module %s: %s\n",
                                 where, f->filepath, e.message),
           -1;
  return 0;
}

/* Every module, each file once; every failure reported. */
static int load_modules(tarmac_generation_t *gen, char *err, size_t err_size) {
  size_t n = model(gen)->function_count;
  gen->modules = calloc(n, sizeof(*gen->modules));
  if (gen->modules == NULL) return snprintf(err, err_size, "out of memory"), -1;
  tarmac_buffer_t problems = TARMAC_BUFFER_INIT;
  int rc = 0;
  for (size_t i = 0; i < n; i++)
    if (load_module(gen, i, &problems) != 0) rc = -1;
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

static tarmac_pool_config_t pool_config(const tarmac_generation_t *gen,
                                        const tarmac_service_function_t *f) {
  const tarmac_server_config_t *c = gen->config;
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

static int make_function(tarmac_generation_t *gen, size_t i,
                         tarmac_metric_family_t *durations,
                         tarmac_metric_family_t *traps, char *err,
                         size_t err_size) {
  const tarmac_service_function_t *f = &model(gen)->functions[i];
  tarmac_function_t *fn = &gen->functions[i];
  tarmac_pool_config_t pc = pool_config(gen, f);
  *fn = (tarmac_function_t){.name = f->name, .contract = f->contract,
                            .timeout_ms = pc.limits.timeout_ms,
                            .pool_size = pc.size, .traps_family = traps};
  char where[600];
  function_context(gen, f, where, sizeof where);
  tarmac_error_t e;
  fn->pool = tarmac_pool_new(gen->modules[i], &pc, &e);
  if (fn->pool == NULL)
    return snprintf(err, err_size, "%scannot instantiate module %s: %s",
                    where, f->filepath, e.message),
           -1;
  if (f->max_concurrency != 0) {
    fn->admission = tarmac_admission_new(f->max_concurrency,
                                         gen->config->queue_timeout_ms);
    if (fn->admission == NULL)
      return snprintf(err, err_size, "out of memory"), -1;
  }
  if (make_metric_series(fn, durations) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  gen->function_list[i] = fn;
  return 0;
}

/* Says how the worst case of every full pool compares with the process
 * guest memory budget: past it, requests are answered 503, not the
 * machine's memory exhausted. */
static void log_memory_budget(const tarmac_generation_t *gen) {
  const tarmac_server_config_t *c = gen->config;
  uint64_t worst = 0;
  for (size_t i = 0; i < model(gen)->function_count; i++) {
    tarmac_pool_config_t pc = pool_config(gen, &model(gen)->functions[i]);
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

static int make_functions(tarmac_generation_t *gen, char *err,
                          size_t err_size) {
  size_t n = model(gen)->function_count;
  gen->functions = calloc(n, sizeof(*gen->functions));
  gen->function_list = calloc(n, sizeof(*gen->function_list));
  if (gen->functions == NULL || gen->function_list == NULL)
    return snprintf(err, err_size, "out of memory"), -1;
  tarmac_metric_family_t *durations = NULL, *traps = NULL;
  if (gen->env.metrics != NULL) {
    static const char *const fn_label[] = {"function"};
    static const char *const trap_labels[] = {"function", "kind"};
    durations = tarmac_metrics_family(
        gen->env.metrics, TARMAC_METRIC_HISTOGRAM,
        "tarmac_function_duration_seconds",
        "Time a function's guest ran per invocation, any trigger", fn_label,
        1, NULL, 0, err, err_size);
    traps = tarmac_metrics_family(
        gen->env.metrics, TARMAC_METRIC_COUNTER, "tarmac_traps_total",
        "Invocations that ended in a trap, per function and trap kind",
        trap_labels, 2, NULL, 0, err, err_size);
    if (durations == NULL || traps == NULL) return -1;
  }
  log_memory_budget(gen);
  for (size_t i = 0; i < n; i++) {
    gen->function_count = i + 1; /* freed with the others if it fails */
    if (make_function(gen, i, durations, traps, err, err_size) != 0) return -1;
  }
  return 0;
}

/* ---- routes and calls ------------------------------------------------- */

static tarmac_function_t *function_named(const tarmac_generation_t *gen,
                                         const char *name) {
  for (size_t i = 0; i < gen->function_count; i++)
    if (strcmp(gen->functions[i].name, name) == 0) return &gen->functions[i];
  return NULL;
}

static int add_http_route(tarmac_generation_t *gen,
                          const tarmac_service_route_t *r, char *err,
                          size_t err_size) {
  for (size_t m = 0; m < r->method_count; m++)
    if (tarmac_routes_add(gen->routes, r->methods[m], r->path,
                          &gen->functions[r->function], err, err_size) != 0)
      return -1;
  return 0;
}

static int make_routes(tarmac_generation_t *gen, char *err, size_t err_size) {
  const tarmac_server_config_t *c = gen->config;
  tarmac_routes_config_t rc = {.admission = gen->env.admission,
                               .metrics = gen->env.metrics,
                               .maintenance_mode = c->maintenance_flag,
                               .backends_unready = gen->env.backends_unready,
                               .backends_data = gen->env.backends_data};
  gen->routes = tarmac_routes_new(&rc, err, err_size);
  if (gen->routes == NULL) return -1;
  const tarmac_service_file_t *m = model(gen);
  for (size_t i = 0; i < m->route_count; i++) {
    const tarmac_service_route_t *r = &m->routes[i];
    if (r->type == TARMAC_ROUTE_FUNCTION)
      gen->functions[r->function].callable = true;
    if (r->type == TARMAC_ROUTE_HTTP && add_http_route(gen, r, err, err_size))
      return -1;
  }
  tarmac_function_t *fallback = gen->file == NULL
                                    ? &gen->functions[0]
                                    : function_named(gen, "default");
  if (fallback != NULL && tarmac_routes_set_default(gen->routes, fallback) != 0)
    return snprintf(err, err_size, "out of memory"), -1;
  gen->calls = tarmac_calls_new(gen->function_list, gen->function_count,
                                c->call_depth_limit);
  if (gen->calls == NULL) return snprintf(err, err_size, "out of memory"), -1;
  /* a function's host calls find their callees in its own generation */
  for (size_t i = 0; i < gen->function_count; i++)
    gen->functions[i].calls = gen->calls;
  return 0;
}

/* ---- metrics collected at scrape time -------------------------------- */

/* One gauge family of every function's pool counts. */
static void sink_pool_gauge(const tarmac_generation_t *gen,
                            tarmac_metrics_sink_t *sink,
                            const tarmac_pool_stats_t *st, bool busy,
                            const char *name, const char *help) {
  static const char *const label[] = {"function"};
  tarmac_metrics_sink_family(sink, TARMAC_METRIC_GAUGE, name, help);
  for (size_t i = 0; i < gen->function_count; i++)
    tarmac_metrics_sink_sample(sink, label, &gen->functions[i].name, 1,
                               (double)(busy ? st[i].busy : st[i].idle));
}

void tarmac_generation_collect(const tarmac_generation_t *gen,
                               tarmac_metrics_sink_t *sink) {
  tarmac_pool_stats_t *st = calloc(gen->function_count, sizeof(*st));
  if (st == NULL) return;
  for (size_t i = 0; i < gen->function_count; i++)
    st[i] = tarmac_pool_stats(gen->functions[i].pool);
  sink_pool_gauge(gen, sink, st, false, "tarmac_instances_ready",
                  "Instances of a function ready to run");
  sink_pool_gauge(gen, sink, st, true, "tarmac_instances_busy",
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

int tarmac_generation_run_init(tarmac_generation_t *gen, int stop_fd,
                               char *err, size_t err_size) {
  const tarmac_service_file_t *m = model(gen);
  for (size_t i = 0; i < m->route_count; i++) {
    const tarmac_service_route_t *r = &m->routes[i];
    if (r->type != TARMAC_ROUTE_INIT) continue;
    tarmac_function_t *fn = &gen->functions[r->function];
    tarmac_logf(TARMAC_LOG_INFO, "running init function %s", fn->name);
    if (tarmac_init_run(fn->name, trigger, fn, r->retries,
                        (uint64_t)r->frequency_s * 1000u, stop_fd,
                        err, err_size) != 0)
      return -1;
  }
  return 0;
}

/* ---- scheduled tasks -------------------------------------------------- */

static void after_task(void *data, size_t index, double seconds, bool ok) {
  tarmac_generation_t *gen = data;
  if (gen->env.metrics == NULL) return;
  const char *labels[1] = {gen->tasks[index].name};
  tarmac_metric_series_t *d = tarmac_metric_series(gen->task_durations, labels);
  if (d != NULL) tarmac_metric_observe(d, seconds);
  tarmac_metric_series_t *f = tarmac_metric_series(gen->task_failures, labels);
  if (f != NULL) tarmac_metric_add(f, ok ? 0 : 1);
}

static int task_families(tarmac_generation_t *gen, char *err, size_t err_size) {
  if (gen->env.metrics == NULL) return 0;
  static const char *const fn_label[] = {"function"};
  gen->task_durations = tarmac_metrics_family(
      gen->env.metrics, TARMAC_METRIC_HISTOGRAM,
      "tarmac_scheduled_task_duration_seconds",
      "Time a scheduled task's run took, per function", fn_label, 1, NULL, 0,
      err, err_size);
  gen->task_failures = tarmac_metrics_family(
      gen->env.metrics, TARMAC_METRIC_COUNTER,
      "tarmac_scheduled_task_failures_total",
      "Scheduled task runs that failed, per function", fn_label, 1, NULL, 0,
      err, err_size);
  return gen->task_durations && gen->task_failures ? 0 : -1;
}

int tarmac_generation_start_tasks(tarmac_generation_t *gen, char *err,
                                  size_t err_size) {
  const tarmac_service_file_t *m = model(gen);
  gen->tasks = calloc(m->route_count ? m->route_count : 1, sizeof(*gen->tasks));
  if (gen->tasks == NULL) return snprintf(err, err_size, "out of memory"), -1;
  for (size_t i = 0; i < m->route_count; i++) {
    const tarmac_service_route_t *r = &m->routes[i];
    if (r->type != TARMAC_ROUTE_SCHEDULED) continue;
    tarmac_function_t *fn = &gen->functions[r->function];
    gen->tasks[gen->task_count++] = (tarmac_task_t){
        .name = fn->name, .period_ms = r->frequency_s * 1000u, .fn = trigger,
        .data = fn};
  }
  if (gen->task_count == 0) return 0;
  if (task_families(gen, err, err_size) != 0) return -1;
  tarmac_scheduler_config_t sc = {.after_run = after_task, .hook_data = gen};
  gen->scheduler = tarmac_scheduler_start(gen->tasks, gen->task_count, &sc,
                                          err, err_size);
  return gen->scheduler != NULL ? 0 : -1;
}

bool tarmac_generation_stop_tasks(tarmac_generation_t *gen,
                                  unsigned timeout_ms) {
  if (gen->scheduler == NULL) return true;
  if (!tarmac_scheduler_stop(gen->scheduler, timeout_ms)) return false;
  tarmac_scheduler_free(gen->scheduler);
  gen->scheduler = NULL;
  return true;
}

/* ---- the whole --------------------------------------------------------- */

static int load_model(tarmac_generation_t *gen, char *err, size_t err_size) {
  if (gen->config->wasm_function_config[0] == '\0')
    return single_model(gen, err, err_size);
  return tarmac_service_file_load(gen->config->wasm_function_config,
                                  &gen->file, err, err_size);
}

static void summarize(tarmac_generation_t *gen) {
  size_t http = 0;
  const tarmac_service_file_t *m = model(gen);
  for (size_t i = 0; i < m->route_count; i++)
    http += m->routes[i].type == TARMAC_ROUTE_HTTP;
  if (gen->file == NULL)
    snprintf(gen->summary, sizeof gen->summary, "%s (%s contract, every path)",
             gen->single_name, tarmac_contract_name(gen->single_fn.contract));
  else
    snprintf(gen->summary, sizeof gen->summary,
             "%zu functions, %zu http routes from %s", gen->function_count,
             http, gen->file->path);
}

tarmac_generation_t *tarmac_generation_new(const tarmac_generation_env_t *env,
                                           char *err, size_t err_size) {
  tarmac_generation_t *gen = calloc(1, sizeof(*gen));
  if (gen == NULL) return snprintf(err, err_size, "out of memory"), NULL;
  gen->env = *env;
  gen->config = env->config;
  if (load_model(gen, err, err_size) == 0 &&
      load_modules(gen, err, err_size) == 0 &&
      make_functions(gen, err, err_size) == 0 &&
      make_routes(gen, err, err_size) == 0) {
    summarize(gen);
    return gen;
  }
  tarmac_generation_free(gen);
  return NULL;
}

void tarmac_generation_free(tarmac_generation_t *gen) {
  if (gen == NULL) return;
  tarmac_scheduler_free(gen->scheduler);
  free(gen->tasks);
  tarmac_calls_free(gen->calls);
  tarmac_routes_free(gen->routes);
  for (size_t i = 0; i < gen->function_count; i++) {
    tarmac_admission_free(gen->functions[i].admission);
    tarmac_pool_free(gen->functions[i].pool);
  }
  size_t n = gen->modules ? model(gen)->function_count : 0;
  for (size_t i = 0; i < n; i++)
    if (gen->modules[i] != NULL) tarmac_module_release(gen->modules[i]);
  free(gen->modules);
  free(gen->functions);
  free(gen->function_list);
  tarmac_service_file_free(gen->file);
  free(gen);
}

tarmac_routes_t *tarmac_generation_routes(tarmac_generation_t *gen) {
  return gen->routes;
}

unsigned long tarmac_generation_number(const tarmac_generation_t *gen) {
  return gen->env.number;
}

size_t tarmac_generation_function_count(const tarmac_generation_t *gen) {
  return gen->function_count;
}

const char *tarmac_generation_summary(const tarmac_generation_t *gen) {
  return gen->summary;
}

const char *tarmac_generation_file(const tarmac_generation_t *gen, size_t i) {
  if (gen->file != NULL && i-- == 0) return gen->file->path;
  const tarmac_service_file_t *m = model(gen);
  return i < m->function_count ? m->functions[i].filepath : NULL;
}

void tarmac_generation_log_stats(const tarmac_generation_t *gen) {
  for (size_t i = 0; i < gen->function_count; i++) {
    tarmac_function_stats_t st = tarmac_function_stats(&gen->functions[i]);
    tarmac_logf(TARMAC_LOG_INFO,
                "function %s: %lu invocations, %lu deadline exceeded, %lu "
                "traps, %lu without an instance",
                gen->functions[i].name, st.invocations, st.deadline_exceeded,
                st.traps, st.unavailable);
  }
}
