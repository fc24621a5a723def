/* Concurrency limit: a counting gate with a bounded, timed wait. */
#include "server/admission.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util/clock.h"

struct tarmac_admission {
  pthread_mutex_t lock;
  pthread_cond_t freed; /* a running invocation left */
  unsigned limit;
  unsigned wait_ms;
  unsigned running;
  unsigned waiting;
  uint64_t admitted;
  uint64_t refused;
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

/* Waits (lock held) until a slot frees or the wait runs out. */
static void wait_for_slot(tarmac_admission_t *a) {
  struct timespec until = tarmac_clock_after_ms(CLOCK_MONOTONIC, a->wait_ms);
  a->waiting++;
  while (a->running >= a->limit) {
    if (pthread_cond_timedwait(&a->freed, &a->lock, &until) != 0) break;
  }
  a->waiting--;
}

bool tarmac_admission_enter(tarmac_admission_t *a) {
  pthread_mutex_lock(&a->lock);
  if (a->running >= a->limit && a->wait_ms > 0 && a->waiting < a->limit)
    wait_for_slot(a);
  bool admitted = a->running < a->limit;
  if (admitted) {
    a->running++;
    a->admitted++;
  } else {
    a->refused++;
  }
  pthread_mutex_unlock(&a->lock);
  return admitted;
}

void tarmac_admission_leave(tarmac_admission_t *a) {
  pthread_mutex_lock(&a->lock);
  a->running--;
  pthread_cond_signal(&a->freed);
  pthread_mutex_unlock(&a->lock);
}

tarmac_admission_stats_t tarmac_admission_stats(tarmac_admission_t *a) {
  pthread_mutex_lock(&a->lock);
  tarmac_admission_stats_t s = {a->limit, a->running, a->waiting,
                                a->admitted, a->refused};
  pthread_mutex_unlock(&a->lock);
  return s;
}
