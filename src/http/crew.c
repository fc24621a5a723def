/* The crew of each loop: the thread driving it, spares parked for
 * takeovers, and threads finishing a handler after losing the baton; plus
 * the process-wide watchdog that notices stalled handlers, and the
 * util/blocking hook through which a handler about to wait hands its loop
 * on at once. A crew thread only ever serves its own loop, and lives until
 * that loop is closed, so h2o's thread-local buffer allocators are never
 * shared between loops. */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/loop.h"
#include "log/log.h"
#include "util/blocking.h"

/* Parks a thread that gave its baton away. true = it was handed the baton
 * again; false = the loop is finished and the thread should exit. */
static bool park(http_loop_t *loop) {
  pthread_mutex_lock(&loop->crew_lock);
  loop->idle++;
  while (loop->handoffs == 0 && !loop->finished)
    pthread_cond_wait(&loop->crew_cond, &loop->crew_lock);
  loop->idle--;
  bool drive = loop->handoffs > 0 && !loop->finished;
  if (drive) loop->handoffs--;
  pthread_mutex_unlock(&loop->crew_lock);
  return drive;
}

static void thread_exit(http_loop_t *loop) {
  tarmac_http_server_t *server = loop->server;
  pthread_mutex_lock(&loop->crew_lock);
  loop->threads--;
  pthread_mutex_unlock(&loop->crew_lock);
  pthread_mutex_lock(&server->done_lock);
  server->threads_alive--;
  pthread_cond_broadcast(&server->done_cond);
  pthread_mutex_unlock(&server->done_lock);
}

/* Where a crew thread lands when it jumps out of h2o's call stack after
 * giving its call back (tarmac_http_crew_return): set at the thread's
 * start, per thread by nature. */
static _Thread_local jmp_buf *crew_start;

void tarmac_http_crew_return(http_loop_t *loop, http_call_t *call) {
  pthread_mutex_lock(&loop->crew_lock);
  if (loop->handoffs > loop->idle) {
    /* a baton nobody can pick up (no spare, no new thread): take it */
    loop->handoffs--;
    pthread_mutex_unlock(&loop->crew_lock);
    return;
  }
  call->next = loop->returned;
  loop->returned = call;
  atomic_fetch_add(&loop->returned_count, 1);
  /* Wake the driver with a message-less send: it only writes to the queue's
   * pipe, so nothing of this thread or the call stays queued in h2o. Under
   * the lock: the driver takes the call only under it, and the loop (and
   * its queue) is torn down only once the call is answered. Only when the
   * driver may block (loop->polling, read after the increment above): a
   * busy driver looks at returned_count at its next turn. */
  if (atomic_load(&loop->polling))
    h2o_multithread_send_message(&loop->control, NULL);
  pthread_mutex_unlock(&loop->crew_lock);
  /* The frames skipped (h2o_evloop_run iterating the loop's timers,
   * h2o_timeout_run popping entries, run_pending) hold nothing across a
   * callback: the driver runs the rest of that work in its own
   * iterations. */
  longjmp(*crew_start, 1);
}

http_call_t *tarmac_http_crew_take_returned(http_loop_t *loop) {
  pthread_mutex_lock(&loop->crew_lock);
  http_call_t *newest = loop->returned;
  loop->returned = NULL;
  atomic_store(&loop->returned_count, 0);
  pthread_mutex_unlock(&loop->crew_lock);
  http_call_t *oldest = NULL;
  while (newest != NULL) { /* reversed: answered in the order returned */
    http_call_t *next = newest->next;
    newest->next = oldest;
    oldest = newest;
    newest = next;
  }
  return oldest;
}

static void *crew_main(void *arg) {
  http_loop_t *loop = arg;
  h2o_socket_buffer_prototype.allocator.max = 0; /* see server_new */
  jmp_buf start;
  crew_start = &start;
  if (setjmp(start) != 0) {
    /* a thread that gave its call back lands here: a spare until it is
     * handed the loop, or until the loop is finished */
    if (park(loop)) tarmac_http_loop_drive(loop);
  } else {
    tarmac_http_loop_drive(loop);
  }
  thread_exit(loop);
  return NULL;
}

/* Makes room for one more thread in the server's list (done_lock held).
 * 0 or ENOMEM. */
static int reserve_thread_slot(tarmac_http_server_t *server) {
  if (server->crew_thread_count < server->crew_thread_capacity) return 0;
  size_t cap = server->crew_thread_capacity ? server->crew_thread_capacity * 2
                                            : 16;
  pthread_t *grown = realloc(server->crew_threads, cap * sizeof(*grown));
  if (grown == NULL) return ENOMEM;
  server->crew_threads = grown;
  server->crew_thread_capacity = cap;
  return 0;
}

int tarmac_http_crew_spawn(http_loop_t *loop) {
  tarmac_http_server_t *server = loop->server;
  pthread_mutex_lock(&server->done_lock);
  int rc = reserve_thread_slot(server);
  if (rc == 0) {
    pthread_t tid;
    rc = pthread_create(&tid, NULL, crew_main, loop);
    if (rc == 0) {
      server->crew_threads[server->crew_thread_count++] = tid;
      server->threads_alive++;
    }
  }
  pthread_mutex_unlock(&server->done_lock);
  if (rc == 0) loop->threads++;
  return rc;
}

void tarmac_http_crew_join(tarmac_http_server_t *server) {
  pthread_mutex_lock(&server->done_lock);
  size_t count = server->crew_thread_count;
  server->crew_thread_count = 0;
  pthread_mutex_unlock(&server->done_lock);
  for (size_t i = 0; i < count; i++)
    pthread_join(server->crew_threads[i], NULL);
}

/* Whether the loop can be handed on now (crew_lock held): to a parked
 * spare (*spare), or to a new thread while the crew is below its maximum.
 * At the maximum the loop waits for a thread to come back. */
static bool can_hand_on(http_loop_t *loop, bool *spare) {
  *spare = loop->idle > loop->handoffs;
  return !loop->finished &&
         (*spare || loop->threads < loop->server->config.max_threads_per_loop);
}

/* The baton was taken from the running handler (crew_lock held): a parked
 * spare picks it up, or a new thread; if spawning failed, the handler's
 * thread itself picks it up when its handler returns (crew_return). true
 * when a spare is to be woken: the caller signals crew_cond once it has
 * released the lock (so the spare does not wake into a held lock). */
static bool hand_on(http_loop_t *loop, bool spare) {
  if (!spare && tarmac_http_crew_spawn(loop) == 0) return false;
  loop->handoffs++;
  return true;
}

/* The handler on this loop has been running for at least one tick. */
static void take_over(http_loop_t *loop) {
  pthread_mutex_lock(&loop->crew_lock);
  bool spare, wake = false;
  if (can_hand_on(loop, &spare) && tarmac_baton_take(&loop->baton))
    wake = hand_on(loop, spare);
  pthread_mutex_unlock(&loop->crew_lock);
  if (wake) pthread_cond_signal(&loop->crew_cond); /* one hand-off, one spare */
}

/* The loop this thread drives while it runs a handler, and the handler's
 * baton token: what the blocking hook hands on. Per thread by nature (the
 * hook takes no argument); NULL on threads that drive no loop (scheduler,
 * init jobs, tarmac call), outside handlers, once the loop was handed on,
 * and when APP_HANDOFF_BEFORE_WAIT is off. */
static _Thread_local http_loop_t *handler_loop;
static _Thread_local uint64_t handler_token;
/* The call whose handler runs on this thread's fiber and may suspend:
 * cleared with the hand-off, as handler_loop (fibers.c). */
static _Thread_local http_call_t *handler_call;

void tarmac_http_crew_handler_start(http_loop_t *loop, uint64_t token,
                                    http_call_t *on_fiber) {
  /* the knob off holds the loop through every wait: no suspension either */
  if (!loop->server->config.handoff_before_wait) return;
  handler_call = on_fiber;
  handler_loop = loop;
  handler_token = token;
}

void tarmac_http_crew_handler_done(void) {
  handler_loop = NULL;
  handler_call = NULL;
}

http_call_t *tarmac_http_crew_fiber_call(void) { return handler_call; }

/* tarmac_blocking_begin on a thread about to wait on the outside world:
 * when it drives a loop, the loop goes to a spare now, as the watchdog
 * would give it after a period. One thread-local load otherwise. */
static void hand_on_before_wait(void) {
  http_loop_t *loop = handler_loop;
  if (loop == NULL) return;
  pthread_mutex_lock(&loop->crew_lock);
  bool spare, wake = false;
  if (can_hand_on(loop, &spare)) {
    /* released now, or taken by the watchdog already: either way the loop
     * is no longer this thread's to give. With no room (the crew at its
     * maximum) a later wait of the same guest tries again. */
    handler_loop = NULL;
    handler_call = NULL; /* its fiber stays on this thread from now on */
    if (tarmac_baton_release(&loop->baton, handler_token))
      wake = hand_on(loop, spare);
  }
  pthread_mutex_unlock(&loop->crew_lock);
  if (wake) pthread_cond_signal(&loop->crew_cond);
}

static void install_hooks_once(void) {
  /* after the wait nothing is due: the handler returns, finds its baton
   * gone and gives its call back like any taken-over handler */
  tarmac_blocking_hooks_t hooks = {.begin = hand_on_before_wait,
                                   .end = NULL,
                                   .wait = tarmac_http_fibers_wait,
                                   .domain = tarmac_http_waiters_domain,
                                   .watch = tarmac_http_waiters_watch,
                                   .unwatch = tarmac_http_waiters_unwatch,
                                   .defer = tarmac_http_waiters_defer,
                                   .park = tarmac_http_waiters_park,
                                   .unpark = tarmac_http_waiters_unpark};
  tarmac_blocking_set_hooks(&hooks);
}

void tarmac_http_crew_install_hooks(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install_hooks_once);
}

/* Waits one watchdog period, or less when the server stops (stop signals
 * watchdog_cond): a long APP_HANDOFF_MS must not delay the exit. true =
 * the server is stopping. */
static bool watchdog_wait(tarmac_http_server_t *server, unsigned ms) {
  struct timespec until = tarmac_clock_after_ms(CLOCK_REALTIME, ms);
  pthread_mutex_lock(&server->done_lock);
  while (!atomic_load(&server->stopping) &&
         pthread_cond_timedwait(&server->watchdog_cond, &server->done_lock,
                                &until) != ETIMEDOUT) {
  }
  pthread_mutex_unlock(&server->done_lock);
  return atomic_load(&server->stopping);
}

void *tarmac_http_watchdog_main(void *arg) {
  tarmac_http_server_t *server = arg;
  while (!watchdog_wait(server, server->config.handoff_ms))
    for (unsigned i = 0; i < server->loop_count; i++)
      if (tarmac_baton_stalled(&server->loops[i].baton))
        take_over(&server->loops[i]);
  return NULL;
}
