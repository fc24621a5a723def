/* The server's main: configuration, logging, the app, HTTP, signals. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <semaphore.h>

#include "http/http.h"
#include "log/log.h"
#include "server/app.h"
#include "server/config.h"
#include "server/live_settings.h"
#include "server/serve.h"
#include "server/watch.h"

enum { EXIT_STARTUP = 1, EXIT_USAGE = 64 };

/* How long a shutdown waits for a reload in progress. */
#define RELOAD_STOP_MS 1000u

/* Everything the server holds while it runs; freed in reverse order. */
typedef struct {
  tarmac_server_config_t config;
  tarmac_live_settings_t *live; /* maintenance mode, log level; freed last */
  tarmac_app_t *app;
  tarmac_http_server_t *http;
  tarmac_watch_t *watch; /* reloads (server/watch.h); NULL in job mode */
  sigset_t signals;   /* SIGTERM, SIGINT, SIGHUP: blocked everywhere */
  pthread_t watcher;  /* waits for them */
  bool watching;
  sem_t stop;         /* posted by the watcher */
  volatile sig_atomic_t signal; /* which one arrived */
} serve_state_t;

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

static int start_http(serve_state_t *s) {
  const tarmac_server_config_t *c = &s->config;
  tarmac_http_config_t http = {
      .listen_addr = c->listen_addr,
      .tls = c->enable_tls,
      .cert_file = c->cert_file,
      .key_file = c->key_file,
      .ca_file = c->ca_file,
      .ignore_client_cert = c->ignore_client_cert,
      .loops = c->event_loops,
      .max_threads_per_loop = c->max_threads_per_loop,
      /* what admission lets run (APP_WASM_MAX_CONCURRENCY), the quarter
       * of its waiters that hand their loop on (admission.c), and one
       * more (a built-in endpoint, a waiter keeping the loop): a guest
       * beyond would only wait for a slot */
      .fibers_per_loop = c->max_concurrency <= UINT_MAX / 2
                             ? c->max_concurrency +
                                   (c->max_concurrency + 3) / 4 + 1
                             : UINT_MAX,
      .handoff_ms = c->handoff_ms,
      .handoff_before_wait = c->handoff_before_wait,
      .max_body_bytes = c->max_body_bytes,
      .max_header_bytes = c->max_header_bytes,
      .max_header_count = c->max_header_count,
      .idle_timeout_ms = c->idle_timeout_ms,
      .max_streams = c->http2_max_streams,
      .max_resets_per_second = c->http2_max_resets,
      .shutdown_timeout_ms = c->shutdown_timeout_ms,
      .send_timeout_ms = c->send_timeout_ms,
      .max_buffered_response_bytes = c->max_buffered_response_bytes,
      .handler = tarmac_app_http_handler(),
      .handler_data = tarmac_app_http_data(s->app),
  };
  if (!c->enable_tls && c->ca_file[0] != '\0') /* as upstream: ignored */
    tarmac_logf(TARMAC_LOG_WARN, "APP_CA_FILE is ignored with "
                "APP_ENABLE_TLS=false: clients are not authenticated");
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
                    "function", tarmac_app_summary(s->app), "maintenance_mode",
                    c->maintenance_mode ? "true" : "false",
                    (const char *)NULL);
  return 0;
}

/* The watcher touches the app: it ends before the app is freed (sigwait
 * is a cancellation point). */
static void stop_watcher(serve_state_t *s) {
  if (!s->watching) return;
  if (s->signal == 0) pthread_cancel(s->watcher);
  pthread_join(s->watcher, NULL);
  s->watching = false;
}

/* Stops what runs, then frees it. Anything still running a guest past
 * the timeouts keeps the app (instances, modules, engine) until exit. */
static void release(serve_state_t *s) {
  stop_watcher(s);
  /* A reload in progress (its init ended by the signal) that is still
   * compiling after a second does not hold up the shutdown: it is left
   * to the exit, with the app it uses. */
  bool reloads_done = tarmac_watch_stop(s->watch, RELOAD_STOP_MS);
  if (reloads_done) {
    tarmac_watch_free(s->watch);
    s->watch = NULL;
  }
  bool idle = tarmac_app_stop_tasks(s->app, s->config.shutdown_timeout_ms);
  if (s->http != NULL) {
    idle = tarmac_http_server_stop(s->http) && idle;
    if (idle) tarmac_http_server_free(s->http);
  }
  if (!idle || !reloads_done) {
    tarmac_logf(TARMAC_LOG_WARN,
                !idle ? "shutdown timeout: leaving guests that did not return"
                      : "shutdown: leaving a reload that is still compiling");
    return;
  }
  tarmac_app_log_stats(s->app);
  tarmac_app_free(s->app);
  tarmac_live_settings_free(s->live);
}

/* The watcher: SIGHUP reloads (server/watch.h); the first SIGTERM or
 * SIGINT stops init jobs and wakes the main thread. */
static void *watch_signals(void *arg) {
  serve_state_t *s = arg;
  int sig = 0;
  while (sigwait(&s->signals, &sig) != 0 || sig == SIGHUP) {
    if (sig != SIGHUP) continue;
    if (s->watch != NULL)
      tarmac_watch_trigger(s->watch);
    else
      tarmac_logf(TARMAC_LOG_INFO, "SIGHUP ignored: nothing to reload in "
                                   "job mode");
    sig = 0;
  }
  s->signal = sig;
  tarmac_app_interrupt(s->app);
  sem_post(&s->stop);
  return NULL;
}

static int start_watcher(serve_state_t *s) {
  if (sem_init(&s->stop, 0, 0) != 0 ||
      pthread_create(&s->watcher, NULL, watch_signals, s) != 0)
    return startup_error("cannot start the signal thread: %s",
                         strerror(errno));
  s->watching = true;
  return 0;
}

/* Init jobs; in job mode that is all there is. */
static int run_init(serve_state_t *s) {
  char err[2048];
  if (tarmac_app_run_init(s->app, err, sizeof err) != 0) {
    if (s->signal != 0)
      snprintf(err, sizeof err, "stopped by %s while running init functions",
               s->signal == SIGTERM ? "SIGTERM" : "SIGINT");
    return startup_error("%s", err);
  }
  if (s->config.job_mode) tarmac_logf(TARMAC_LOG_INFO, "init functions done");
  return 0;
}

/* Reloads the functions, then watches the files the new service file
 * names (and those of the one that failed: a module written after it is
 * seen). */
static int reload_functions(void *data, char *err, size_t err_size) {
  serve_state_t *s = data;
  int rc = tarmac_app_reload(s->app, err, err_size);
  size_t count;
  const char *const *files = tarmac_app_files(s->app, &count);
  if (tarmac_watch_set_paths(s->watch, "functions", files, count) != 0)
    tarmac_logf(TARMAC_LOG_WARN, "out of memory: the watched files are "
                                 "those before this reload");
  return rc;
}

/* New handshakes get the certificate, key and CA file as they are now on
 * disk. A certificate written before its key fails the key check; the
 * key's own change brings the next attempt. */
static int reload_tls(void *data, char *err, size_t err_size) {
  serve_state_t *s = data;
  if (s->http == NULL) /* SIGHUP before the listener opened */
    return snprintf(err, err_size, "the server is not serving yet"), -1;
  return tarmac_http_server_reload_tls(s->http, err, err_size);
}

static int reload_settings(void *data, char *err, size_t err_size) {
  serve_state_t *s = data;
  return tarmac_live_settings_reload(s->live, err, err_size);
}

/* The certificate files (with TLS) and the settings file (when set),
 * besides the functions' files. */
static int watch_tls_and_settings(serve_state_t *s) {
  const tarmac_server_config_t *c = &s->config;
  const char *tls[3] = {c->cert_file, c->key_file, c->ca_file};
  size_t tls_count = c->ca_file[0] != '\0' ? 3 : 2;
  if (c->enable_tls && tarmac_watch_add(s->watch, tls, tls_count, "tls",
                                        reload_tls, s) != 0)
    return -1;
  const char *settings = tarmac_live_settings_path(s->live);
  if (settings != NULL && tarmac_watch_add(s->watch, &settings, 1, "settings",
                                           reload_settings, s) != 0)
    return -1;
  return 0;
}

/* Made before the signal thread (which triggers it on SIGHUP), started
 * once the server serves. */
static int make_watch(serve_state_t *s) {
  if (s->config.job_mode) return 0;
  tarmac_watch_config_t wc = {.inotify = s->config.watch_config,
                              .metrics = tarmac_app_metrics(s->app)};
  char err[512];
  s->watch = tarmac_watch_new(&wc, err, sizeof err);
  if (s->watch == NULL) return startup_error("%s", err);
  size_t count;
  const char *const *files = tarmac_app_files(s->app, &count);
  if (tarmac_watch_add(s->watch, files, count, "functions", reload_functions,
                       s) != 0 ||
      watch_tls_and_settings(s) != 0)
    return startup_error("%s", "out of memory");
  return 0;
}

static int start_watch(serve_state_t *s) {
  char err[512];
  if (tarmac_watch_start(s->watch, err, sizeof err) != 0)
    return startup_error("%s", err);
  size_t count;
  tarmac_app_files(s->app, &count);
  if (s->config.watch_config)
    tarmac_logf(TARMAC_LOG_INFO, "watching %zu file(s) for changes "
                                 "(APP_WATCH_CONFIG); SIGHUP reloads too",
                count);
  else
    tarmac_logf(TARMAC_LOG_INFO, "not watching files (APP_WATCH_CONFIG="
                                 "false); SIGHUP reloads");
  return 0;
}

static int start(serve_state_t *s) {
  char err[8192];
  s->app = tarmac_app_new(&s->config, err, sizeof err);
  if (s->app == NULL) return startup_error("%s", err);
  int rc = make_watch(s);
  if (rc == 0) rc = start_watcher(s);
  if (rc == 0) rc = run_init(s);
  if (rc != 0 || s->config.job_mode) return rc;
  rc = start_http(s);
  if (rc == 0 && tarmac_app_start_tasks(s->app, err, sizeof err) != 0)
    rc = startup_error("%s", err);
  if (rc == 0) rc = start_watch(s);
  return rc;
}

int tarmac_serve_main(int argc, char **argv) {
  if (argc > 2) {
    fprintf(stderr, "tarmac: serve takes no arguments (configuration comes "
                    "from APP_* environment variables)\n");
    return EXIT_USAGE;
  }
  (void)argv;
  /* Static, not on this frame: when a guest outlives the shutdown timeout
   * its thread still points into this state while the process exits,
   * after this function has returned. One server per process: this runs
   * once. */
  static serve_state_t s;
  char err[8192]; /* every problem of the settings, one per line */
  s.live = tarmac_live_settings_new(&s.config, err, sizeof(err));
  if (s.live == NULL) return startup_error("%s", err);
  raise_descriptor_limit();
  /* Every thread started from here on inherits the blocked signals; the
   * watcher receives them with sigwait. */
  sigemptyset(&s.signals);
  sigaddset(&s.signals, SIGTERM);
  sigaddset(&s.signals, SIGINT);
  sigaddset(&s.signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &s.signals, NULL);
  int rc = start(&s);
  if (rc != 0 || s.config.job_mode) {
    if (s.app != NULL) {
      release(&s); /* stops and frees the watch first */
    } else {
      tarmac_watch_free(s.watch);
      tarmac_live_settings_free(s.live);
    }
    return rc;
  }
  while (sem_wait(&s.stop) != 0) {
  }
  tarmac_logf(TARMAC_LOG_INFO, "received %s, shutting down",
              s.signal == SIGTERM ? "SIGTERM" : "SIGINT");
  release(&s);
  tarmac_logf(TARMAC_LOG_INFO, "stopped");
  return 0;
}
