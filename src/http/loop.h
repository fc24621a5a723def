/* http/loop: internal types shared by the h2o glue (server.c), the request
 * copies (call.c) and the crew of threads driving each loop (crew.c).
 * Not part of the public interface (that is http.h). */
#ifndef TARMAC_HTTP_LOOP_H
#define TARMAC_HTTP_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/baton.h"
#include "http/h2o_pinned.h"
#include "http/http.h"
#include "http/listener.h"

typedef struct http_loop http_loop_t;
typedef struct http_call http_call_t;

/* A response handed to h2o that h2o still holds for its client (sendq.c):
 * counted in the loop's buffered bytes, watched by the send timeout. Lives
 * in the request's pool (in http_call_ref_t) and is released when h2o
 * disposes the request. */
typedef struct http_sendq http_sendq_t;
typedef struct {
  h2o_linklist_t link;  /* in sendq.pending while tracked */
  http_sendq_t *q;      /* NULL: not tracked */
  h2o_req_t *req;
  size_t bytes;         /* counted against the loop's bound */
  uint64_t acked;       /* TCP bytes acknowledged at progress_ms */
  uint64_t progress_ms; /* last time the client took bytes */
  bool aborted;         /* the connection is being closed */
} http_sent_t;

/* The loop's responses waiting for clients (driver-owned). */
struct http_sendq {
  h2o_linklist_t pending;  /* http_sent_t, oldest first */
  size_t bytes;            /* sum of their bytes */
  size_t limit;            /* this loop's share of the bound */
  uint64_t timeout_ms;     /* send timeout: no progress for this long */
  bool over;               /* the bound was hit (warned once) */
  h2o_timeout_t sweep_timeout; /* a quarter of the send timeout */
  h2o_timeout_entry_t sweep_entry; /* linked while responses wait */
};

/* Lives in the h2o request's memory pool; tells the call when h2o disposes
 * the request (client gone, stream reset, connection closed). */
typedef struct {
  http_call_t *call; /* NULL once the call has answered */
  http_sent_t sent;  /* the answer while h2o holds it */
} http_call_ref_t;

/* One request from arrival to answer. Owned by the loop while pending, and
 * by the thread running its handler until that thread answers it (after a
 * takeover, once it has the loop back). */
struct http_call {
  http_loop_t *loop;
  h2o_req_t *req;          /* NULL once h2o disposed the request */
  http_call_ref_t *ref;    /* in req->pool */
  uint64_t conn_id;
  int version;             /* 0x101, 0x200, ... */
  http_call_t *next;       /* pending list */
  h2o_multithread_message_t message; /* wakes the driver for a returner */
  tarmac_http_request_t request; /* points into storage / headers */
  tarmac_http_header_t *headers;
  size_t header_cap;       /* entries headers has room for */
  tarmac_buffer_t storage;
  char remote_addr[64];
  tarmac_http_response_t response;
  bool timed;              /* started is set (the access log is on) */
  struct timespec started;
};

/* Per-connection record of HTTP/2 streams abandoned before their answer
 * (rapid-reset churn), in a small table keyed by connection id. */
typedef struct {
  uint64_t conn_id;
  uint64_t window_start_ms;
  unsigned abandoned;
} http_churn_slot_t;

#define HTTP_CHURN_SLOTS 256

/* The formatted peer address of a recent connection, so that REMOTE_ADDR
 * is formatted once per connection rather than per request; keyed by
 * connection id like the churn table (a collision only costs a format). */
typedef struct {
  uint64_t conn_id; /* 0: empty (h2o's ids start at 1) */
  char addr[64];
} http_peer_slot_t;

#define HTTP_PEER_SLOTS 256

/* Slot of a connection id in a 256-slot table. Fibonacci hashing: the ids
 * are sequential, the top 8 bits spread them. */
static inline size_t tarmac_http_conn_slot(uint64_t conn_id) {
  return (size_t)((conn_id * 0x9E3779B97F4A7C15ull) >> 56);
}

struct http_loop {
  tarmac_http_server_t *server;
  unsigned index;
  h2o_evloop_t *evloop;
  h2o_context_t ctx;
  h2o_accept_ctx_t accept_ctx;
  bool ctx_ready;
  int listen_fd;
  h2o_socket_t *listener;
  h2o_multithread_receiver_t wakeups; /* a returner wants the loop back */
  h2o_multithread_receiver_t control; /* stop requests */
  h2o_multithread_message_t stop_message;
  h2o_timeout_entry_t run_entry; /* zero-timeout that runs pending calls */

  /* driver-owned (whoever holds the baton) */
  tarmac_baton_t baton;
  http_call_t *pending_head;
  http_call_t **pending_tail;
  unsigned in_flight;
  http_call_t *spare_calls; /* answered calls kept for reuse, with buffers */
  unsigned spare_count;
  bool stopping;
  uint64_t stop_deadline_ms;
  uint64_t drained_since_ms; /* 0 while calls are in flight */
  http_churn_slot_t churn[HTTP_CHURN_SLOTS];
  http_peer_slot_t peers[HTTP_PEER_SLOTS];
  http_sendq_t sendq;

  /* the crew; under crew_lock */
  pthread_mutex_t crew_lock;
  pthread_cond_t crew_cond;
  unsigned threads;   /* alive */
  unsigned idle;      /* parked spares */
  unsigned handoffs;  /* batons given to parked spares, not yet picked up */
  unsigned returns;   /* batons granted to returners, not yet picked up */
  bool finished;      /* the loop is closed; crew threads exit */
  /* threads whose handler finished after the baton was taken; they wait,
   * inside h2o's call stack, for the driver to give the loop back */
  atomic_uint returners;
};

struct tarmac_http_server {
  tarmac_http_config_t config;
  char *listen_addr;
  char *cert_file;
  char *key_file;
  tarmac_listen_addr_t addr;
  SSL_CTX *ssl_ctx;
  h2o_globalconf_t globalconf;
  http_loop_t *loops;
  unsigned loop_count;
  pthread_t watchdog;
  bool watchdog_started;
  atomic_bool stopping;
  pthread_mutex_t done_lock; /* loops_alive and done_cond */
  pthread_cond_t done_cond;
  unsigned threads_alive;    /* crew threads of every loop */
};

/* call.c */
/* A call for the request (a spare of the loop when there is one), or NULL
 * when out of memory. Driver only. */
http_call_t *tarmac_http_call_new(http_loop_t *loop, h2o_req_t *req);
/* Done with a call: it becomes one of its loop's spares (buffers kept up to
 * a bound) or is freed. Driver only. */
void tarmac_http_call_release(http_call_t *call);
/* Frees the loop's spare calls (the loop is closed). */
void tarmac_http_call_free_spares(http_loop_t *loop);
/* Sends the call's response (if the client is still there), logs the access
 * line, frees the call. Driver only. */
void tarmac_http_call_finish(http_call_t *call);

/* sendq.c: responses h2o holds for clients (see http_sent_t). Driver only. */
/* Sets up / tears down the loop's queue (its sweep timer is h2o's). */
void tarmac_http_sendq_init(http_loop_t *loop);
void tarmac_http_sendq_dispose(http_loop_t *loop);
/* Replaces res with 503 + Retry-After when its body would take the loop's
 * buffered bytes over the bound (an empty loop takes any response). */
void tarmac_http_sendq_admit(http_loop_t *loop, h2o_req_t *req,
                             tarmac_http_response_t *res);
/* Counts a response about to be sent; released by sendq_release. */
void tarmac_http_sendq_track(http_loop_t *loop, http_sent_t *sent,
                             h2o_req_t *req, size_t body_len);
/* h2o disposed the request: its bytes are free (no-op if not tracked). */
void tarmac_http_sendq_release(http_sent_t *sent);
/* The sweep timer: closes connections without progress for the timeout. */
void tarmac_http_sendq_sweep(h2o_timeout_entry_t *entry);

/* churn.c: HTTP/2 streams abandoned per connection and second. */
void tarmac_http_churn_note(http_loop_t *loop, uint64_t conn_id,
                            uint64_t now_ms);
bool tarmac_http_churn_exceeded(const http_loop_t *loop, uint64_t conn_id);

/* crew.c */
/* Starts a crew thread that drives the loop at once. Caller holds
 * crew_lock. 0 or an errno value. */
int tarmac_http_crew_spawn(http_loop_t *loop);
/* A thread whose handler returned after its baton was taken: blocks until
 * the loop is its own again (wakes the driver with `wake`). */
void tarmac_http_crew_reclaim(http_loop_t *loop, h2o_multithread_message_t *wake);
/* Driver, outside h2o's call stack: when a returner waits, gives it the
 * baton and parks. true = this thread no longer drives. */
bool tarmac_http_crew_yield(http_loop_t *loop);
/* The watchdog thread body. */
void *tarmac_http_watchdog_main(void *server);
/* Driver: runs the loop until stop or until it gives the baton to a
 * returner (server.c). Returns true when the loop is finished. */
bool tarmac_http_loop_drive(http_loop_t *loop);
/* Clock in milliseconds (monotonic). */
uint64_t tarmac_http_now_ms(void);

#endif
