/* Concurrency limit: a counting gate with a bounded, timed wait. Entering
 * and leaving below the limit are one atomic operation each (no lock on
 * the request path); only a request that must wait, and a leaver that
 * sees waiters, take the lock. */
#include "server/admission.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "util/blocking.h"
#include "util/clock.h"

struct tarmac_admission {
  atomic_uint running;
  atomic_uint waiting; /* changed under lock, read by leavers without */
  atomic_uint_fast64_t admitted, refused;
  pthread_mutex_t lock;
  pthread_cond_t freed; /* a running invocation left */
  unsigned limit;
  unsigned wait_ms;
};

tarmac_admission_t *tarmac_admission_new(unsigned limit, unsigned wait_ms) {
  tarmac_admission_t *a = calloc(1, sizeof(*a));
  if (a == NULL) return NULL;
  pthread_condattr_t attr;
  /* waits are measured on the monotonic clock: a wall-clock step must not
   * stretch or cut them */
  if (pthread_condattr_init(&attr) != 0) {
    free(a);
    return NULL;
  }
  int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&a->freed, &attr);
  pthread_condattr_destroy(&attr);
  if (rc != 0 || pthread_mutex_init(&a->lock, NULL) != 0) {
    if (rc == 0) pthread_cond_destroy(&a->freed);
    free(a);
    return NULL;
  }
  a->limit = limit ? limit : 1;
  a->wait_ms = wait_ms;
  return a;
}

void tarmac_admission_free(tarmac_admission_t *a) {
  if (a == NULL) return;
  pthread_cond_destroy(&a->freed);
  pthread_mutex_destroy(&a->lock);
  free(a);
}

/* Takes a slot when one is free. */
static bool try_take(tarmac_admission_t *a) {
  unsigned running = atomic_load(&a->running);
  while (running < a->limit)
    if (atomic_compare_exchange_weak(&a->running, &running, running + 1))
      return true;
  return false;
}

/* How many waiters hand their event loop on before they wait
 * (util/blocking.h): the first quarter of the waiting places (at least
 * one). A waiter beyond them keeps its loop while it waits, as every
 * waiter did before issue 9: the loop then reads no new request until
 * the watchdog hands it on (APP_HANDOFF_MS), so a burst larger than what
 * may run and wait is paced into the waiting places at the watchdog's
 * rate and mostly served as slots free, instead of filling them at once
 * and being answered 503. Measured with http_lifecycle_handoff (limit 16,
 * 100 ms queue timeout, 1 ms watchdog, 30 ms guests, 200 streams): every
 * waiter handing on answered 553 of 600 requests 503, half of them 425 to
 * 487, a quarter or one of them none, as with no waiter handing on.
 * Never handing on would hold the loop, /health included, for as long as
 * the first waiter waits. */
static unsigned hand_on_below(const tarmac_admission_t *a) {
  return (a->limit + 3) / 4;
}

/* Waits (bounded) for a slot. A waiter counts itself before it tries, and
 * a leaver frees its slot before it looks for waiters (both sequentially
 * consistent), so either the try sees the freed slot or the leaver sees
 * the waiter and signals under the lock, which the waiter holds until it
 * sleeps: no wake-up is lost. */
static bool wait_for_slot(tarmac_admission_t *a) {
  pthread_mutex_lock(&a->lock);
  bool taken = false, handed_on = false;
  unsigned waiting = atomic_load(&a->waiting);
  if (waiting < a->limit) {
    struct timespec until = tarmac_clock_after_ms(CLOCK_MONOTONIC, a->wait_ms);
    atomic_fetch_add(&a->waiting, 1);
    if (waiting < hand_on_below(a)) {
      /* the hook runs outside the lock (it may start a thread); counted
       * as waiting already, so a leaver meanwhile signals the lock */
      pthread_mutex_unlock(&a->lock);
      tarmac_blocking_begin();
      handed_on = true;
      pthread_mutex_lock(&a->lock);
    }
    while (!(taken = try_take(a)) &&
           pthread_cond_timedwait(&a->freed, &a->lock, &until) == 0) {
    }
    atomic_fetch_sub(&a->waiting, 1);
  }
  pthread_mutex_unlock(&a->lock);
  if (handed_on) tarmac_blocking_end();
  return taken;
}

bool tarmac_admission_enter(tarmac_admission_t *a) {
  bool admitted = try_take(a) || (a->wait_ms > 0 && wait_for_slot(a));
  atomic_fetch_add_explicit(admitted ? &a->admitted : &a->refused, 1,
                            memory_order_relaxed);
  return admitted;
}

void tarmac_admission_leave(tarmac_admission_t *a) {
  atomic_fetch_sub(&a->running, 1);
  if (atomic_load(&a->waiting) == 0) return;
  pthread_mutex_lock(&a->lock);
  pthread_cond_signal(&a->freed);
  pthread_mutex_unlock(&a->lock);
}

tarmac_admission_stats_t tarmac_admission_stats(tarmac_admission_t *a) {
  return (tarmac_admission_stats_t){
      a->limit, atomic_load(&a->running), atomic_load(&a->waiting),
      atomic_load(&a->admitted), atomic_load(&a->refused)};
}
