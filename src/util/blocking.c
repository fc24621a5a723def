#include "util/blocking.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "util/clock.h"

#define NS_PER_MS UINT64_C(1000000)

/* Set once before the threads that read it start (pthread_create orders
 * the write before their reads); read-only afterwards. */
static tarmac_blocking_hooks_t hooks;
static _Thread_local unsigned depth;

void tarmac_blocking_set_hooks(const tarmac_blocking_hooks_t *h) {
  hooks = *h;
}

void tarmac_blocking_begin(void) {
  if (depth++ == 0 && hooks.begin != NULL) hooks.begin();
}

void tarmac_blocking_end(void) {
  if (depth > 0 && --depth == 0 && hooks.end != NULL) hooks.end();
}

void tarmac_blocking_swap_depth(unsigned *saved) {
  unsigned mine = depth;
  depth = *saved;
  *saved = mine;
}

static void sleep_until(uint64_t until_ns) {
  struct timespec end = {.tv_sec = (time_t)(until_ns / 1000000000u),
                         .tv_nsec = (long)(until_ns % 1000000000u)};
  /* TIMER_ABSTIME: EINTR (a deadline signal) resumes the same wait */
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR) {
  }
}

/* poll until ready or until_ns; EINTR (a deadline signal) polls again
 * for what is left. */
static int poll_until(int fd, short events, uint64_t until_ns) {
  for (;;) {
    uint64_t now = tarmac_clock_ns();
    if (now >= until_ns) return 0;
    uint64_t ms = (until_ns - now + NS_PER_MS - 1) / NS_PER_MS;
    struct pollfd p = {fd, events, 0};
    int rc = poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms);
    if (rc > 0) return p.revents;
    if (rc < 0 && errno != EINTR) return -1;
  }
}

int tarmac_blocking_wait(int fd, short events, uint64_t until_ns) {
  if (hooks.wait != NULL) {
    int rc = hooks.wait(fd, events, until_ns);
    if (rc != TARMAC_BLOCKING_UNHANDLED) return rc;
  }
  tarmac_blocking_begin();
  int rc = 0;
  if (fd < 0)
    sleep_until(until_ns);
  else
    rc = poll_until(fd, events, until_ns);
  tarmac_blocking_end();
  return rc;
}

void *tarmac_blocking_domain(unsigned *index) {
  return hooks.domain != NULL ? hooks.domain(index) : NULL;
}

int tarmac_blocking_watch(void *domain, int fd, uint32_t events,
                          tarmac_blocking_watch_t *w) {
  if (hooks.watch == NULL) return errno = ENOSYS, -1;
  return hooks.watch(domain, fd, events, w);
}

void tarmac_blocking_unwatch(void *domain, int fd) {
  if (hooks.unwatch != NULL) hooks.unwatch(domain, fd);
}

bool tarmac_blocking_defer(void *domain, tarmac_blocking_task_t *task) {
  if (hooks.defer == NULL || domain == NULL) return false;
  hooks.defer(domain, task);
  return true;
}

void tarmac_blocking_parking_init(tarmac_blocking_parking_t *p) {
  /* the static initialisers: nothing to fail, nothing to free */
  *p = (tarmac_blocking_parking_t){.lock = PTHREAD_MUTEX_INITIALIZER,
                                   .cond = PTHREAD_COND_INITIALIZER};
}

void tarmac_blocking_parking_destroy(tarmac_blocking_parking_t *p) {
  pthread_cond_destroy(&p->cond);
  pthread_mutex_destroy(&p->lock);
}

/* The thread's wait on p->cond until done or until_ns. */
static int park_on_thread(tarmac_blocking_parking_t *p, uint64_t until_ns) {
  struct timespec end = {.tv_sec = (time_t)(until_ns / 1000000000u),
                         .tv_nsec = (long)(until_ns % 1000000000u)};
  tarmac_blocking_begin();
  pthread_mutex_lock(&p->lock);
  while (!p->done &&
         pthread_cond_clockwait(&p->cond, &p->lock, CLOCK_MONOTONIC, &end) !=
             ETIMEDOUT) {
  }
  int rc = p->done ? 1 : 0;
  pthread_mutex_unlock(&p->lock);
  tarmac_blocking_end();
  return rc;
}

int tarmac_blocking_park(tarmac_blocking_parking_t *p, uint64_t until_ns) {
  if (hooks.park != NULL) {
    int rc = hooks.park(p, until_ns);
    if (rc != TARMAC_BLOCKING_UNHANDLED) return rc;
  }
  return park_on_thread(p, until_ns);
}

void tarmac_blocking_unpark(tarmac_blocking_parking_t *p) {
  pthread_mutex_lock(&p->lock);
  p->done = true;
  /* a suspended guest is resumed by the driver; one that waits on its
   * thread (or has not suspended yet) is signalled / finds done */
  if (p->waiter == NULL || hooks.unpark == NULL || !hooks.unpark(p->waiter))
    pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
}
