/* Reachability of a backend: a probing thread and an atomic flag
 * (reachability.h). */
#include "util/reachability.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "util/clock.h"

struct tarmac_reachability {
  atomic_bool ok;
  unsigned interval_ms;
  tarmac_reachability_probe_fn probe;
  void *data;
  pthread_mutex_t lock; /* stopping, and the wait between probes */
  pthread_cond_t stop;  /* CLOCK_MONOTONIC */
  bool stopping;
  bool probed_at_start; /* the first probe ran on the caller's thread */
  pthread_t thread;
};

static void *probe_main(void *arg) {
  tarmac_reachability_t *r = arg;
  bool probe_now = !r->probed_at_start; /* set before the thread began */
  pthread_mutex_lock(&r->lock);
  while (!r->stopping) {
    if (probe_now) {
      pthread_mutex_unlock(&r->lock);
      atomic_store(&r->ok, r->probe(r->data));
      pthread_mutex_lock(&r->lock);
    }
    probe_now = true;
    struct timespec until =
        tarmac_clock_after_ms(CLOCK_MONOTONIC, r->interval_ms);
    while (!r->stopping &&
           pthread_cond_timedwait(&r->stop, &r->lock, &until) == 0) {
    }
  }
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

static int init_sync(tarmac_reachability_t *r) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr) != 0) return -1;
  int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&r->stop, &attr);
  pthread_condattr_destroy(&attr);
  if (rc != 0) return -1;
  if (pthread_mutex_init(&r->lock, NULL) != 0) {
    pthread_cond_destroy(&r->stop);
    return -1;
  }
  return 0;
}

tarmac_reachability_t *tarmac_reachability_start(
    unsigned interval_ms, bool probe_here, tarmac_reachability_probe_fn probe,
    void *data) {
  tarmac_reachability_t *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->interval_ms = interval_ms ? interval_ms : 1;
  r->probe = probe;
  r->data = data;
  atomic_init(&r->ok, probe_here && probe(data));
  r->probed_at_start = probe_here;
  if (init_sync(r) != 0) {
    free(r);
    return NULL;
  }
  if (pthread_create(&r->thread, NULL, probe_main, r) != 0) {
    pthread_cond_destroy(&r->stop);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return NULL;
  }
  return r;
}

void tarmac_reachability_stop(tarmac_reachability_t *r) {
  if (r == NULL) return;
  pthread_mutex_lock(&r->lock);
  r->stopping = true;
  pthread_cond_signal(&r->stop);
  pthread_mutex_unlock(&r->lock);
  pthread_join(r->thread, NULL);
  pthread_cond_destroy(&r->stop);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

bool tarmac_reachability_ok(const tarmac_reachability_t *r) {
  return atomic_load(&r->ok);
}

void tarmac_reachability_report(tarmac_reachability_t *r, bool reached) {
  if (atomic_load_explicit(&r->ok, memory_order_relaxed) != reached)
    atomic_store(&r->ok, reached);
}
