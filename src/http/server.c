/* The h2o glue: global configuration, one context + event loop + listening
 * socket per loop, request intake, the driver loop that runs handlers
 * inline between h2o iterations, and graceful shutdown. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/loop.h"
#include "http/tls.h"
#include "log/log.h"

/* After the last in-flight request is answered during shutdown, how long
 * idle keep-alive connections are given before the loop closes. */
#define DRAIN_GRACE_MS 300

/* While stopping, the driver looks at the clock at least this often. */
#define STOP_POLL_MS 50

/* How long tarmac_http_server_stop waits beyond shutdown_timeout_ms for the
 * loops to close their connections and for guests to return. */
#define STOP_MARGIN_MS 1000

/* h2o 2.2.5 cannot answer 413 on HTTP/2 once a body outgrows its limit (it
 * refuses the stream), so h2o's own limit sits this much above ours and
 * on_req answers 413 for bodies in between, on every protocol. */
#define BODY_LIMIT_SLACK (1u << 20)

static http_loop_t *loop_of(h2o_context_t *ctx) {
  return H2O_STRUCT_FROM_MEMBER(http_loop_t, ctx, ctx);
}

static void push_pending(http_loop_t *loop, http_call_t *call) {
  call->next = NULL;
  *loop->pending_tail = call;
  loop->pending_tail = &call->next;
}

static http_call_t *pop_pending(http_loop_t *loop) {
  http_call_t *call = loop->pending_head;
  if (call == NULL) return NULL;
  loop->pending_head = call->next;
  if (loop->pending_head == NULL) loop->pending_tail = &loop->pending_head;
  return call;
}

/* Pending calls run from a zero timeout: in the same loop iteration as
 * their arrival, after h2o has dispatched the socket events, so that the
 * response's write completes and the connection reads again before h2o
 * next updates its epoll registrations (no epoll_ctl per request). */
static void schedule_pending(http_loop_t *loop) {
  bool work = loop->pending_head != NULL || loop->ready_head != NULL ||
              atomic_load(&loop->returned_count) > 0 || /* see polling */
              tarmac_http_waiters_pending(loop); /* left by a lost pass */
  if (work && !h2o_timeout_is_linked(&loop->run_entry))
    h2o_timeout_link(loop->evloop, &loop->ctx.zero_timeout, &loop->run_entry);
}

/* h2o calls this inside its dispatch; the handler runs a little later in
 * the same iteration (schedule_pending). What is refused is refused here
 * (intake.c). */
static int on_req(h2o_handler_t *self, h2o_req_t *req) {
  http_loop_t *loop = loop_of(req->conn->ctx);
  if (tarmac_http_intake_refuse(loop, req)) return 0;
  http_call_t *call = tarmac_http_call_new(loop, req);
  if (call == NULL) {
    h2o_send_error_generic(req, 503, "Service Unavailable", "out of memory\n",
                           0);
    return 0;
  }
  loop->in_flight++;
  push_pending(loop, call);
  schedule_pending(loop);
  return 0;
}

static void begin_shutdown(http_loop_t *loop) {
  if (loop->stopping) return;
  loop->stopping = true;
  loop->stop_deadline_ms =
      tarmac_http_now_ms() + loop->server->config.shutdown_timeout_ms;
  tarmac_http_accept_close(loop);
  h2o_context_request_shutdown(&loop->ctx);
}

/* The only message ever sent is the loop's stop_message (returning threads
 * wake the loop without one), so any delivery means: stop. */
static void on_control(h2o_multithread_receiver_t *receiver,
                       h2o_linklist_t *messages) {
  while (!h2o_linklist_is_empty(messages))
    h2o_linklist_unlink(messages->next);
  begin_shutdown(H2O_STRUCT_FROM_MEMBER(http_loop_t, control, receiver));
}

/* Sends the answers of calls whose threads lost the baton meanwhile. */
static void finish_returned(http_loop_t *loop) {
  if (atomic_load_explicit(&loop->returned_count, memory_order_relaxed) == 0)
    return;
  http_call_t *call = tarmac_http_crew_take_returned(loop);
  while (call != NULL) {
    http_call_t *next = call->next;
    tarmac_http_call_finish(call);
    call = next;
  }
}

/* Runs pending handlers inline, from the zero timeout. When the baton was
 * taken while a handler ran, this thread gives its answered call to the
 * driver and leaves h2o's call stack without touching it again
 * (tarmac_http_crew_return). */
static void run_pending(h2o_timeout_entry_t *entry) {
  http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(http_loop_t, run_entry, entry);
  http_call_t *call;
  /* past this iteration's epoll wait: returning threads need not poke */
  atomic_store_explicit(&loop->polling, false, memory_order_relaxed);
  finish_returned(loop);
  tarmac_http_fibers_resume_ready(loop);
  while ((call = pop_pending(loop)) != NULL) {
    if (call->req == NULL) { /* abandoned while it waited */
      tarmac_http_call_release(call);
      loop->in_flight--;
      continue;
    }
    if (loop->closing) { /* stopping, connections closed: no new guests */
      if (tarmac_http_response_set_text(&call->response, 503,
                                        "server shutting down\n") != 0)
        call->response.status = 503;
      tarmac_http_call_finish(call);
      continue;
    }
    if (!tarmac_http_fibers_run(loop, call)) { /* no fiber free */
      call->next = loop->pending_head; /* first again, when one is */
      loop->pending_head = call;
      if (loop->pending_tail == &loop->pending_head)
        loop->pending_tail = &call->next;
      break;
    }
  }
  /* what the guests of this pass queued (their commands, in one write) */
  tarmac_http_waiters_run_deferred(loop);
}

/* Past the deadline, or idle connections had their grace: shut down every
 * connection (h2o closes them on its next read or write) and start no
 * more guests. Guests already running are waited for: the threads running
 * them are inside this loop's h2o frames, so the loop cannot be torn down
 * before they return (tarmac_http_server_stop gives up on them). */
static void close_connections(http_loop_t *loop, uint64_t now) {
  if (now >= loop->stop_deadline_ms && loop->in_flight > 0 &&
      !loop->deadline_logged) {
    loop->deadline_logged = true;
    tarmac_logf(TARMAC_LOG_WARN,
                "shutdown timeout: loop %u closes its connections with %u "
                "request(s) unanswered", loop->index, loop->in_flight);
  }
  loop->closing = true;
  tarmac_http_close_connections(loop);
}

/* One step of a graceful stop, between h2o iterations. true = no call and
 * no connection is left: the loop can be torn down. */
static bool shutdown_step(http_loop_t *loop) {
  if (loop->in_flight == 0 && loop->conn_count == 0) return true;
  uint64_t now = tarmac_http_now_ms();
  if (loop->in_flight > 0) {
    loop->drained_since_ms = 0;
  } else if (loop->drained_since_ms == 0) {
    loop->drained_since_ms = now;
  }
  bool grace_over = loop->drained_since_ms != 0 &&
                    now - loop->drained_since_ms >= DRAIN_GRACE_MS;
  /* once closing, again on every step: a connection whose request was
   * being handled is only now read or written again */
  if (loop->closing || grace_over || now >= loop->stop_deadline_ms)
    close_connections(loop, now);
  return false;
}

/* Frees the loop's h2o state. On the thread that drove it (h2o's buffers
 * belong to the crew's threads), with no call in flight and no connection
 * open; or on the creating thread for a loop that never ran. */
static void dispose_loop(http_loop_t *loop) {
  if (!loop->ctx_ready) return;
  tarmac_http_accept_close(loop);
  /* h2o links the HTTP/2 graceful-shutdown timer on every shutdown request,
   * connections or not; h2o_context_dispose insists it is gone */
  if (h2o_timeout_is_linked(&loop->ctx.http2._graceful_shutdown_timeout))
    h2o_timeout_unlink(&loop->ctx.http2._graceful_shutdown_timeout);
  if (h2o_timeout_is_linked(&loop->run_entry))
    h2o_timeout_unlink(&loop->run_entry);
  tarmac_http_intake_dispose(loop);
  tarmac_http_sendq_dispose(loop);
  tarmac_http_fibers_dispose(loop);
  h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->control);
  h2o_multithread_queue_t *queue = loop->ctx.queue;
  h2o_context_dispose(&loop->ctx);
  free(queue); /* h2o 2.2.5's evloop build closes the queue, never frees it */
  h2o_evloop_run(loop->evloop, 0); /* completes the deferred socket closes */
  h2o_evloop_destroy(loop->evloop);
  loop->evloop = NULL;
  loop->ctx_ready = false;
}

/* The driver tears the loop down and releases the crew. */
static void finish_loop(http_loop_t *loop) {
  dispose_loop(loop);
  tarmac_http_call_free_spares(loop);
  pthread_mutex_lock(&loop->crew_lock);
  loop->finished = true;
  pthread_cond_broadcast(&loop->crew_cond);
  pthread_mutex_unlock(&loop->crew_lock);
}

void tarmac_http_loop_drive(http_loop_t *loop) {
  for (;;) {
    /* before reading returned_count (schedule_pending) */
    atomic_store(&loop->polling, true);
    /* calls left behind by a thread whose baton was taken, and calls
     * returned by such threads */
    schedule_pending(loop);
    if (loop->stopping && shutdown_step(loop)) {
      finish_loop(loop);
      return;
    }
    h2o_evloop_run(loop->evloop, loop->stopping ? STOP_POLL_MS : INT32_MAX);
    atomic_store_explicit(&loop->polling, false, memory_order_relaxed);
  }
}

static void configure_h2o(tarmac_http_server_t *server) {
  const tarmac_http_config_t *config = &server->config;
  h2o_globalconf_t *g = &server->globalconf;
  h2o_config_init(g);
  g->server_name = h2o_iovec_init(H2O_STRLIT("tarmac"));
  g->max_request_entity_size = config->max_body_bytes + BODY_LIMIT_SLACK;
  g->http1.req_timeout = config->idle_timeout_ms;
  g->http2.idle_timeout = config->idle_timeout_ms;
  g->http2.graceful_shutdown_timeout = config->shutdown_timeout_ms;
  g->http2.max_concurrent_requests_per_connection = config->max_streams;
  g->handshake_timeout = config->idle_timeout_ms;
  h2o_hostconf_t *host = h2o_config_register_host(
      g, h2o_iovec_init(H2O_STRLIT("default")), 65535);
  h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
  h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
  handler->on_req = on_req;
}

static int init_loop(tarmac_http_server_t *server, http_loop_t *loop,
                     unsigned index, char *err, size_t err_size) {
  loop->server = server;
  loop->index = index;
  loop->pending_tail = &loop->pending_head;
  tarmac_baton_init(&loop->baton);
  atomic_init(&loop->returned_count, 0);
  atomic_init(&loop->polling, false);
  pthread_mutex_init(&loop->crew_lock, NULL);
  pthread_cond_init(&loop->crew_cond, NULL);
  tarmac_http_waiters_init(loop);
  loop->listen_fd = tarmac_listen_open(&server->addr, err, err_size);
  if (loop->listen_fd < 0) return -1;
  loop->evloop = h2o_evloop_create();
  h2o_context_init(&loop->ctx, loop->evloop, &server->globalconf);
  loop->ctx_ready = true;
  if (tarmac_http_fibers_init(loop, err, err_size) != 0) return -1;
  loop->accept_ctx.ctx = &loop->ctx;
  loop->accept_ctx.hosts = server->globalconf.hosts;
  /* the same SSL_CTX for the server's life: h2o keeps this pointer in
   * every accepted socket until its handshake creates the SSL object, so a
   * certificate reload swaps what the handshakes install (tls.h), never
   * the context */
  loop->accept_ctx.ssl_ctx =
      server->tls != NULL ? tarmac_tls_ssl_ctx(server->tls) : NULL;
  tarmac_http_accept_start(loop);
  loop->run_entry.cb = run_pending;
  tarmac_http_sendq_init(loop);
  h2o_multithread_register_receiver(loop->ctx.queue, &loop->control,
                                    on_control);
  return 0;
}

/* A copy of an optional string: 0, or -1 when out of memory. */
static int copy_optional(const char *text, char **out) {
  *out = text ? strdup(text) : NULL;
  return text == NULL || *out != NULL ? 0 : -1;
}

static int copy_config(tarmac_http_server_t *server,
                       const tarmac_http_config_t *config) {
  server->config = *config;
  server->listen_addr = strdup(config->listen_addr);
  if (server->listen_addr == NULL ||
      copy_optional(config->cert_file, &server->cert_file) != 0 ||
      copy_optional(config->key_file, &server->key_file) != 0 ||
      copy_optional(config->ca_file, &server->ca_file) != 0)
    return -1;
  server->config.listen_addr = server->listen_addr;
  server->config.cert_file = server->cert_file;
  server->config.key_file = server->key_file;
  server->config.ca_file = server->ca_file;
  if (server->config.loops == 0) server->config.loops = 1;
  if (server->config.max_threads_per_loop < 2)
    server->config.max_threads_per_loop = 2;
  if (server->config.handoff_ms == 0) server->config.handoff_ms = 1;
  return 0;
}

tarmac_http_server_t *tarmac_http_server_new(const tarmac_http_config_t *config,
                                             char *err, size_t err_size) {
  /* Buffers of h2o sockets recycle through a per-thread free list; a
   * connection can be served by several threads of its loop's crew, so
   * recycling is turned off (plain malloc/free) on every thread that runs
   * h2o. */
  h2o_socket_buffer_prototype.allocator.max = 0;
  signal(SIGPIPE, SIG_IGN);
  tarmac_http_server_t *server = calloc(1, sizeof(*server));
  if (server == NULL) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&server->done_lock, NULL);
  pthread_cond_init(&server->done_cond, NULL);
  pthread_cond_init(&server->watchdog_cond, NULL);
  atomic_init(&server->stopping, false);
  if (copy_config(server, config) != 0) {
    snprintf(err, err_size, "out of memory");
    goto fail;
  }
  if (tarmac_listen_addr_parse(config->listen_addr, &server->addr, err,
                               err_size) != 0 ||
      tarmac_listen_probe(&server->addr, err, err_size) != 0)
    goto fail;
  if (config->tls) {
    tarmac_tls_files_t files = {
        .cert_file = server->cert_file, .key_file = server->key_file,
        .ca_file = server->ca_file,
        .ignore_client_cert = config->ignore_client_cert};
    server->tls = tarmac_tls_new(&files, err, err_size);
    if (server->tls == NULL) goto fail;
  }
  configure_h2o(server);
  server->loops = calloc(server->config.loops, sizeof(*server->loops));
  if (server->loops == NULL) {
    snprintf(err, err_size, "out of memory");
    goto fail;
  }
  for (unsigned i = 0; i < server->config.loops; i++) {
    server->loop_count = i + 1;
    if (init_loop(server, &server->loops[i], i, err, err_size) != 0) goto fail;
  }
  return server;
fail:
  tarmac_http_server_free(server);
  return NULL;
}

int tarmac_http_server_start(tarmac_http_server_t *server, char *err,
                             size_t err_size) {
  tarmac_http_crew_install_hooks();
  for (unsigned i = 0; i < server->loop_count; i++) {
    http_loop_t *loop = &server->loops[i];
    pthread_mutex_lock(&loop->crew_lock);
    int rc = tarmac_http_crew_spawn(loop);
    pthread_mutex_unlock(&loop->crew_lock);
    if (rc != 0) {
      snprintf(err, err_size, "cannot start event loop threads: %s",
               strerror(rc));
      return -1;
    }
    loop->started = true;
  }
  int rc = pthread_create(&server->watchdog, NULL, tarmac_http_watchdog_main,
                          server);
  if (rc != 0) {
    snprintf(err, err_size, "cannot start the watchdog thread: %s",
             strerror(rc));
    return -1;
  }
  server->watchdog_started = true;
  return 0;
}

int tarmac_http_server_reload_tls(tarmac_http_server_t *server, char *err,
                                  size_t err_size) {
  if (server->tls == NULL) {
    snprintf(err, err_size, "cannot reload TLS files: TLS is not enabled");
    return -1;
  }
  return tarmac_tls_reload(server->tls, err, err_size);
}

int tarmac_http_server_port(const tarmac_http_server_t *server) {
  return tarmac_listen_addr_port(&server->addr);
}

bool tarmac_http_server_stop(tarmac_http_server_t *server) {
  for (unsigned i = 0; i < server->loop_count; i++) {
    http_loop_t *loop = &server->loops[i];
    if (loop->started)
      h2o_multithread_send_message(&loop->control, &loop->stop_message);
  }
  /* Loops close their connections by shutdown_timeout_ms and are torn down
   * once the guests they run have returned; threads still inside a handler
   * after the margin (a guest that never returns) are left to exit(), and
   * so is their loop. */
  struct timespec deadline = tarmac_clock_after_ms(CLOCK_REALTIME, 
      (uint64_t)server->config.shutdown_timeout_ms + STOP_MARGIN_MS);
  pthread_mutex_lock(&server->done_lock);
  while (server->threads_alive > 0 &&
         pthread_cond_timedwait(&server->done_cond, &server->done_lock,
                                &deadline) != ETIMEDOUT) {
  }
  bool all_ended = server->threads_alive == 0;
  atomic_store(&server->stopping, true);
  pthread_cond_broadcast(&server->watchdog_cond);
  pthread_mutex_unlock(&server->done_lock);
  if (server->watchdog_started) {
    pthread_join(server->watchdog, NULL);
    server->watchdog_started = false;
  }
  if (all_ended) tarmac_http_crew_join(server);
  return all_ended;
}

void tarmac_http_server_free(tarmac_http_server_t *server) {
  if (server == NULL) return;
  pthread_mutex_lock(&server->done_lock);
  bool threads_left = server->threads_alive > 0;
  pthread_mutex_unlock(&server->done_lock);
  if (threads_left) return; /* still in use by stuck threads: leave it */
  for (unsigned i = 0; i < server->loop_count; i++) {
    http_loop_t *loop = &server->loops[i];
    /* a started loop was torn down by its own driver before its crew
     * ended; only a loop that never ran is disposed here, by the thread
     * that created it */
    dispose_loop(loop);
    tarmac_http_call_free_spares(loop);
    pthread_mutex_destroy(&loop->crew_lock);
    pthread_cond_destroy(&loop->crew_cond);
    tarmac_http_waiters_dispose(loop);
  }
  free(server->loops);
  free(server->crew_threads);
  if (server->globalconf.hosts != NULL) h2o_config_dispose(&server->globalconf);
  tarmac_tls_free(server->tls);
  free(server->listen_addr);
  free(server->cert_file);
  free(server->key_file);
  free(server->ca_file);
  pthread_mutex_destroy(&server->done_lock);
  pthread_cond_destroy(&server->done_cond);
  pthread_cond_destroy(&server->watchdog_cond);
  free(server);
}
