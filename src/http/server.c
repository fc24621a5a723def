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

/* h2o 2.2.5 cannot answer 413 on HTTP/2 once a body outgrows its limit (it
 * refuses the stream), so h2o's own limit sits this much above ours and
 * on_req answers 413 for bodies in between, on every protocol. */
#define BODY_LIMIT_SLACK (1u << 20)

static http_loop_t *loop_of(h2o_context_t *ctx) {
  return H2O_STRUCT_FROM_MEMBER(http_loop_t, ctx, ctx);
}

static size_t header_bytes(const h2o_req_t *req) {
  size_t total = 0;
  for (size_t i = 0; i < req->headers.size; i++)
    total += req->headers.entries[i].name->len +
             req->headers.entries[i].value.len;
  return total;
}

static void close_connection_of(h2o_req_t *req) {
  h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
  if (sock != NULL) shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
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
  if (loop->pending_head != NULL && !h2o_timeout_is_linked(&loop->run_entry))
    h2o_timeout_link(loop->evloop, &loop->ctx.zero_timeout, &loop->run_entry);
}

/* h2o calls this inside its dispatch; the handler runs a little later in
 * the same iteration (schedule_pending). */
static int on_req(h2o_handler_t *self, h2o_req_t *req) {
  http_loop_t *loop = loop_of(req->conn->ctx);
  const tarmac_http_config_t *config = &loop->server->config;
  if (req->version >= 0x200 &&
      tarmac_http_churn_exceeded(loop, req->conn->id)) {
    tarmac_log_fields(TARMAC_LOG_WARN,
                      "closing an HTTP/2 connection that abandons too many "
                      "streams", 62, (const char *)NULL);
    close_connection_of(req);
    h2o_send_error_generic(req, 429, "Too Many Requests",
                           "too many abandoned streams\n", 0);
    return 0;
  }
  if (req->entity.len > config->max_body_bytes) {
    h2o_send_error_generic(req, 413, "Payload Too Large",
                           "request body too large\n", 0);
    return 0;
  }
  if (header_bytes(req) > config->max_header_bytes) {
    h2o_send_error_generic(req, 431, "Request Header Fields Too Large",
                           "request header fields too large\n", 0);
    return 0;
  }
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

static void on_accept(h2o_socket_t *listener, const char *err) {
  if (err != NULL) return;
  http_loop_t *loop = listener->data;
  h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
  if (sock != NULL) h2o_accept(&loop->accept_ctx, sock);
}

static void on_wakeup(h2o_multithread_receiver_t *receiver,
                      h2o_linklist_t *messages) {
  /* the driver's next turn of tarmac_http_loop_drive gives the loop back */
  while (!h2o_linklist_is_empty(messages))
    h2o_linklist_unlink(messages->next);
}

static void begin_shutdown(http_loop_t *loop) {
  if (loop->stopping) return;
  loop->stopping = true;
  loop->stop_deadline_ms =
      tarmac_http_now_ms() + loop->server->config.shutdown_timeout_ms;
  if (loop->listener != NULL) {
    h2o_socket_read_stop(loop->listener);
    h2o_socket_close(loop->listener);
    loop->listener = NULL;
    loop->listen_fd = -1;
  }
  h2o_context_request_shutdown(&loop->ctx);
}

static void on_control(h2o_multithread_receiver_t *receiver,
                       h2o_linklist_t *messages) {
  while (!h2o_linklist_is_empty(messages))
    h2o_linklist_unlink(messages->next);
  begin_shutdown(H2O_STRUCT_FROM_MEMBER(http_loop_t, control, receiver));
}

/* Runs pending handlers inline, from the zero timeout. When the baton was
 * taken while a handler ran, this thread waits for the loop to be its own
 * again before it touches h2o (it is inside h2o's call stack, whose frames
 * re-read all loop state after a callback returns). */
static void run_pending(h2o_timeout_entry_t *entry) {
  http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(http_loop_t, run_entry, entry);
  const tarmac_http_config_t *config = &loop->server->config;
  http_call_t *call;
  while ((call = pop_pending(loop)) != NULL) {
    if (call->req == NULL) { /* abandoned while it waited */
      tarmac_http_call_release(call);
      loop->in_flight--;
      continue;
    }
    uint64_t token = tarmac_baton_enter(&loop->baton);
    config->handler(config->handler_data, &call->request, &call->response);
    if (!tarmac_baton_leave(&loop->baton, token))
      tarmac_http_crew_reclaim(loop, &call->message);
    tarmac_http_call_finish(call);
  }
}

static bool connections_open(http_loop_t *loop) {
  return !h2o_linklist_is_empty(&loop->ctx.http1._conns) ||
         !h2o_linklist_is_empty(&loop->ctx.http2._conns);
}

static bool shutdown_done(http_loop_t *loop) {
  uint64_t now = tarmac_http_now_ms();
  if (now >= loop->stop_deadline_ms) return true;
  if (loop->in_flight > 0) {
    loop->drained_since_ms = 0;
    return false;
  }
  if (!connections_open(loop)) return true;
  if (loop->drained_since_ms == 0) loop->drained_since_ms = now;
  return now - loop->drained_since_ms >= DRAIN_GRACE_MS;
}

static void dispose_loop(http_loop_t *loop) {
  if (!loop->ctx_ready) return;
  if (loop->listener != NULL) {
    h2o_socket_read_stop(loop->listener);
    h2o_socket_close(loop->listener);
    loop->listener = NULL;
  }
  /* h2o links the HTTP/2 graceful-shutdown timer on every shutdown request,
   * connections or not; h2o_context_dispose insists it is gone */
  if (h2o_timeout_is_linked(&loop->ctx.http2._graceful_shutdown_timeout))
    h2o_timeout_unlink(&loop->ctx.http2._graceful_shutdown_timeout);
  if (h2o_timeout_is_linked(&loop->run_entry))
    h2o_timeout_unlink(&loop->run_entry);
  tarmac_http_sendq_dispose(loop);
  h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->wakeups);
  h2o_multithread_unregister_receiver(loop->ctx.queue, &loop->control);
  h2o_multithread_queue_t *queue = loop->ctx.queue;
  h2o_context_dispose(&loop->ctx);
  free(queue); /* h2o 2.2.5's evloop build closes the queue, never frees it */
  h2o_evloop_run(loop->evloop, 0); /* completes the deferred socket closes */
  h2o_evloop_destroy(loop->evloop);
  loop->evloop = NULL;
  loop->ctx_ready = false;
}

/* The driver closes the loop: frees h2o's state when nothing is left in it
 * (otherwise it is left to process exit), then releases the crew. */
static void finish_loop(http_loop_t *loop) {
  if (loop->in_flight == 0 && !connections_open(loop)) {
    dispose_loop(loop);
  } else {
    tarmac_logf(TARMAC_LOG_WARN,
                "shutdown timeout: loop %u leaves %u request(s) unanswered",
                loop->index, loop->in_flight);
  }
  pthread_mutex_lock(&loop->crew_lock);
  loop->finished = true;
  pthread_cond_broadcast(&loop->crew_cond);
  pthread_mutex_unlock(&loop->crew_lock);
}

bool tarmac_http_loop_drive(http_loop_t *loop) {
  for (;;) {
    if (atomic_load_explicit(&loop->returners, memory_order_relaxed) > 0 &&
        tarmac_http_crew_yield(loop))
      return false;
    /* calls left behind by a thread whose baton was taken */
    schedule_pending(loop);
    if (loop->stopping && shutdown_done(loop)) {
      finish_loop(loop);
      return true;
    }
    h2o_evloop_run(loop->evloop, loop->stopping ? 50 : INT32_MAX);
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
  atomic_init(&loop->returners, 0);
  pthread_mutex_init(&loop->crew_lock, NULL);
  pthread_cond_init(&loop->crew_cond, NULL);
  loop->listen_fd = tarmac_listen_open(&server->addr, err, err_size);
  if (loop->listen_fd < 0) return -1;
  loop->evloop = h2o_evloop_create();
  h2o_context_init(&loop->ctx, loop->evloop, &server->globalconf);
  loop->ctx_ready = true;
  loop->accept_ctx.ctx = &loop->ctx;
  loop->accept_ctx.hosts = server->globalconf.hosts;
  loop->accept_ctx.ssl_ctx = server->ssl_ctx;
  loop->listener = h2o_evloop_socket_create(loop->evloop, loop->listen_fd,
                                            H2O_SOCKET_FLAG_DONT_READ);
  loop->listener->data = loop;
  h2o_socket_read_start(loop->listener, on_accept);
  loop->run_entry.cb = run_pending;
  tarmac_http_sendq_init(loop);
  h2o_multithread_register_receiver(loop->ctx.queue, &loop->wakeups,
                                    on_wakeup);
  h2o_multithread_register_receiver(loop->ctx.queue, &loop->control,
                                    on_control);
  return 0;
}

static int copy_config(tarmac_http_server_t *server,
                       const tarmac_http_config_t *config) {
  server->config = *config;
  server->listen_addr = strdup(config->listen_addr);
  server->cert_file = config->cert_file ? strdup(config->cert_file) : NULL;
  server->key_file = config->key_file ? strdup(config->key_file) : NULL;
  if (server->listen_addr == NULL ||
      (config->cert_file && server->cert_file == NULL) ||
      (config->key_file && server->key_file == NULL))
    return -1;
  server->config.listen_addr = server->listen_addr;
  server->config.cert_file = server->cert_file;
  server->config.key_file = server->key_file;
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
    server->ssl_ctx = tarmac_tls_context_new(config->cert_file,
                                             config->key_file, err, err_size);
    if (server->ssl_ctx == NULL) goto fail;
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

int tarmac_http_server_port(const tarmac_http_server_t *server) {
  return tarmac_listen_addr_port(&server->addr);
}

bool tarmac_http_server_stop(tarmac_http_server_t *server) {
  for (unsigned i = 0; i < server->loop_count; i++) {
    http_loop_t *loop = &server->loops[i];
    if (loop->ctx_ready)
      h2o_multithread_send_message(&loop->control, &loop->stop_message);
  }
  /* Loops finish within shutdown_timeout_ms; threads still inside a
   * handler after that (a guest that never returns) are left to exit(). */
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  uint64_t wait_ms = server->config.shutdown_timeout_ms + 1000;
  deadline.tv_sec += (time_t)(wait_ms / 1000);
  deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&server->done_lock);
  while (server->threads_alive > 0 &&
         pthread_cond_timedwait(&server->done_cond, &server->done_lock,
                                &deadline) != ETIMEDOUT) {
  }
  bool all_ended = server->threads_alive == 0;
  pthread_mutex_unlock(&server->done_lock);
  atomic_store(&server->stopping, true);
  if (server->watchdog_started) {
    pthread_join(server->watchdog, NULL);
    server->watchdog_started = false;
  }
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
    dispose_loop(loop);
    tarmac_http_call_free_spares(loop);
    pthread_mutex_destroy(&loop->crew_lock);
    pthread_cond_destroy(&loop->crew_cond);
  }
  free(server->loops);
  if (server->globalconf.hosts != NULL) h2o_config_dispose(&server->globalconf);
  if (server->ssl_ctx != NULL) SSL_CTX_free(server->ssl_ctx);
  free(server->listen_addr);
  free(server->cert_file);
  free(server->key_file);
  pthread_mutex_destroy(&server->done_lock);
  pthread_cond_destroy(&server->done_cond);
  free(server);
}
