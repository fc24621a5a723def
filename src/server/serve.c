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

enum { EXIT_STARTUP = 1, EXIT_USAGE = 64 };

/* Everything the server holds while it runs; freed in reverse order. */
typedef struct {
  tarmac_server_config_t config;
  tarmac_live_settings_t *live; /* maintenance mode, log level; freed last */
  tarmac_app_t *app;
  tarmac_http_server_t *http;
  sigset_t signals;   /* SIGTERM, SIGINT: blocked everywhere */
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
      /* what admission lets run and wait (APP_WASM_MAX_CONCURRENCY each):
       * a loop starting more could only have them refused */
      .fibers_per_loop = c->max_concurrency <= UINT_MAX / 2
                             ? 2 * c->max_concurrency
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
  bool idle = tarmac_app_stop_tasks(s->app, s->config.shutdown_timeout_ms);
  if (s->http != NULL) {
    idle = tarmac_http_server_stop(s->http) && idle;
    if (idle) tarmac_http_server_free(s->http);
  }
  if (!idle) {
    tarmac_logf(TARMAC_LOG_WARN,
                "shutdown timeout: leaving guests that did not return");
    return;
  }
  tarmac_app_log_stats(s->app);
  tarmac_app_free(s->app);
  tarmac_live_settings_free(s->live);
}

/* The watcher: the first SIGTERM or SIGINT stops init jobs and wakes the
 * main thread. */
static void *watch_signals(void *arg) {
  serve_state_t *s = arg;
  int sig = 0;
  while (sigwait(&s->signals, &sig) != 0) {
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

static int start(serve_state_t *s) {
  char err[8192];
  s->app = tarmac_app_new(&s->config, err, sizeof err);
  if (s->app == NULL) return startup_error("%s", err);
  int rc = start_watcher(s);
  if (rc == 0) rc = run_init(s);
  if (rc != 0 || s->config.job_mode) return rc;
  rc = start_http(s);
  if (rc == 0 && tarmac_app_start_tasks(s->app, err, sizeof err) != 0)
    rc = startup_error("%s", err);
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
  pthread_sigmask(SIG_BLOCK, &s.signals, NULL);
  int rc = start(&s);
  if (rc != 0 || s.config.job_mode) {
    if (s.app != NULL)
      release(&s);
    else
      tarmac_live_settings_free(s.live);
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
