/* The util/blocking hooks through which a store shares one connection
 * between the guests of an event loop (kvstore/redis.c): the loop as a
 * domain, watches of fds in the loop's wait set (fibers.c), tasks deferred
 * to the end of run_pending's pass, and parkings of guests on their fibers
 * until the driver hands them a result.
 *
 * Ownership: watches, tasks and parkings are their callers' memory; the
 * loop links tasks (deferred list, under deferred_lock: a guest whose loop
 * was taken over may queue one from its own thread) and registers watches
 * (the kernel's set; any thread). A parked fiber is resumed only by the
 * driver, like every suspended handler. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>

#include "http/loop.h"

void tarmac_http_waiters_init(http_loop_t *loop) {
  pthread_mutex_init(&loop->deferred_lock, NULL);
  loop->deferred_head = NULL;
  loop->deferred_tail = &loop->deferred_head;
  atomic_init(&loop->deferred_any, false);
}

void tarmac_http_waiters_dispose(http_loop_t *loop) {
  pthread_mutex_destroy(&loop->deferred_lock);
}

void *tarmac_http_waiters_domain(unsigned *index) {
  http_call_t *call = tarmac_http_crew_fiber_call();
  if (call == NULL) return NULL;
  *index = call->loop->index;
  return call->loop;
}

/* ---- watches ------------------------------------------------------------ */

_Static_assert(sizeof(http_wait_source_t) <=
                   sizeof(((tarmac_blocking_watch_t *)0)->hook),
               "a watch has room for its wait source");

static http_wait_source_t *source_of(tarmac_blocking_watch_t *w) {
  return (http_wait_source_t *)(void *)w->hook;
}

static void on_watch_fire(http_wait_source_t *source, uint32_t events) {
  tarmac_blocking_watch_t *w =
      (tarmac_blocking_watch_t *)(void *)((char *)source -
                                          offsetof(tarmac_blocking_watch_t,
                                                   hook));
  /* epoll's EPOLLIN/OUT/ERR/HUP are poll's bits */
  w->ready(w, events & (POLLIN | POLLOUT | POLLERR | POLLHUP));
}

int tarmac_http_waiters_watch(void *domain, int fd, uint32_t events,
                              tarmac_blocking_watch_t *w) {
  http_loop_t *loop = domain;
  http_wait_source_t *source = source_of(w);
  source->fire = on_watch_fire;
  /* level-triggered: what is left unread fires again next iteration */
  struct epoll_event ev = {.events = events & (EPOLLIN | EPOLLOUT),
                           .data.ptr = source};
  if (epoll_ctl(loop->wait_ep, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  if (errno != ENOENT) return -1;
  return epoll_ctl(loop->wait_ep, EPOLL_CTL_ADD, fd, &ev);
}

void tarmac_http_waiters_unwatch(void *domain, int fd) {
  http_loop_t *loop = domain;
  epoll_ctl(loop->wait_ep, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- deferred tasks ----------------------------------------------------- */

void tarmac_http_waiters_defer(void *domain, tarmac_blocking_task_t *task) {
  http_loop_t *loop = domain;
  pthread_mutex_lock(&loop->deferred_lock);
  if (!task->queued) {
    task->queued = true;
    task->next = NULL;
    *loop->deferred_tail = task;
    loop->deferred_tail = &task->next;
    atomic_store_explicit(&loop->deferred_any, true, memory_order_relaxed);
  }
  pthread_mutex_unlock(&loop->deferred_lock);
}

bool tarmac_http_waiters_pending(http_loop_t *loop) {
  return atomic_load_explicit(&loop->deferred_any, memory_order_relaxed);
}

/* The oldest queued task, unqueued; NULL when none. */
static tarmac_blocking_task_t *pop_task(http_loop_t *loop) {
  pthread_mutex_lock(&loop->deferred_lock);
  tarmac_blocking_task_t *task = loop->deferred_head;
  if (task != NULL) {
    loop->deferred_head = task->next;
    if (loop->deferred_head == NULL) {
      loop->deferred_tail = &loop->deferred_head;
      atomic_store_explicit(&loop->deferred_any, false, memory_order_relaxed);
    }
    task->queued = false; /* it may queue itself again while it runs */
  }
  pthread_mutex_unlock(&loop->deferred_lock);
  return task;
}

void tarmac_http_waiters_run_deferred(http_loop_t *loop) {
  if (!tarmac_http_waiters_pending(loop)) return; /* one load per pass */
  tarmac_blocking_task_t *task;
  while ((task = pop_task(loop)) != NULL) task->run(task);
}

/* ---- parking ------------------------------------------------------------ */

int tarmac_http_waiters_park(tarmac_blocking_parking_t *p, uint64_t until_ns) {
  http_call_t *call = tarmac_http_crew_fiber_call();
  if (call == NULL) return TARMAC_BLOCKING_UNHANDLED;
  pthread_mutex_lock(&p->lock);
  bool done = p->done;
  if (!done) p->waiter = call; /* the driver resumes it from now on */
  pthread_mutex_unlock(&p->lock);
  if (done) return 1;
  /* an fd-less wait: until the driver wakes it (unpark) or the time */
  int rc = tarmac_http_fibers_wait(-1, 0, until_ns);
  pthread_mutex_lock(&p->lock);
  p->waiter = NULL;
  done = p->done;
  pthread_mutex_unlock(&p->lock);
  if (done) return 1;
  if (rc != TARMAC_BLOCKING_UNHANDLED) return 0;
  /* taken over before it suspended: its thread waits (on p->cond); what
   * it deferred (its command) waits for the new driver's next pass, which
   * may be asleep: a message-less wake-up, as crew_return sends (the loop
   * lives until this call is answered) */
  if (tarmac_http_waiters_pending(call->loop))
    h2o_multithread_send_message(&call->loop->control, NULL);
  return TARMAC_BLOCKING_UNHANDLED;
}

bool tarmac_http_waiters_unpark(void *waiter) {
  http_call_t *call = waiter;
  /* already on the ready list (its time came this iteration): it finds
   * p->done when resumed */
  if (call->queued) return true;
  /* not suspended: its loop was taken over before it could suspend, and
   * its thread goes on to wait on p->cond (p->done is set under p->lock,
   * which that wait checks) */
  if (call->fiber == NULL || !tarmac_fiber_suspended(call->fiber))
    return false;
  tarmac_http_fibers_wake(call, POLLIN);
  return true;
}
