/* Deadline tests at the runtime level, without generated code: the "guest"
 * functions live in their own section, registered as guest code, and the
 * "host" functions in ordinary .text. Checks: guest code is stopped; a
 * host step in progress at the deadline completes and the trap comes
 * after it; stale signals (disarmed, or not yet due) do nothing; nested
 * protected calls; many threads at once, each reusable after its trap;
 * sleeps end at the deadline; the code registry. Timing bounds are loose
 * (a loaded 2-core machine); the measured overshoot is printed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "runtime/deadline.h"
#include "runtime/runtime.h"
#include "test.h"

#define MS UINT64_C(1000000)
/* generous: the stop itself takes well under a millisecond */
#define SLACK_NS (1000 * MS)

#define GUEST __attribute__((section("tarmac_test_guest"), noinline))
extern const char __start_tarmac_test_guest[], __stop_tarmac_test_guest[];

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- guest code ---------------------------------------------------------- */

static atomic_bool stop_spinning;

GUEST static void guest_spin(void *arg) {
  (void)arg;
  volatile unsigned long counter = 0;
  while (!atomic_load_explicit(&stop_spinning, memory_order_relaxed)) counter++;
}

GUEST static void guest_count(void *arg) {
  volatile unsigned long *counter = arg;
  for (unsigned long i = 0; i < 1000000; i++) (*counter)++;
}

typedef void (*host_fn)(void);
static host_fn volatile host_import;

/* Calls the "import", then spins until stopped. */
GUEST static void guest_calls_host(void *arg) {
  (void)arg;
  host_import();
  volatile unsigned long counter = 0;
  for (;;) counter++;
}

/* ---- host code ----------------------------------------------------------- */

static bool host_finished;
static uint64_t host_finished_at;

/* A host step that runs 50 ms past the deadline: signals land in it and
 * must not stop it. */
static void host_step_past_deadline(void) {
  uint64_t until = tarmac_rt_deadline() + 50 * MS;
  while (now_ns() < until) {
  }
  host_finished = true;
  host_finished_at = now_ns();
}

static int run_with_deadline(tarmac_rt_body_fn body, void *arg,
                             uint64_t timeout_ns, uint64_t *overshoot_ns) {
  uint64_t saved = tarmac_rt_deadline_arm(timeout_ns);
  uint64_t deadline = tarmac_rt_deadline();
  int trap = tarmac_rt_run_protected(body, arg);
  uint64_t end = now_ns();
  tarmac_rt_deadline_restore(saved);
  if (overshoot_ns) *overshoot_ns = end > deadline ? end - deadline : 0;
  return trap;
}

static void test_guest_code_is_stopped(void) {
  atomic_store(&stop_spinning, false);
  uint64_t start = now_ns(), overshoot = 0;
  int trap = run_with_deadline(guest_spin, NULL, 100 * MS, &overshoot);
  CHECK_EQ_INT(trap, TARMAC_TRAP_DEADLINE);
  /* not early beyond the coarse clock's lag (runtime/deadline.h) */
  CHECK(now_ns() - start >= 90 * MS);
  CHECK(overshoot < SLACK_NS);
  CHECK(tarmac_rt_deadline() == 0);
  printf("spinning guest stopped %.3f ms after its deadline\n",
         (double)overshoot / 1e6);
  /* the thread runs guests normally right after */
  volatile unsigned long counter = 0;
  CHECK_EQ_INT(run_with_deadline(guest_count, (void *)&counter, 5000 * MS,
                                 NULL),
               WASM_RT_TRAP_NONE);
  CHECK_EQ_INT(counter, 1000000);
}

static void test_host_step_completes(void) {
  host_import = host_step_past_deadline;
  host_finished = false;
  uint64_t overshoot = 0;
  int trap = run_with_deadline(guest_calls_host, NULL, 50 * MS, &overshoot);
  uint64_t trapped_at = now_ns();
  CHECK_EQ_INT(trap, TARMAC_TRAP_DEADLINE);
  CHECK(host_finished);
  CHECK(trapped_at >= host_finished_at);
  CHECK(overshoot >= 50 * MS && overshoot < 50 * MS + SLACK_NS);
}

/* A host step that finds the deadline passed stops at its safe point. */
static void host_checks_deadline(void) {
  while (!tarmac_rt_deadline_expired()) {
  }
  uint64_t until = now_ns() + 20 * MS; /* let the watchdog's signal land */
  while (now_ns() < until) {
  }
  tarmac_rt_deadline_check();
  host_finished = true; /* never: the check traps */
}

static void test_safe_point_traps(void) {
  host_import = host_checks_deadline;
  host_finished = false;
  CHECK_EQ_INT(run_with_deadline(guest_calls_host, NULL, 30 * MS, NULL),
               TARMAC_TRAP_DEADLINE);
  CHECK(!host_finished);
}

typedef struct {
  pthread_t target;
  int sent;
} pelter_t;

/* Sends the deadline signal 200 times to a thread in guest code, then
 * lets it stop. */
static void *pelt(void *arg) {
  pelter_t *p = arg;
  for (p->sent = 0; p->sent < 200; p->sent++) {
    pthread_kill(p->target, TARMAC_RT_DEADLINE_SIGNAL);
    sched_yield();
  }
  atomic_store(&stop_spinning, true);
  return NULL;
}

static void test_stale_signals_ignored(void) {
  for (int armed = 0; armed < 2; armed++) {
    atomic_store(&stop_spinning, false);
    pelter_t p = {.target = pthread_self()};
    pthread_t thread;
    CHECK_EQ_INT(pthread_create(&thread, NULL, pelt, &p), 0);
    /* not armed, or armed far in the future: every signal is stale */
    int trap = armed ? run_with_deadline(guest_spin, NULL, 60000 * MS, NULL)
                     : tarmac_rt_run_protected(guest_spin, NULL);
    pthread_join(thread, NULL);
    CHECK_EQ_INT(trap, WASM_RT_TRAP_NONE);
    CHECK_EQ_INT(p.sent, 200);
  }
}

static int inner_trap;
static uint64_t inner_deadline, outer_deadline;

/* The host runs a nested protected call with a longer timeout: the
 * outer, earlier deadline applies to it. */
static void host_nested_call(void) {
  outer_deadline = tarmac_rt_deadline();
  atomic_store(&stop_spinning, false);
  uint64_t saved = tarmac_rt_deadline_arm(60000 * MS);
  inner_deadline = tarmac_rt_deadline();
  inner_trap = tarmac_rt_run_protected(guest_spin, NULL);
  tarmac_rt_deadline_restore(saved);
  CHECK(tarmac_rt_deadline() == outer_deadline);
}

static void test_nested_calls(void) {
  host_import = host_nested_call;
  inner_trap = -1;
  int trap = run_with_deadline(guest_calls_host, NULL, 80 * MS, NULL);
  CHECK_EQ_INT(inner_trap, TARMAC_TRAP_DEADLINE);
  CHECK(inner_deadline == outer_deadline);
  CHECK_EQ_INT(trap, TARMAC_TRAP_DEADLINE); /* the outer one too */
}

static void *stopped_then_reused(void *arg) {
  int *failures = arg;
  for (int round = 0; round < 3; round++) {
    uint64_t overshoot = 0;
    if (run_with_deadline(guest_spin, NULL, (50 + 20 * round) * MS,
                          &overshoot) != TARMAC_TRAP_DEADLINE ||
        overshoot > SLACK_NS)
      (*failures)++;
    volatile unsigned long counter = 0;
    if (run_with_deadline(guest_count, (void *)&counter, 5000 * MS, NULL) !=
            WASM_RT_TRAP_NONE ||
        counter != 1000000)
      (*failures)++;
  }
  return NULL;
}

static void test_many_threads(void) {
  atomic_store(&stop_spinning, false);
  enum { THREADS = 16 };
  pthread_t threads[THREADS];
  int failures[THREADS] = {0};
  for (int i = 0; i < THREADS; i++)
    CHECK_EQ_INT(pthread_create(&threads[i], NULL, stopped_then_reused,
                                &failures[i]),
                 0);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    CHECK_EQ_INT(failures[i], 0);
  }
}

static void sleep_forever(void *arg) {
  (void)arg;
  tarmac_rt_sleep_until(UINT64_MAX);
}

static void test_sleep_ends_at_deadline(void) {
  uint64_t overshoot = 0;
  CHECK_EQ_INT(run_with_deadline(sleep_forever, NULL, 80 * MS, &overshoot),
               TARMAC_TRAP_DEADLINE);
  CHECK(overshoot < SLACK_NS);
  CHECK(tarmac_rt_deadline_bound(UINT64_MAX) == UINT64_MAX); /* disarmed */
}

static void test_code_registry(void) {
  int ids[4096];
  int n = 0;
  while (n < 4096 && (ids[n] = tarmac_rt_code_register(1, 2)) >= 0) n++;
  CHECK(n > 0 && n < 4096); /* full: the test's own range holds a place */
  CHECK_EQ_INT(tarmac_rt_code_register(1, 2), -1);
  for (int i = 0; i < n; i++) tarmac_rt_code_unregister(ids[i]);
  int again = tarmac_rt_code_register(1, 2);
  CHECK(again >= 0);
  tarmac_rt_code_unregister(again);
}

int main(void) {
  tarmac_rt_init();
  int id = tarmac_rt_code_register((uintptr_t)__start_tarmac_test_guest,
                                   (uintptr_t)__stop_tarmac_test_guest);
  CHECK(id >= 0);
  test_guest_code_is_stopped();
  test_host_step_completes();
  test_safe_point_traps();
  test_stale_signals_ignored();
  test_nested_calls();
  test_many_threads();
  test_sleep_ends_at_deadline();
  test_code_registry();
  tarmac_rt_code_unregister(id);
  TEST_EXIT();
}
