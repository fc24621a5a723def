/* The server's main: configuration, logging, engine, pool, HTTP, signals. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "callbacks/registry.h"
#include "engine/engine.h"
#include "http/http.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "server/config.h"
#include "server/function.h"
#include "server/pool.h"
#include "server/serve.h"

enum { EXIT_STARTUP = 1, EXIT_USAGE = 64 };

/* Everything the server holds while it runs; freed in reverse order. */
typedef struct {
  tarmac_server_config_t config;
  tarmac_callbacks_t *callbacks;
  tarmac_engine_t *engine;
  tarmac_module_t *module;
  tarmac_pool_t *pool;
  tarmac_admission_t *admission;
  tarmac_function_t function;
  tarmac_http_server_t *http;
  char function_name[256];
} serve_state_t;

static void configure_logging(const tarmac_server_config_t *config) {
  tarmac_log_config_t log = {.fd = 1, .min_level = TARMAC_LOG_INFO,
                             .text = config->text_log_format};
  if (config->debug) log.min_level = TARMAC_LOG_DEBUG;
  if (config->trace) log.min_level = TARMAC_LOG_TRACE;
  if (config->disable_logging) log.min_level = TARMAC_LOG_OFF;
  tarmac_log_configure(&log);
}

/* Every connection holds a descriptor, and the soft limit is often a
 * small default (1024) below what the hard limit allows: use it all. */
static void raise_descriptor_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    tarmac_logf(TARMAC_LOG_WARN, "cannot read the descriptor limit: %s",
                strerror(errno));
    return;
  }
  if (rl.rlim_cur == rl.rlim_max) return;
  rlim_t soft = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    tarmac_logf(TARMAC_LOG_WARN,
                "cannot raise the descriptor limit from %llu to %llu: %s",
                (unsigned long long)soft, (unsigned long long)rl.rlim_max,
                strerror(errno));
}

static int startup_error(const char *fmt, const char *detail) {
  fprintf(stderr, "tarmac: ");
  fprintf(stderr, fmt, detail);
  fputc('\n', stderr);
  return EXIT_STARTUP;
}

/* Sets the process guest memory budget and says how it compares with what
 * a full pool may use: past it, requests are answered 503, not the
 * machine's memory exhausted. */
static void apply_memory_budget(const tarmac_server_config_t *c) {
  uint64_t ceiling =
      c->memory_limit ? c->memory_limit : TARMAC_RT_DEFAULT_MEMORY_LIMIT;
  uint64_t pool_worst = (uint64_t)c->pool_size * ceiling;
  tarmac_rt_set_memory_budget(c->memory_total_limit);
  tarmac_logf(pool_worst > c->memory_total_limit ? TARMAC_LOG_WARN
                                                 : TARMAC_LOG_INFO,
              "guest memory budget %llu bytes; %u pooled instances at a "
              "ceiling of %llu bytes each may use %llu (%s)",
              (unsigned long long)c->memory_total_limit, c->pool_size,
              (unsigned long long)ceiling, (unsigned long long)pool_worst,
              pool_worst > c->memory_total_limit
                  ? "more than the budget: instances past it answer 503"
                  : "within the budget");
}

static int load_function(serve_state_t *s) {
  const tarmac_server_config_t *c = &s->config;
  if (access(c->wasm_module, R_OK) != 0) {
    char text[4200];
    snprintf(text, sizeof(text), "cannot read module %s: %s", c->wasm_module,
             strerror(errno));
    return startup_error("%s", text);
  }
  s->callbacks = tarmac_callbacks_new();
  if (s->callbacks == NULL || tarmac_callbacks_add_logging(s->callbacks) != 0)
    return startup_error("%s", "out of memory");
  tarmac_engine_config_t engine_config = {.callbacks = s->callbacks,
                                          .memory_limit = c->memory_limit,
                                          .timeout_ms = c->timeout_ms};
  tarmac_error_t err;
  s->engine = tarmac_engine_new(&engine_config, &err);
  if (s->engine == NULL) return startup_error("%s", err.message);
  if (tarmac_module_load(s->engine, c->wasm_module, NULL, &s->module, &err) !=
      TARMAC_LOAD_OK) {
    char text[1200 + 4096];
    snprintf(text, sizeof(text), "cannot load module %s: %s", c->wasm_module,
             err.message);
    return startup_error("%s", text);
  }
  /* the module's name (file name without .wasm) tags its log lines */
  snprintf(s->function_name, sizeof(s->function_name), "%s",
           tarmac_module_name(s->module));
  apply_memory_budget(c);
  s->pool = tarmac_pool_new(s->module, &(tarmac_pool_config_t){.size = c->pool_size, .fresh = !c->reuse_instances, .wait_ms = TARMAC_POOL_DEFAULT_WAIT_MS}, &err);
  if (s->pool == NULL) {
    char text[1200 + 4096];
    snprintf(text, sizeof(text), "cannot instantiate module %s: %s",
             c->wasm_module, err.message);
    return startup_error("%s", text);
  }
  s->admission = tarmac_admission_new(c->max_concurrency, c->queue_timeout_ms);
  if (s->admission == NULL) return startup_error("%s", "out of memory");
  s->function = (tarmac_function_t){.pool = s->pool,
                                    .admission = s->admission,
                                    .name = s->function_name,
                                    .maintenance_mode = c->maintenance_mode,
                                    .timeout_ms = c->timeout_ms};
  return 0;
}

static int start_http(serve_state_t *s) {
  const tarmac_server_config_t *c = &s->config;
  tarmac_http_config_t http = {
      .listen_addr = c->listen_addr,
      .tls = c->enable_tls,
      .cert_file = c->cert_file,
      .key_file = c->key_file,
      .loops = c->event_loops,
      .max_threads_per_loop = c->max_threads_per_loop,
      .handoff_ms = c->handoff_ms,
      .max_body_bytes = c->max_body_bytes,
      .max_header_bytes = c->max_header_bytes,
      .max_header_count = c->max_header_count,
      .idle_timeout_ms = c->idle_timeout_ms,
      .max_streams = c->http2_max_streams,
      .max_resets_per_second = c->http2_max_resets,
      .shutdown_timeout_ms = c->shutdown_timeout_ms,
      .send_timeout_ms = c->send_timeout_ms,
      .max_buffered_response_bytes = c->max_buffered_response_bytes,
      .handler = tarmac_function_handle,
      .handler_data = &s->function,
  };
  char err[512];
  s->http = tarmac_http_server_new(&http, err, sizeof(err));
  if (s->http == NULL || tarmac_http_server_start(s->http, err,
                                                  sizeof(err)) != 0)
    return startup_error("%s", err);
  char port[16], loops[16], concurrency[16];
  snprintf(port, sizeof(port), "%d", tarmac_http_server_port(s->http));
  snprintf(loops, sizeof(loops), "%u", c->event_loops);
  snprintf(concurrency, sizeof(concurrency), "%u", c->max_concurrency);
  static const char msg[] = "tarmac serving";
  tarmac_log_fields(TARMAC_LOG_INFO, msg, sizeof(msg) - 1, "listen_addr",
                    c->listen_addr, "port", port, "tls",
                    c->enable_tls ? "true" : "false", "event_loops", loops,
                    "max_concurrency", concurrency,
                    "function", s->function_name, "maintenance_mode",
                    c->maintenance_mode ? "true" : "false",
                    (const char *)NULL);
  return 0;
}

static void release(serve_state_t *s) {
  if (s->http != NULL) {
    if (!tarmac_http_server_stop(s->http)) {
      /* a guest still runs: its instance, module and engine must outlive
       * it, i.e. live until exit */
      tarmac_logf(TARMAC_LOG_WARN,
                  "shutdown timeout: leaving guests that did not return");
      return;
    }
    tarmac_http_server_free(s->http);
  }
  if (s->pool != NULL && s->admission != NULL) {
    tarmac_function_stats_t st = tarmac_function_stats(&s->function);
    tarmac_admission_stats_t busy = tarmac_admission_stats(s->admission);
    tarmac_logf(TARMAC_LOG_INFO,
                "function %s: %lu invocations, %lu deadline exceeded, %lu "
                "traps, %llu refused over the concurrency limit",
                s->function_name, st.invocations, st.deadline_exceeded,
                st.traps, (unsigned long long)busy.refused);
  }
  tarmac_admission_free(s->admission);
  tarmac_pool_free(s->pool);
  if (s->module != NULL) tarmac_module_release(s->module);
  tarmac_engine_free(s->engine);
  tarmac_callbacks_free(s->callbacks);
}

static int wait_for_signal(const sigset_t *signals) {
  int sig = 0;
  while (sigwait(signals, &sig) != 0) {
  }
  return sig;
}

int tarmac_serve_main(int argc, char **argv) {
  if (argc > 2) {
    fprintf(stderr, "tarmac: serve takes no arguments (configuration comes "
                    "from APP_* environment variables)\n");
    return EXIT_USAGE;
  }
  (void)argv;
  /* Static, not on this frame: when a guest outlives the shutdown timeout
   * its thread still points into this state (function, pool, admission)
   * while the process exits, after this function has returned. One server
   * per process: this runs once. */
  static serve_state_t s;
  char err[512];
  if (tarmac_server_config_load(&s.config, err, sizeof(err)) != 0)
    return startup_error("%s", err);
  configure_logging(&s.config);
  raise_descriptor_limit();
  /* Every thread started from here on inherits the blocked signals; this
   * thread receives them with sigwait. */
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);
  int rc = load_function(&s);
  if (rc == 0) rc = start_http(&s);
  if (rc != 0) {
    release(&s);
    return rc;
  }
  int sig = wait_for_signal(&signals);
  tarmac_logf(TARMAC_LOG_INFO, "received %s, shutting down",
              sig == SIGTERM ? "SIGTERM" : "SIGINT");
  release(&s);
  tarmac_logf(TARMAC_LOG_INFO, "stopped");
  return 0;
}
