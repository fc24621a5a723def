/* Handlers on fibers (runtime/fiber.h): the driver runs each handler on a
 * fiber of its loop; a handler that waits on the outside world through
 * tarmac_blocking_wait (a WASI sleep, a Redis reply) gives the baton back,
 * registers the wait with the loop (its end in the loop's heap of wait
 * ends, which one timerfd rings for; a one-shot registration of its fd in
 * the loop's epoll set of waits) and suspends; the driver goes on with its
 * loop and resumes the fiber, from run_pending, once the fd is ready or
 * the time came. No thread switch per wait. A handler whose loop was
 * handed on meanwhile (a watchdog takeover, a hand-off before another kind
 * of wait) keeps its thread and waits on it, as before fibers.
 *
 * Ownership: a loop's fibers belong to its driver (the pool, the ready
 * list, every registered wait, the heap of wait ends and the timerfd); a
 * fiber runs only between a driver's tarmac_fiber_resume and its return,
 * and is suspended only with the baton left idle by its own handler, so
 * no other thread can resume it twice (fiber.c checks it too). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "http/loop.h"
#include "log/log.h"
#include "util/blocking.h"
#include "util/clock.h"
#include "util/time_heap.h"

#define NS_PER_SEC UINT64_C(1000000000)
/* Farthest the timerfd is armed ahead: a later end is re-armed for when
 * it rings (this only keeps the kernel's arithmetic away from its
 * limits; waits are cut at the guest's deadline). */
#define TIMER_MAX_AHEAD_NS (UINT64_C(24) * 3600 * NS_PER_SEC)

/* Fibers per loop: as configured (the server: what admission lets run,
 * its waiters that hand on, one more), at most APP_MAX_THREADS_PER_LOOP
 * (by default a quarter of it). Guests beyond it wait in the loop's
 * pending list, unstarted, as they waited for a crew thread before
 * fibers: a burst is paced into the function's invocation slots instead
 * of starting at once to be answered 503 by admission
 * (http_lifecycle_handoff). */
static unsigned fibers_per_loop(const tarmac_http_config_t *config) {
  unsigned n = config->fibers_per_loop ? config->fibers_per_loop
                                       : config->max_threads_per_loop / 4;
  if (n > config->max_threads_per_loop) n = config->max_threads_per_loop;
  return n > 1 ? n : 1;
}

static void on_waits_ready(h2o_socket_t *sock, const char *err);
static void on_timer(http_wait_source_t *source, uint32_t events);

/* The loop's timerfd, in its wait set (level-triggered: it stays readable
 * from when it rings until it is re-armed), and room in the heap for a
 * wait per fiber, so that registering a wait cannot fail. */
static int timers_init(http_loop_t *loop, char *err, size_t err_size) {
  loop->timers = (tarmac_time_heap_t)TARMAC_TIME_HEAP_INIT;
  loop->timer_armed_ns = 0;
  loop->timer_source.fire = on_timer;
  if (tarmac_time_heap_reserve(&loop->timers, loop->fibers.max) != 0) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  loop->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (loop->timer_fd < 0) {
    snprintf(err, err_size, "timerfd_create: %s", strerror(errno));
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN,
                           .data.ptr = &loop->timer_source};
  if (epoll_ctl(loop->wait_ep, EPOLL_CTL_ADD, loop->timer_fd, &ev) != 0) {
    snprintf(err, err_size, "epoll_ctl (timerfd): %s", strerror(errno));
    return -1;
  }
  return 0;
}

int tarmac_http_fibers_init(http_loop_t *loop, char *err, size_t err_size) {
  loop->ready_head = NULL;
  loop->ready_tail = &loop->ready_head;
  loop->timer_fd = -1; /* what dispose closes, whatever fails below */
  tarmac_fiber_pool_init(&loop->fibers, fibers_per_loop(&loop->server->config),
                         0);
  loop->wait_ep = epoll_create1(EPOLL_CLOEXEC);
  if (loop->wait_ep < 0) {
    snprintf(err, err_size, "epoll_create1: %s", strerror(errno));
    return -1;
  }
  loop->wait_sock = h2o_evloop_socket_create(loop->evloop, loop->wait_ep,
                                             H2O_SOCKET_FLAG_DONT_READ);
  loop->wait_sock->data = loop;
  h2o_socket_read_start(loop->wait_sock, on_waits_ready);
  return timers_init(loop, err, err_size);
}

void tarmac_http_fibers_dispose(http_loop_t *loop) {
  tarmac_fiber_pool_dispose(&loop->fibers);
  if (loop->wait_sock != NULL) h2o_socket_close(loop->wait_sock); /* + fd */
  loop->wait_sock = NULL;
  if (loop->timer_fd >= 0) close(loop->timer_fd);
  loop->timer_fd = -1;
  tarmac_time_heap_free(&loop->timers);
}

static void schedule_run(http_loop_t *loop) {
  if (!h2o_timeout_is_linked(&loop->run_entry))
    h2o_timeout_link(loop->evloop, &loop->ctx.zero_timeout, &loop->run_entry);
}

void tarmac_http_fibers_release(http_call_t *call) {
  if (call->fiber == NULL) return;
  http_loop_t *loop = call->loop;
  tarmac_fiber_pool_give(&loop->fibers, call->fiber);
  call->fiber = NULL;
  if (loop->pending_head != NULL) schedule_run(loop); /* one was waiting */
}

static void run_handler(void *arg) {
  http_call_t *call = arg;
  const tarmac_http_config_t *config = &call->loop->server->config;
  config->handler(config->handler_data, &call->request, &call->response);
}

/* One run of the handler: from its start or its last wait to its end or
 * its next wait. false: suspended (it left the baton idle itself). */
static bool run_slice(http_loop_t *loop, http_call_t *call) {
  call->token = tarmac_baton_enter(&loop->baton);
  tarmac_http_crew_handler_start(loop, call->token,
                                 call->fiber != NULL ? call : NULL);
  bool finished = true;
  if (call->fiber != NULL)
    finished = tarmac_fiber_resume(call->fiber);
  else
    run_handler(call);
  tarmac_http_crew_handler_done();
  return finished;
}

/* The handler returned: answers the call, or gives it to the driver when
 * the baton was taken meanwhile. */
static void complete(http_loop_t *loop, http_call_t *call) {
  if (!tarmac_baton_leave(&loop->baton, call->token))
    tarmac_http_crew_return(loop, call); /* returns only if still driver */
  tarmac_http_call_finish(call);
}

bool tarmac_http_fibers_run(http_loop_t *loop, http_call_t *call) {
  call->fiber = tarmac_fiber_pool_take(&loop->fibers);
  /* every fiber in use: the call waits for one, which paces a burst as
   * the crew's bound did; only a loop that cannot make a single fiber
   * (out of memory) runs its handlers on the thread's stack */
  if (call->fiber == NULL && loop->fibers.live > 0) return false;
  if (call->fiber != NULL) tarmac_fiber_start(call->fiber, run_handler, call);
  if (run_slice(loop, call)) complete(loop, call);
  return true;
}

static http_call_t *pop_ready(http_loop_t *loop) {
  http_call_t *call = loop->ready_head;
  if (call == NULL) return NULL;
  loop->ready_head = call->next;
  if (loop->ready_head == NULL) loop->ready_tail = &loop->ready_head;
  call->next = NULL;
  call->queued = false;
  return call;
}

void tarmac_http_fibers_resume_ready(http_loop_t *loop) {
  http_call_t *call;
  /* one at a time from the loop's list: a thread that loses the baton in
   * a handler leaves the rest to the next driver */
  while ((call = pop_ready(loop)) != NULL)
    if (run_slice(loop, call)) complete(loop, call);
}

/* ---- waits -------------------------------------------------------------- */

/* Disarms the fd's registration unless it fired (one-shot): a later event
 * must not name this call. */
static void disarm(http_loop_t *loop, http_wait_t *w) {
  if (w->armed) epoll_ctl(loop->wait_ep, EPOLL_CTL_DEL, w->fd, NULL);
  w->armed = false;
}

/* The wait leaves the heap; the timerfd stays armed (lazily: if it was
 * for this wait it rings for nothing and is re-armed then), so a wait
 * woken by its fd costs no timer system call. */
static void unregister_wait(http_loop_t *loop, http_wait_t *w) {
  tarmac_time_heap_remove(&loop->timers, &w->timer);
  disarm(loop, w);
}

/* The wait ended (driver, in h2o's callbacks): the call is resumed from
 * run_pending, in this iteration. */
static void wake(http_call_t *call, int result) {
  http_loop_t *loop = call->loop;
  unregister_wait(loop, &call->wait);
  call->wait.result = result;
  call->queued = true;
  call->next = NULL;
  *loop->ready_tail = call;
  loop->ready_tail = &call->next;
  schedule_run(loop);
}

void tarmac_http_fibers_wake(http_call_t *call, int result) {
  wake(call, result);
}

/* Arms the timerfd to ring at when_ns (CLOCK_MONOTONIC; 0: disarms), at
 * most TIMER_MAX_AHEAD_NS after now_ns. Either way it is no longer
 * readable for an earlier ring (timerfd_settime clears its count). */
static void arm_timer(http_loop_t *loop, uint64_t when_ns, uint64_t now_ns) {
  if (when_ns > now_ns && when_ns - now_ns > TIMER_MAX_AHEAD_NS)
    when_ns = now_ns + TIMER_MAX_AHEAD_NS;
  struct itimerspec at = {
      .it_value = {.tv_sec = (time_t)(when_ns / NS_PER_SEC),
                   .tv_nsec = (long)(when_ns % NS_PER_SEC)}};
  if (timerfd_settime(loop->timer_fd, TFD_TIMER_ABSTIME, &at, NULL) != 0) {
    /* only a bad descriptor or address fails: a bug, said loudly; the
     * next wait registered tries again */
    tarmac_logf(TARMAC_LOG_ERROR, "loop %u: timerfd_settime: %s",
                loop->index, strerror(errno));
    when_ns = 0;
  }
  loop->timer_armed_ns = when_ns;
}

/* The timerfd rang (driver, in h2o's callbacks): wakes every wait whose
 * end has passed, by one reading of the clock the timerfd uses (so none
 * wakes early), and re-arms for the earliest left, or disarms. */
static void on_timer(http_wait_source_t *source, uint32_t events) {
  (void)events;
  http_loop_t *loop = H2O_STRUCT_FROM_MEMBER(http_loop_t, timer_source,
                                             source);
  uint64_t now = tarmac_clock_ns();
  tarmac_time_heap_node_t *first;
  while ((first = tarmac_time_heap_peek(&loop->timers)) != NULL &&
         first->when <= now) {
    tarmac_time_heap_pop(&loop->timers);
    wake(H2O_STRUCT_FROM_MEMBER(http_call_t, wait.timer, first), 0);
  }
  arm_timer(loop, first != NULL ? first->when : 0, now);
}

#define WAIT_EVENTS_MAX 64

/* A suspended handler's fd is ready (its one-shot registration fired and
 * is disarmed); errors and hang-ups too: the reader finds out what
 * happened. */
static void on_fd_ready(http_wait_source_t *source, uint32_t events) {
  (void)events;
  http_call_t *call = H2O_STRUCT_FROM_MEMBER(http_call_t, wait.source, source);
  call->wait.armed = false;
  wake(call, POLLIN);
}

/* The wait set has events, each naming its source. More than fit are read
 * at the next iteration (the set stays readable). */
static void on_waits_ready(h2o_socket_t *sock, const char *err) {
  (void)err;
  http_loop_t *loop = sock->data;
  struct epoll_event events[WAIT_EVENTS_MAX];
  int n = epoll_wait(loop->wait_ep, events, WAIT_EVENTS_MAX, 0);
  for (int i = 0; i < n; i++) {
    http_wait_source_t *source = events[i].data.ptr;
    source->fire(source, events[i].events);
  }
}

/* Arms a one-shot registration of fd naming the call. A connection's fd
 * stays in the set, disarmed, between its waits (MOD); a new one is added;
 * the kernel drops a closed fd from the set. false: it cannot be watched. */
static bool arm(http_loop_t *loop, http_call_t *call, int fd) {
  call->wait.source.fire = on_fd_ready;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT,
                           .data.ptr = &call->wait.source};
  if (epoll_ctl(loop->wait_ep, EPOLL_CTL_MOD, fd, &ev) != 0 &&
      (errno != ENOENT || epoll_ctl(loop->wait_ep, EPOLL_CTL_ADD, fd, &ev) != 0))
    return false;
  call->wait.fd = fd;
  call->wait.armed = true;
  return true;
}

/* Registers the wait's end with the loop (the thread holds it, idle):
 * the timerfd is armed only when this wait ends before what it is armed
 * for (a steady stream of equal sleeps arms it only when it rings). An
 * end already passed (a zero sleep) rings at once: the call still gives
 * the loop a turn, as a yield. */
static void register_timer(http_call_t *call, uint64_t until_ns) {
  http_loop_t *loop = call->loop;
  http_wait_t *w = &call->wait;
  w->result = 0;
  w->timer.when = until_ns;
  if (tarmac_time_heap_push(&loop->timers, &w->timer) != 0) {
    /* cannot happen (room for a wait per fiber was reserved at start):
     * the call is resumed at once and suspends again, until its end */
    wake(call, 0);
    return;
  }
  if (loop->timer_armed_ns == 0 || until_ns < loop->timer_armed_ns)
    arm_timer(loop, until_ns, tarmac_clock_ns());
}

int tarmac_http_fibers_wait(int fd, short events, uint64_t until_ns) {
  http_call_t *call = tarmac_http_crew_fiber_call();
  /* writes that find the socket's buffer full are rare: they wait on the
   * thread, with the loop handed on */
  if (call == NULL || (fd >= 0 && events != POLLIN))
    return TARMAC_BLOCKING_UNHANDLED;
  http_loop_t *loop = call->loop;
  for (;;) {
    /* the fd first: the kernel's set may be changed from any thread */
    call->wait.armed = false;
    if (fd >= 0 && !arm(loop, call, fd)) return TARMAC_BLOCKING_UNHANDLED;
    /* the handler's run ends here: with the baton idle nobody can take
     * the loop from this thread, which registers the timer and goes back
     * to driving it */
    if (!tarmac_baton_leave(&loop->baton, call->token)) {
      disarm(loop, &call->wait);
      tarmac_http_crew_handler_done(); /* taken over: wait on the thread */
      return TARMAC_BLOCKING_UNHANDLED;
    }
    tarmac_http_crew_handler_done();
    register_timer(call, until_ns);
    tarmac_fiber_suspend();
    /* resumed by a driver of the loop (perhaps another thread): `call`
     * is a local, no thread-local state of before is used */
    if (call->wait.result != 0) return call->wait.result;
    if (tarmac_clock_ns() >= until_ns) return 0;
    /* woken before its end: never by the timerfd (it rang past the end,
     * by the same clock); kept so that no wake-up returns early */
    call = tarmac_http_crew_fiber_call();
    if (call == NULL) return TARMAC_BLOCKING_UNHANDLED;
  }
}
