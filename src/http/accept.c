/* Accepting connections: each loop's listening socket, the loop's registry
 * of open connections (so that a stopping loop can close every one of them
 * and knows when the last is gone), and backing off when the process is out
 * of descriptors instead of retrying accept() in a busy loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "http/loop.h"
#include "log/log.h"

/* One open connection's socket. Allocated at accept, freed by h2o's
 * on_close callback when h2o disposes the socket (on the loop's driver). */
typedef struct {
  h2o_linklist_t link; /* in loop->conns */
  http_loop_t *loop;
  h2o_socket_t *sock;
} http_conn_t;

static void on_conn_close(void *data) {
  http_conn_t *conn = data;
  h2o_linklist_unlink(&conn->link);
  conn->loop->conn_count--;
  free(conn);
}

/* Registers the socket; -1 when out of memory. */
static int track(http_loop_t *loop, h2o_socket_t *sock) {
  http_conn_t *conn = malloc(sizeof(*conn));
  if (conn == NULL) return -1;
  conn->loop = loop;
  conn->sock = sock;
  h2o_linklist_insert(&loop->conns, &conn->link);
  loop->conn_count++;
  sock->on_close.cb = on_conn_close;
  sock->on_close.data = conn;
  return 0;
}

static bool out_of_descriptors(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* accept() failed for want of descriptors or memory. The listening socket
 * stays readable, so retrying at once would spin at 100% CPU; stop reading
 * it for 100 ms (the context's hundred_ms_timeout) and log once per
 * episode (until an accept succeeds again). */
static void pause_accepting(http_loop_t *loop, int err) {
  h2o_socket_read_stop(loop->listener);
  h2o_timeout_link(loop->evloop, &loop->ctx.hundred_ms_timeout,
                   &loop->accept_retry);
  if (loop->accept_starved) return;
  loop->accept_starved = true;
  struct rlimit rl;
  char limit[32] = "unknown";
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    snprintf(limit, sizeof(limit), "%llu", (unsigned long long)rl.rlim_cur);
  tarmac_logf(TARMAC_LOG_WARN,
              "loop %u cannot accept connections: %s (descriptor limit %s); "
              "retrying every 100 ms",
              loop->index, strerror(err), limit);
}

static void on_accept(h2o_socket_t *listener, const char *err) {
  if (err != NULL) return;
  http_loop_t *loop = listener->data;
  h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
  if (sock == NULL) {
    if (out_of_descriptors(errno)) pause_accepting(loop, errno);
    return;
  }
  if (loop->accept_starved) {
    loop->accept_starved = false;
    tarmac_logf(TARMAC_LOG_INFO, "loop %u accepts connections again",
                loop->index);
  }
  if (track(loop, sock) != 0) {
    h2o_socket_close(sock);
    return;
  }
  h2o_accept(&loop->accept_ctx, sock);
}

static void on_accept_retry(h2o_timeout_entry_t *entry) {
  http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(http_loop_t, accept_retry, entry);
  if (loop->listener != NULL) h2o_socket_read_start(loop->listener, on_accept);
}

void tarmac_http_accept_start(http_loop_t *loop) {
  h2o_linklist_init_anchor(&loop->conns);
  loop->accept_retry.cb = on_accept_retry;
  loop->listener = h2o_evloop_socket_create(loop->evloop, loop->listen_fd,
                                            H2O_SOCKET_FLAG_DONT_READ);
  loop->listener->data = loop;
  h2o_socket_read_start(loop->listener, on_accept);
}

void tarmac_http_accept_close(http_loop_t *loop) {
  if (h2o_timeout_is_linked(&loop->accept_retry))
    h2o_timeout_unlink(&loop->accept_retry);
  if (loop->listener == NULL) return;
  h2o_socket_read_stop(loop->listener);
  h2o_socket_close(loop->listener);
  loop->listener = NULL;
  loop->listen_fd = -1;
}

void tarmac_http_close_connections(http_loop_t *loop) {
  /* shutdown() rather than h2o_socket_close(): h2o still holds the socket
   * in its connection and may be in the middle of reading or writing it.
   * A shut-down socket is readable and writable at once, so h2o's next
   * read or write on it fails and h2o closes the connection through its
   * own error path (freeing its streams, timers and buffers). */
  for (h2o_linklist_t *node = loop->conns.next; node != &loop->conns;
       node = node->next) {
    http_conn_t *conn = H2O_STRUCT_FROM_MEMBER(http_conn_t, link, node);
    shutdown(h2o_socket_get_fd(conn->sock), SHUT_RDWR);
  }
}
