/* util/reachability: the flag starts unreachable, follows the probe (run
 * at once, on the thread or the caller's, then every interval) and real
 * calls' reports, and stop joins the probing thread. The probe signals
 * each run (readiness, not sleeps). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "test.h"
#include "util/clock.h"
#include "util/reachability.h"

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t ran;
  unsigned runs;
  bool answer; /* what the backend would say */
} backend_t;

static bool probe(void *data) {
  backend_t *b = data;
  pthread_mutex_lock(&b->lock);
  bool answer = b->answer;
  b->runs++;
  pthread_cond_broadcast(&b->ran);
  pthread_mutex_unlock(&b->lock);
  return answer;
}

/* Sets the backend's answer, then waits (bounded) for three more probes
 * to run: the second started after the change, and the thread stores a
 * probe's outcome before it runs the next, so the third running means
 * the second's outcome is stored. */
static bool answer_and_wait(backend_t *b, bool answer) {
  struct timespec until = tarmac_clock_after_ms(CLOCK_REALTIME, 10000);
  pthread_mutex_lock(&b->lock);
  b->answer = answer;
  unsigned want = b->runs + 3;
  int rc = 0;
  while (b->runs < want && rc == 0)
    rc = pthread_cond_timedwait(&b->ran, &b->lock, &until);
  pthread_mutex_unlock(&b->lock);
  return rc == 0;
}

static void test_follows_probe_and_reports(void) {
  backend_t b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                 false};
  tarmac_reachability_t *r = tarmac_reachability_start(5, false, probe, &b);
  CHECK(r != NULL);
  if (r == NULL) return;
  CHECK(answer_and_wait(&b, true));
  CHECK(tarmac_reachability_ok(r));
  CHECK(answer_and_wait(&b, false));
  CHECK(!tarmac_reachability_ok(r));
  CHECK(answer_and_wait(&b, true));
  CHECK(tarmac_reachability_ok(r));
  tarmac_reachability_stop(r);
}

/* A long interval: only the first probe runs during the test, so the
 * flag is what the reports say. */
static void test_reports(void) {
  backend_t b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                 true};
  tarmac_reachability_t *r = tarmac_reachability_start(60000, false, probe, &b);
  CHECK(r != NULL);
  if (r == NULL) return;
  /* the first probe's outcome (true) stored: the next is a minute away */
  uint64_t until = tarmac_clock_ms(CLOCK_MONOTONIC) + 10000;
  while (!tarmac_reachability_ok(r) &&
         tarmac_clock_ms(CLOCK_MONOTONIC) < until)
    sched_yield();
  CHECK(tarmac_reachability_ok(r));
  pthread_mutex_lock(&b.lock);
  CHECK_EQ_INT(b.runs, 1);
  pthread_mutex_unlock(&b.lock);
  tarmac_reachability_report(r, false);
  CHECK(!tarmac_reachability_ok(r));
  tarmac_reachability_report(r, true);
  CHECK(tarmac_reachability_ok(r));
  tarmac_reachability_report(r, false);
  CHECK(!tarmac_reachability_ok(r));
  uint64_t t0 = tarmac_clock_ms(CLOCK_MONOTONIC);
  tarmac_reachability_stop(r); /* does not wait out the interval */
  CHECK(tarmac_clock_ms(CLOCK_MONOTONIC) - t0 < 5000);
  tarmac_reachability_stop(NULL);
}

/* probe_here: the first probe's outcome is known when start returns, and
 * the thread's next probe is an interval away (one probe in all). */
static void test_probe_here(void) {
  for (int answer = 0; answer <= 1; answer++) {
    backend_t b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                   answer == 1};
    tarmac_reachability_t *r =
        tarmac_reachability_start(60000, true, probe, &b);
    CHECK(r != NULL);
    if (r == NULL) return;
    CHECK(tarmac_reachability_ok(r) == (answer == 1));
    pthread_mutex_lock(&b.lock);
    CHECK_EQ_INT(b.runs, 1);
    pthread_mutex_unlock(&b.lock);
    tarmac_reachability_stop(r);
    CHECK_EQ_INT(b.runs, 1);
  }
}

int main(void) {
  test_probe_here();
  test_follows_probe_and_reports();
  test_reports();
  TEST_EXIT();
}
