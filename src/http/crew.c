/* The crew of each loop: the thread driving it, spares parked for
 * takeovers, and threads finishing a handler after losing the baton; plus
 * the process-wide watchdog that notices stalled handlers. A crew thread
 * only ever serves its own loop, and lives until that loop is closed, so
 * h2o's thread-local buffer allocators are never shared between loops. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/loop.h"
#include "log/log.h"

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

void tarmac_http_crew_reclaim(http_loop_t *loop) {
  pthread_mutex_lock(&loop->crew_lock);
  if (loop->handoffs > loop->idle) {
    /* a baton nobody can pick up (no spare, no new thread): take it */
    loop->handoffs--;
    pthread_mutex_unlock(&loop->crew_lock);
    return;
  }
  atomic_fetch_add(&loop->returners, 1);
  /* Wake the driver with a message-less send: it only writes to the queue's
   * pipe, so nothing of this thread or its call stays queued in h2o after
   * the baton comes back (a message inside the call did, and was written
   * to after the call had been reused or freed). The queue is alive: this
   * thread's call is in flight, and a loop is torn down only with none. */
  h2o_multithread_send_message(&loop->control, NULL);
  while (loop->returns == 0)
    pthread_cond_wait(&loop->crew_cond, &loop->crew_lock);
  loop->returns--;
  atomic_fetch_sub(&loop->returners, 1);
  pthread_mutex_unlock(&loop->crew_lock);
}

bool tarmac_http_crew_yield(http_loop_t *loop) {
  pthread_mutex_lock(&loop->crew_lock);
  unsigned waiting = atomic_load(&loop->returners);
  bool yield = waiting > loop->returns;
  if (yield) {
    loop->returns++;
    pthread_cond_broadcast(&loop->crew_cond);
  }
  pthread_mutex_unlock(&loop->crew_lock);
  return yield;
}

static void *crew_main(void *arg) {
  http_loop_t *loop = arg;
  h2o_socket_buffer_prototype.allocator.max = 0; /* see server_new */
  while (!tarmac_http_loop_drive(loop) && park(loop)) {
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

/* The handler on this loop has been running for at least one tick: give
 * the loop to a parked spare, or to a new thread while the crew is below
 * its maximum. At the maximum the loop waits for a thread to come back. */
static void take_over(http_loop_t *loop) {
  unsigned max = loop->server->config.max_threads_per_loop;
  pthread_mutex_lock(&loop->crew_lock);
  bool spare = loop->idle > loop->handoffs;
  if (!loop->finished && (spare || loop->threads < max) &&
      tarmac_baton_take(&loop->baton)) {
    if (spare || tarmac_http_crew_spawn(loop) != 0) {
      /* a parked spare takes it; if spawning failed, the stalled thread
       * itself picks the baton up when its handler returns */
      loop->handoffs++;
      pthread_cond_broadcast(&loop->crew_cond);
    }
  }
  pthread_mutex_unlock(&loop->crew_lock);
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
