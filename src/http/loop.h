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
#include "http/tls.h"
#include "runtime/fiber.h"
#include "util/blocking.h"
#include "util/clock.h"
#include "util/time_heap.h"

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

/* What an entry of the loop's wait set (fibers.c: an epoll set of its own,
 * watched by h2o as one socket) names: `fire` runs on the loop's driver,
 * from h2o's callbacks, with the epoll events that happened. A suspended
 * handler's fd wait is one; other sources of wake-ups may be added. */
typedef struct http_wait_source http_wait_source_t;
struct http_wait_source {
  void (*fire)(http_wait_source_t *self, uint32_t events);
};

/* A wait of a handler suspended on its fiber (fibers.c): its end in the
 * loop's heap of timed waits (the loop's timerfd rings for the earliest)
 * and, for an fd, a one-shot registration in the loop's wait epoll set.
 * Driver-owned while linked. */
typedef struct {
  http_wait_source_t source; /* its fd's registration in the wait set */
  tarmac_time_heap_node_t timer; /* in loop->timers until the wait ends */
  int fd;              /* -1: no fd */
  bool armed;          /* fd's registration has not fired */
  int result;          /* poll events that happened, 0: the time came */
} http_wait_t;

/* One request from arrival to answer. Owned by the loop while pending, and
 * by the thread running its handler until that thread answers it (after a
 * takeover, it gives the answered call back to the loop's driver through
 * loop->returned). Nothing of a call is ever handed to h2o beyond that
 * ownership: h2o copies the answer, and a returning thread wakes the driver
 * without a message (crew.c). */
struct http_call {
  http_loop_t *loop;
  h2o_req_t *req;          /* NULL once h2o disposed the request */
  http_call_ref_t *ref;    /* in req->pool */
  uint64_t conn_id;
  int version;             /* 0x101, 0x200, ... */
  http_call_t *next;       /* pending list, or loop->returned */
  tarmac_http_request_t request; /* points into storage / headers */
  tarmac_http_header_t *headers;
  size_t header_cap;       /* entries headers has room for */
  tarmac_buffer_t storage;
  char remote_addr[64];
  tarmac_http_response_t response;
  bool timed;              /* started is set (the access log is on) */
  struct timespec started;
  /* the fiber the handler runs on (NULL: on its thread's stack, when the
   * loop had no fiber to give); idle again once the call is answered */
  tarmac_fiber_t *fiber;
  uint64_t token;          /* baton token of the handler's current run */
  http_wait_t wait;        /* while suspended (linked in the loop) */
  bool queued;             /* on the loop's ready list (fibers.c) */
};

/* Per-connection record of HTTP/2 streams abandoned before their answer
 * (rapid-reset churn), in a small table keyed by connection id (churn.c). */
typedef struct {
  uint64_t conn_id;         /* 0: free (h2o's ids start at 1) */
  uint64_t window_start_ms;
  unsigned abandoned;       /* in the current one-second window */
  uint32_t requests;        /* requests that reached on_req */
  uint32_t early_counted;   /* streams abandoned before on_req, counted */
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
  bool ctx_ready;       /* h2o state exists (false once torn down) */
  bool started;         /* a crew was started: only it may tear down */
  int listen_fd;
  h2o_socket_t *listener;
  /* stop requests (stop_message, from tarmac_http_server_stop) and
   * message-less wake-ups from threads returning calls (crew.c) */
  h2o_multithread_receiver_t control;
  h2o_multithread_message_t stop_message;
  h2o_timeout_entry_t run_entry; /* zero-timeout that runs pending calls */
  h2o_timeout_entry_t accept_retry; /* accept() paused (accept.c) */
  /* zero-timeout that sends GOAWAY to churning connections (intake.c) */
  h2o_timeout_entry_t churn_close_entry;

  /* driver-owned (whoever holds the baton) */
  tarmac_baton_t baton;
  http_call_t *pending_head;
  http_call_t **pending_tail;
  unsigned in_flight;
  /* fibers for handlers, at most max_threads_per_loop (fibers.c) */
  tarmac_fiber_pool_t fibers;
  /* calls whose fiber is suspended and whose wait ended, to be resumed
   * (linked by `next`, oldest first) */
  http_call_t *ready_head;
  http_call_t **ready_tail;
  /* the fds suspended handlers wait on, one-shot (an epoll set of its own,
   * watched by h2o as one socket: one system call per wait) */
  int wait_ep;
  h2o_socket_t *wait_sock;
  /* the ends of suspended handlers' waits (CLOCK_MONOTONIC ns), earliest
   * first, and a timerfd in the wait set (timer_source) armed for the
   * earliest of them or earlier: a wait that ends another way just leaves
   * the heap, the timerfd is re-armed when it rings */
  tarmac_time_heap_t timers;
  int timer_fd;             /* -1: none */
  uint64_t timer_armed_ns;  /* what timer_fd rings at; 0: disarmed */
  http_wait_source_t timer_source;
  /* tasks deferred by guests (waiters.c), run after run_pending's pass;
   * under deferred_lock (a guest whose loop was taken over may queue) */
  pthread_mutex_t deferred_lock;
  tarmac_blocking_task_t *deferred_head;
  tarmac_blocking_task_t **deferred_tail;
  atomic_bool deferred_any; /* a lock-free peek: the list is not empty */
  http_call_t *spare_calls; /* answered calls kept for reuse, with buffers */
  unsigned spare_count;
  bool stopping;
  bool closing; /* connections shut down; new calls answered 503 */
  bool deadline_logged;
  uint64_t stop_deadline_ms;
  uint64_t drained_since_ms; /* 0 while calls are in flight */
  h2o_linklist_t conns; /* open connections' sockets (accept.c) */
  unsigned conn_count;
  bool accept_starved; /* out of descriptors; logged once per episode */
  http_churn_slot_t churn[HTTP_CHURN_SLOTS];
  http_peer_slot_t peers[HTTP_PEER_SLOTS];
  http_sendq_t sendq;

  /* the crew; under crew_lock */
  pthread_mutex_t crew_lock;
  pthread_cond_t crew_cond;   /* parked spares: a hand-off, or finished */
  unsigned threads;   /* alive */
  unsigned idle;      /* parked spares */
  unsigned handoffs;  /* batons given to parked spares, not yet picked up */
  bool finished;      /* the loop is torn down; crew threads exit */
  /* calls answered by threads that lost the baton while their guest ran,
   * for the driver to send (linked by `next`, newest first) */
  http_call_t *returned;
  atomic_uint returned_count; /* how many are linked, for a lock-free peek */
  /* The driver may be about to block in h2o's epoll wait: from the top of
   * tarmac_http_loop_drive until its handlers run (run_pending) or the
   * iteration ends. A thread returning a call pokes the loop's pipe only
   * while it is set; otherwise the driver is busy and reads
   * `returned_count` at its next turn. Both sides store, then load the
   * other's word, sequentially consistent: the driver sees the call or the
   * returning thread sees the flag. */
  atomic_bool polling;
};

struct tarmac_http_server {
  tarmac_http_config_t config;
  char *listen_addr;
  char *cert_file;
  char *key_file;
  char *ca_file;
  tarmac_listen_addr_t addr;
  tarmac_tls_t *tls; /* NULL without TLS */
  h2o_globalconf_t globalconf;
  http_loop_t *loops;
  unsigned loop_count;
  pthread_t watchdog;
  bool watchdog_started;
  atomic_bool stopping;
  pthread_mutex_t done_lock; /* threads_alive, crew_threads, done_cond,
                                watchdog_cond */
  pthread_cond_t done_cond;
  pthread_cond_t watchdog_cond; /* wakes the watchdog early at stop */
  unsigned threads_alive;    /* crew threads of every loop */
  /* Every crew thread ever started, joined once all have ended: only a
   * join waits for a thread's thread-local destructors (OpenSSL's among
   * them), which must not run while the process exits. */
  pthread_t *crew_threads;
  size_t crew_thread_count, crew_thread_capacity;
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
/* A request of the connection that reached on_req was abandoned before its
 * answer. */
void tarmac_http_churn_note(http_loop_t *loop, uint64_t conn_id,
                            uint64_t now_ms);
/* A request of the connection reaches on_req. `settled` is the number of
 * the connection's streams that are no longer waiting for their request:
 * handed to on_req (this one included) or closed before. The difference
 * to the requests seen is what the client abandoned before its request was
 * complete (reset before END_STREAM). true when the connection is over
 * the limit. */
bool tarmac_http_churn_intake(http_loop_t *loop, uint64_t conn_id,
                              uint32_t settled, uint64_t now_ms);
bool tarmac_http_churn_exceeded(const http_loop_t *loop, uint64_t conn_id);

/* accept.c */
/* Starts accepting on listen_fd (and initialises the connection registry).
 * Driver, or the creating thread before any crew runs. */
void tarmac_http_accept_start(http_loop_t *loop);
/* Closes the listening socket (new connections are refused). Driver. */
void tarmac_http_accept_close(http_loop_t *loop);
/* Shuts down every open connection's socket; h2o then closes each one
 * through its own error path within an iteration or two. Driver. */
void tarmac_http_close_connections(http_loop_t *loop);

/* intake.c: what a request is refused for before a call is made (churn,
 * HTTP/1 framing, header limits, body limit). When it returns true the
 * request has been answered (and, where the protocol requires it, its
 * connection is being closed). Called by on_req, inside h2o's dispatch. */
bool tarmac_http_intake_refuse(http_loop_t *loop, h2o_req_t *req);
/* Before the loop's h2o context is disposed: drops intake's timer. */
void tarmac_http_intake_dispose(http_loop_t *loop);

/* crew.c */
/* Starts a crew thread that drives the loop at once. Caller holds
 * crew_lock. 0 or an errno value. */
int tarmac_http_crew_spawn(http_loop_t *loop);
/* Joins every crew thread started so far; call only once all have ended
 * (threads_alive 0). */
void tarmac_http_crew_join(tarmac_http_server_t *server);
/* A thread whose handler returned after its baton was taken, with its
 * answered call: gives the call to the driver (loop->returned; wakes it)
 * and jumps out of h2o's call stack, whose frames it may no longer touch,
 * back to its crew thread's start, where it parks as a spare. Returns only
 * when the baton was left for this very thread (no spare and no new thread
 * could take it): the caller then still drives and answers the call. */
void tarmac_http_crew_return(http_loop_t *loop, http_call_t *call);
/* Driver: the calls returned by other threads, oldest first (the list is
 * emptied); NULL when none. */
http_call_t *tarmac_http_crew_take_returned(http_loop_t *loop);
/* Around a handler run by the driver (run_pending): while it runs, a
 * tarmac_blocking_begin() on this thread hands the loop on at once
 * (APP_HANDOFF_BEFORE_WAIT). `token` is the handler's baton token;
 * `on_fiber` the call when the handler runs on a fiber (its waits may
 * suspend it: fibers.c), else NULL. */
void tarmac_http_crew_handler_start(http_loop_t *loop, uint64_t token,
                                    http_call_t *on_fiber);
void tarmac_http_crew_handler_done(void);
/* The call whose handler runs on this thread's fiber while it may still
 * suspend (its thread holds the loop: no hand-off, no takeover seen so
 * far); NULL otherwise. */
http_call_t *tarmac_http_crew_fiber_call(void);
/* Installs the util/blocking hooks (once per process; later calls do
 * nothing). */
void tarmac_http_crew_install_hooks(void);
/* fibers.c: handlers on fibers, and their waits (util/blocking.h). */
/* Sets up / frees the loop's fibers (none may be in use at dispose), once
 * its h2o loop exists / before it is disposed. 0, or -1 with err. */
int tarmac_http_fibers_init(http_loop_t *loop, char *err, size_t err_size);
void tarmac_http_fibers_dispose(http_loop_t *loop);
/* Driver: runs the call's handler on a fiber of the loop and answers the
 * call when it returns; a handler that waits is suspended and resumed by
 * tarmac_http_fibers_resume_ready once its wait ends. When the baton is
 * taken meanwhile, gives the call back like run_pending did
 * (tarmac_http_crew_return). false, without running it, when every fiber
 * of the loop is in use: the call stays pending until one is answered. */
bool tarmac_http_fibers_run(http_loop_t *loop, http_call_t *call);
/* Driver: resumes the calls whose wait ended. */
void tarmac_http_fibers_resume_ready(http_loop_t *loop);
/* The util/blocking wait hook: suspends the calling handler's fiber until
 * the fd is ready or until_ns, or answers TARMAC_BLOCKING_UNHANDLED off a
 * fiber (or on one whose loop was handed on). */
int tarmac_http_fibers_wait(int fd, short events, uint64_t until_ns);
/* Before answering a call: gives its fiber back to the loop (driver). */
void tarmac_http_fibers_release(http_call_t *call);
/* Driver: the suspended call's wait ended with `result` (poll events, 0:
 * the time came): it is resumed from run_pending. */
void tarmac_http_fibers_wake(http_call_t *call, int result);

/* waiters.c: the util/blocking hooks of stores that share a connection per
 * loop (domain, watch, defer, park). */
void tarmac_http_waiters_init(http_loop_t *loop);
void tarmac_http_waiters_dispose(http_loop_t *loop);
/* Driver: runs the deferred tasks (end of run_pending's pass). */
void tarmac_http_waiters_run_deferred(http_loop_t *loop);
/* Whether tasks are queued (a lock-free peek). */
bool tarmac_http_waiters_pending(http_loop_t *loop);
/* The hooks, for tarmac_http_crew_install_hooks. */
void *tarmac_http_waiters_domain(unsigned *index);
int tarmac_http_waiters_watch(void *domain, int fd, uint32_t events,
                              tarmac_blocking_watch_t *w);
void tarmac_http_waiters_unwatch(void *domain, int fd);
void tarmac_http_waiters_defer(void *domain, tarmac_blocking_task_t *task);
int tarmac_http_waiters_park(tarmac_blocking_parking_t *p, uint64_t until_ns);
bool tarmac_http_waiters_unpark(void *waiter);

/* The watchdog thread body. */
void *tarmac_http_watchdog_main(void *server);
/* Driver: runs the loop until it is finished (server.c). A thread whose
 * baton is taken while its guest runs leaves it through
 * tarmac_http_crew_return instead. */
void tarmac_http_loop_drive(http_loop_t *loop);
/* Clock in milliseconds (monotonic). */
static inline uint64_t tarmac_http_now_ms(void) {
  return tarmac_clock_ms(CLOCK_MONOTONIC);
}

#endif
