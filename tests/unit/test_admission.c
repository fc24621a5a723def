/* The concurrency limit (server/admission): admits up to the limit, makes
 * the next wait for a slot and admits it when one frees, refuses when the
 * wait runs out, and refuses at once when as many wait as may run. Each
 * waiting thread is observed through the stats (readiness, not sleeps). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "server/admission.h"
#include "test.h"
#include "util/blocking.h"
#include "util/clock.h"

typedef struct {
  tarmac_admission_t *admission;
  bool admitted;
  uint64_t waited_ms;
} entrant_t;

static void *enter(void *arg) {
  entrant_t *e = arg;
  uint64_t t0 = tarmac_clock_ms(CLOCK_MONOTONIC);
  e->admitted = tarmac_admission_enter(e->admission);
  e->waited_ms = tarmac_clock_ms(CLOCK_MONOTONIC) - t0;
  return NULL;
}

/* Waits (bounded) until `n` threads wait inside the admission. */
static bool wait_for_waiters(tarmac_admission_t *a, unsigned n) {
  uint64_t until = tarmac_clock_ms(CLOCK_MONOTONIC) + 10000;
  while (tarmac_admission_stats(a).waiting != n) {
    if (tarmac_clock_ms(CLOCK_MONOTONIC) > until) return false;
    sched_yield();
  }
  return true;
}

static void test_no_wait(void) {
  tarmac_admission_t *a = tarmac_admission_new(2, 0);
  CHECK(tarmac_admission_enter(a));
  CHECK(tarmac_admission_enter(a));
  CHECK(!tarmac_admission_enter(a)); /* over the limit, no wait */
  tarmac_admission_stats_t st = tarmac_admission_stats(a);
  CHECK_EQ_INT(st.running, 2);
  CHECK_EQ_INT(st.admitted, 2);
  CHECK_EQ_INT(st.refused, 1);
  tarmac_admission_leave(a);
  CHECK(tarmac_admission_enter(a)); /* a slot freed */
  tarmac_admission_leave(a);
  tarmac_admission_leave(a);
  CHECK_EQ_INT(tarmac_admission_stats(a).running, 0);
  tarmac_admission_free(a);
}

static void test_waiter_admitted(void) {
  tarmac_admission_t *a = tarmac_admission_new(1, 60000);
  CHECK(tarmac_admission_enter(a));
  entrant_t e = {a, false, 0};
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, enter, &e), 0);
  CHECK(wait_for_waiters(a, 1));
  tarmac_admission_leave(a); /* hands the slot to the waiter */
  pthread_join(t, NULL);
  CHECK(e.admitted);
  CHECK(e.waited_ms < 30000); /* woken, not timed out */
  CHECK_EQ_INT(tarmac_admission_stats(a).running, 1);
  tarmac_admission_leave(a);
  tarmac_admission_free(a);
}

static void test_wait_runs_out(void) {
  tarmac_admission_t *a = tarmac_admission_new(1, 50);
  CHECK(tarmac_admission_enter(a));
  entrant_t e = {a, true, 0};
  enter(&e);
  CHECK(!e.admitted);
  CHECK(e.waited_ms >= 49); /* waited the whole 50 ms (ms rounding) */
  CHECK_EQ_INT(tarmac_admission_stats(a).waiting, 0);
  tarmac_admission_leave(a);
  tarmac_admission_free(a);
}

/* Limit 1 with one thread waiting: a third is refused without waiting
 * (its wait of 60 s would otherwise end the test by timeout). */
static void test_waiters_bounded(void) {
  tarmac_admission_t *a = tarmac_admission_new(1, 60000);
  CHECK(tarmac_admission_enter(a));
  entrant_t waiter = {a, false, 0};
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, enter, &waiter), 0);
  CHECK(wait_for_waiters(a, 1));
  entrant_t third = {a, true, 0};
  enter(&third);
  CHECK(!third.admitted);
  CHECK(third.waited_ms < 30000);
  tarmac_admission_leave(a);
  pthread_join(t, NULL);
  CHECK(waiter.admitted);
  tarmac_admission_leave(a);
  tarmac_admission_stats_t st = tarmac_admission_stats(a);
  CHECK_EQ_INT(st.running, 0);
  CHECK_EQ_INT(st.admitted, 2);
  CHECK_EQ_INT(st.refused, 1);
  tarmac_admission_free(a);
}

/* Many threads through a small limit: never more inside than the limit,
 * and with a long wait nobody is refused (a lost wake-up would leave a
 * waiter asleep until its 30 s ran out and refuse it). */
typedef struct {
  tarmac_admission_t *admission;
  atomic_uint *inside;
  atomic_uint *most;
  unsigned refused;
} churner_t;

static void *churn(void *arg) {
  churner_t *c = arg;
  for (int i = 0; i < 20000; i++) {
    if (!tarmac_admission_enter(c->admission)) {
      c->refused++;
      continue;
    }
    unsigned now = atomic_fetch_add(c->inside, 1) + 1;
    unsigned most = atomic_load(c->most);
    while (now > most && !atomic_compare_exchange_weak(c->most, &most, now)) {
    }
    atomic_fetch_sub(c->inside, 1);
    tarmac_admission_leave(c->admission);
  }
  return NULL;
}

static void test_many_threads(void) {
  enum { THREADS = 4 }; /* 2 inside + 2 waiting: nobody refused at once */
  tarmac_admission_t *a = tarmac_admission_new(2, 30000);
  atomic_uint inside = 0, most = 0;
  churner_t c[THREADS];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    c[i] = (churner_t){a, &inside, &most, 0};
    CHECK_EQ_INT(pthread_create(&t[i], NULL, churn, &c[i]), 0);
  }
  unsigned refused = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    refused += c[i].refused;
  }
  CHECK(atomic_load(&most) <= 2);
  tarmac_admission_stats_t st = tarmac_admission_stats(a);
  CHECK_EQ_INT(st.running, 0);
  CHECK_EQ_INT(st.waiting, 0);
  CHECK_EQ_INT(refused, 0);
  CHECK_EQ_INT(st.admitted, THREADS * 20000);
  tarmac_admission_free(a);
}

/* Hand-offs before a wait (util/blocking hooks): counted per process. */
static atomic_uint handed_on;
static void count_begin(void) { atomic_fetch_add(&handed_on, 1); }

/* The first quarter of the waiting places (at least one) hand their loop
 * on before they wait; later waiters keep it (admission.c,
 * hand_on_below). A limit of 4: the first waiter hands on, the second
 * does not. */
static void test_waiters_hand_on(void) {
  tarmac_admission_t *a = tarmac_admission_new(4, 60000);
  for (int i = 0; i < 4; i++) CHECK(tarmac_admission_enter(a));
  unsigned before = atomic_load(&handed_on);
  entrant_t e[2] = {{a, false, 0}, {a, false, 0}};
  pthread_t t[2];
  CHECK_EQ_INT(pthread_create(&t[0], NULL, enter, &e[0]), 0);
  /* a waiter counts itself, then hands on (outside the gate's lock) */
  uint64_t until = tarmac_clock_ms(CLOCK_MONOTONIC) + 10000;
  while (atomic_load(&handed_on) == before &&
         tarmac_clock_ms(CLOCK_MONOTONIC) < until)
    sched_yield();
  CHECK(wait_for_waiters(a, 1));
  CHECK_EQ_INT(atomic_load(&handed_on) - before, 1);
  CHECK_EQ_INT(pthread_create(&t[1], NULL, enter, &e[1]), 0);
  CHECK(wait_for_waiters(a, 2));
  tarmac_admission_leave(a);
  tarmac_admission_leave(a);
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    CHECK(e[i].admitted);
  }
  /* both admitted, so both are past any hand-on: only the first did */
  CHECK_EQ_INT(atomic_load(&handed_on) - before, 1);
  for (int i = 0; i < 4; i++) tarmac_admission_leave(a);
  tarmac_admission_free(a);
}

int main(void) {
  tarmac_blocking_hooks_t hooks = {.begin = count_begin, .end = NULL};
  tarmac_blocking_set_hooks(&hooks);
  test_no_wait();
  test_waiter_admitted();
  test_wait_runs_out();
  test_waiters_bounded();
  test_many_threads();
  test_waiters_hand_on();
  TEST_EXIT();
}
