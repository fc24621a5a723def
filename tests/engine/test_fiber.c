/* Unit tests of runtime/fiber: switching in and out, resuming on another
 * thread, and the per-fiber state exchanged at every switch: a trap and a
 * native stack overflow on a fiber (running, and after a suspension, with
 * another protected call on the thread meanwhile), a deadline that passes
 * while the fiber runs and while it is suspended, the blocking nesting
 * count, the restore shortcut's identity; the pool's bound; and the guard
 * against resuming a fiber that runs. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/deadline.h"
#include "runtime/fiber.h"
#include "runtime/memory_image.h"
#include "runtime/runtime.h"
#include "runtime/runtime_internal.h"
#include "runaway.h"
#include "test.h"
#include "util/blocking.h"

#define MS UINT64_C(1000000)
#define GUEST __attribute__((section("tarmac_test_guest"), noinline))
extern const char __start_tarmac_test_guest[], __stop_tarmac_test_guest[];

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- switching ------------------------------------------------------------ */

static void count_and_suspend(void *arg) {
  int *steps = arg;
  for (int i = 0; i < 3; i++) {
    (*steps)++;
    CHECK(tarmac_fiber_current() != NULL);
    tarmac_fiber_suspend();
  }
  (*steps)++;
}

static void test_switch(void) {
  tarmac_fiber_t *fiber = tarmac_fiber_new(0);
  CHECK(fiber != NULL);
  for (int job = 0; job < 2; job++) { /* an idle fiber takes a new job */
    int steps = 0;
    tarmac_fiber_start(fiber, count_and_suspend, &steps);
    for (int i = 1; i <= 3; i++) {
      CHECK(!tarmac_fiber_resume(fiber));
      CHECK(tarmac_fiber_suspended(fiber));
      CHECK_EQ_INT(steps, i);
    }
    CHECK(tarmac_fiber_resume(fiber));
    CHECK_EQ_INT(steps, 4);
  }
  CHECK(tarmac_fiber_current() == NULL);
  tarmac_fiber_free(fiber);
}

/* ---- another thread --------------------------------------------------------- */

typedef struct {
  uint64_t id_before, id_after;
  pthread_t thread_before, thread_after;
} migrate_t;

/* pthread_self anew: glibc declares it const, so the compiler may reuse
 * the value from before a suspension (as it may errno's address) */
static __attribute__((noinline, noipa)) pthread_t this_thread(void) {
  return pthread_self();
}

static void note_threads(void *arg) {
  migrate_t *m = arg;
  m->id_before = tarmac_rt_thread_id();
  m->thread_before = this_thread();
  tarmac_fiber_suspend();
  m->id_after = tarmac_rt_thread_id();
  m->thread_after = this_thread();
}

static void *resume_here(void *fiber) {
  return tarmac_fiber_resume(fiber) ? fiber : NULL;
}

/* A suspended fiber resumed on another thread runs there, with a new
 * identity for the restore shortcut (its faults were counted elsewhere). */
static void test_resume_elsewhere(void) {
  tarmac_fiber_t *fiber = tarmac_fiber_new(0);
  migrate_t m = {0};
  tarmac_fiber_start(fiber, note_threads, &m);
  CHECK(!tarmac_fiber_resume(fiber));
  pthread_t t;
  void *finished = NULL;
  CHECK_EQ_INT(pthread_create(&t, NULL, resume_here, fiber), 0);
  pthread_join(t, &finished);
  CHECK(finished == fiber);
  CHECK(pthread_equal(m.thread_before, pthread_self()));
  CHECK(pthread_equal(m.thread_after, t));
  CHECK(m.id_before != m.id_after);
  tarmac_fiber_free(fiber);
}

/* ---- traps ------------------------------------------------------------------ */

static void trap_now(void *arg) {
  (void)arg;
  wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}

static void suspend_then_trap(void *arg) {
  (void)arg;
  tarmac_fiber_suspend();
  wasm_rt_trap(WASM_RT_TRAP_DIV_BY_ZERO);
}

typedef struct {
  tarmac_rt_body_fn body;
  int trap;
} protected_job_t;

static void run_protected_job(void *arg) {
  protected_job_t *job = arg;
  unsigned sink = 0;
  job->trap = tarmac_rt_run_protected(job->body, &sink);
}

static void test_traps(void) {
  tarmac_fiber_t *fiber = tarmac_fiber_new(1u << 20);
  protected_job_t job = {trap_now, -1};
  tarmac_fiber_start(fiber, run_protected_job, &job);
  CHECK(tarmac_fiber_resume(fiber));
  CHECK_EQ_INT(job.trap, WASM_RT_TRAP_UNREACHABLE);
  /* the fiber's stack overflows into its guard page: its own trap */
  job = (protected_job_t){run_away, -1};
  tarmac_fiber_start(fiber, run_protected_job, &job);
  CHECK(tarmac_fiber_resume(fiber));
  CHECK_EQ_INT(job.trap, WASM_RT_TRAP_EXHAUSTION);
  /* suspended inside its protected call while the thread runs (and traps
   * in) one of its own: each trap lands in its own frame */
  job = (protected_job_t){suspend_then_trap, -1};
  tarmac_fiber_start(fiber, run_protected_job, &job);
  CHECK(!tarmac_fiber_resume(fiber));
  CHECK_EQ_INT(tarmac_rt_run_protected(trap_now, NULL),
               WASM_RT_TRAP_UNREACHABLE);
  unsigned sink = 0; /* and the thread's own stack is still its own */
  CHECK_EQ_INT(tarmac_rt_run_protected(run_away, &sink),
               WASM_RT_TRAP_EXHAUSTION);
  CHECK(tarmac_fiber_resume(fiber));
  CHECK_EQ_INT(job.trap, WASM_RT_TRAP_DIV_BY_ZERO);
  CHECK(!tarmac_rt_in_protected_call());
  tarmac_fiber_free(fiber);
}

/* ---- deadlines -------------------------------------------------------------- */

static atomic_bool stop_spinning;

GUEST static void guest_spin(void *arg) {
  (void)arg;
  volatile unsigned long counter = 0;
  while (!atomic_load_explicit(&stop_spinning, memory_order_relaxed)) counter++;
}

typedef struct {
  bool suspend; /* before the spin / sleep */
  bool sleep;   /* sleep 10 s instead of spinning */
  int trap;
  uint64_t took_ns;
} deadline_job_t;

static void sleep_long(void *arg) {
  (void)arg;
  tarmac_rt_sleep_until(now_ns() + 10000 * MS);
}

static void run_with_deadline(void *arg) {
  deadline_job_t *job = arg;
  uint64_t saved = tarmac_rt_deadline_arm(50 * MS);
  if (job->suspend) tarmac_fiber_suspend();
  uint64_t t0 = now_ns();
  job->trap = tarmac_rt_run_protected(job->sleep ? sleep_long : guest_spin,
                                      NULL);
  job->took_ns = now_ns() - t0;
  tarmac_rt_deadline_restore(saved);
}

static void test_deadline_running(void) {
  tarmac_fiber_t *fiber = tarmac_fiber_new(0);
  deadline_job_t job = {0};
  tarmac_fiber_start(fiber, run_with_deadline, &job);
  CHECK(tarmac_fiber_resume(fiber));
  CHECK_EQ_INT(job.trap, TARMAC_TRAP_DEADLINE);
  CHECK(tarmac_rt_deadline() == 0); /* the thread's own: none */
  tarmac_fiber_free(fiber);
}

/* Suspended past its deadline: the thread meanwhile has its own deadline
 * (none, then a long one) and is not stopped by the fiber's; back on the
 * fiber, its deadline is there and passed. */
static void test_deadline_suspended(void) {
  tarmac_fiber_t *fiber = tarmac_fiber_new(0);
  deadline_job_t job = {.suspend = true, .sleep = true};
  tarmac_fiber_start(fiber, run_with_deadline, &job);
  CHECK(!tarmac_fiber_resume(fiber));
  CHECK(tarmac_rt_deadline() == 0);
  uint64_t mine = tarmac_rt_deadline_arm(10000 * MS);
  /* a time condition, not a readiness wait: the fiber's deadline must
   * have passed while it was suspended */
  struct timespec pause = {0, 100 * 1000 * 1000};
  nanosleep(&pause, NULL);
  CHECK(!tarmac_rt_deadline_expired());
  uint64_t thread_deadline = tarmac_rt_deadline();
  CHECK(tarmac_fiber_resume(fiber));
  CHECK_EQ_INT(job.trap, TARMAC_TRAP_DEADLINE);
  CHECK(job.took_ns < 5000 * MS); /* not the 10 s sleep */
  CHECK(tarmac_rt_deadline() == thread_deadline);
  tarmac_rt_deadline_restore(mine);
  CHECK(tarmac_rt_deadline() == 0);
  tarmac_fiber_free(fiber);
}

/* ---- the blocking nesting count -------------------------------------------- */

static atomic_int begins, ends;
static void count_begin(void) { atomic_fetch_add(&begins, 1); }
static void count_end(void) { atomic_fetch_add(&ends, 1); }

static void begin_and_suspend(void *arg) {
  (void)arg;
  tarmac_blocking_begin();
  tarmac_fiber_suspend();
  tarmac_blocking_end();
}

static void test_blocking_depth(void) {
  tarmac_blocking_hooks_t hooks = {.begin = count_begin, .end = count_end};
  tarmac_blocking_set_hooks(&hooks);
  tarmac_fiber_t *fiber = tarmac_fiber_new(0);
  tarmac_fiber_start(fiber, begin_and_suspend, NULL);
  CHECK(!tarmac_fiber_resume(fiber));
  CHECK_EQ_INT(atomic_load(&begins), 1);
  /* the thread's own count is not the fiber's: its pair is outermost */
  tarmac_blocking_begin();
  tarmac_blocking_end();
  CHECK_EQ_INT(atomic_load(&begins), 2);
  CHECK_EQ_INT(atomic_load(&ends), 1);
  CHECK(tarmac_fiber_resume(fiber));
  CHECK_EQ_INT(atomic_load(&ends), 2);
  tarmac_fiber_free(fiber);
  /* no wait hook: tarmac_blocking_wait waits here, bracketed */
  uint64_t t0 = now_ns();
  CHECK_EQ_INT(tarmac_blocking_wait(-1, 0, t0 + 5 * MS), 0);
  CHECK(now_ns() >= t0 + 5 * MS);
  CHECK_EQ_INT(atomic_load(&begins), 3);
}

/* ---- pool and guard ------------------------------------------------------- */

static void test_pool(void) {
  tarmac_fiber_pool_t pool;
  tarmac_fiber_pool_init(&pool, 2, 64 * 1024);
  tarmac_fiber_t *a = tarmac_fiber_pool_take(&pool);
  tarmac_fiber_t *b = tarmac_fiber_pool_take(&pool);
  CHECK(a != NULL && b != NULL && a != b);
  CHECK(tarmac_fiber_pool_take(&pool) == NULL); /* bounded */
  tarmac_fiber_pool_give(&pool, a);
  CHECK(tarmac_fiber_pool_take(&pool) == a); /* reused */
  tarmac_fiber_pool_give(&pool, a);
  tarmac_fiber_pool_give(&pool, b);
  tarmac_fiber_pool_dispose(&pool);
  CHECK_EQ_INT(pool.live, 0);
}

static void resume_self(void *arg) { tarmac_fiber_resume(arg); }

/* A fiber that runs cannot be resumed again: the process stops rather
 * than run one stack on two threads. */
static void test_resume_running_aborts(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    tarmac_fiber_t *fiber = tarmac_fiber_new(0);
    tarmac_fiber_start(fiber, resume_self, fiber);
    tarmac_fiber_resume(fiber);
    _exit(0);
  }
  int status = 0;
  CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

int main(void) {
  tarmac_rt_init();
  int id = tarmac_rt_code_register((uintptr_t)__start_tarmac_test_guest,
                                   (uintptr_t)__stop_tarmac_test_guest);
  CHECK(id >= 0);
  test_switch();
  test_resume_elsewhere();
  test_traps();
  test_deadline_running();
  test_deadline_suspended();
  test_blocking_depth();
  test_pool();
  test_resume_running_aborts();
  tarmac_rt_code_unregister(id);
  TEST_EXIT();
}
