/* Periodic tasks (server/scheduler): runs happen, a task that outlasts its
 * period never overlaps with itself and its missed ticks are counted,
 * failures are counted and reach the hook, stop is prompt with a long
 * period and waits for a run in progress, a task held in a run does not
 * hold up another. Waits are on a condition
 * variable with a generous bound, never sleeps. */
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "server/scheduler.h"
#include "test.h"
#include "util/clock.h"

#define BOUND_MS 20000

typedef struct {
  pthread_mutex_t mutex;
  pthread_cond_t changed;
  unsigned runs, inside, overlaps, hook_calls, hook_failures;
  bool entered, gate_open, finished;
  unsigned work_ms; /* how long a run takes */
  bool fail;        /* runs fail */
  bool gated;       /* runs block until gate_open */
} probe_t;

static void probe_init(probe_t *p) {
  *p = (probe_t){.mutex = PTHREAD_MUTEX_INITIALIZER,
                 .changed = PTHREAD_COND_INITIALIZER};
}

static void work(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int probe_task(void *data, char *err, size_t err_size) {
  probe_t *p = data;
  pthread_mutex_lock(&p->mutex);
  if (p->inside++ > 0) p->overlaps++;
  p->entered = true;
  pthread_cond_broadcast(&p->changed);
  while (p->gated && !p->gate_open) pthread_cond_wait(&p->changed, &p->mutex);
  pthread_mutex_unlock(&p->mutex);
  work(p->work_ms); /* the task's own workload, not a wait of the test */
  pthread_mutex_lock(&p->mutex);
  p->inside--;
  p->runs++;
  p->finished = true;
  pthread_cond_broadcast(&p->changed);
  pthread_mutex_unlock(&p->mutex);
  if (p->fail) {
    snprintf(err, err_size, "failed on purpose");
    return -1;
  }
  return 0;
}

static void hook(void *data, size_t idx, double seconds, bool ok) {
  probe_t *p = data;
  (void)idx;
  (void)seconds;
  pthread_mutex_lock(&p->mutex);
  p->hook_calls++;
  if (!ok) p->hook_failures++;
  pthread_cond_broadcast(&p->changed);
  pthread_mutex_unlock(&p->mutex);
}

/* Waits (bounded) until *field reaches target; false at the bound. */
static bool wait_count(probe_t *p, unsigned *field, unsigned target) {
  struct timespec at = tarmac_clock_after_ms(CLOCK_REALTIME, BOUND_MS);
  pthread_mutex_lock(&p->mutex);
  int rc = 0;
  while (*field < target && rc == 0)
    rc = pthread_cond_timedwait(&p->changed, &p->mutex, &at);
  bool reached = *field >= target;
  pthread_mutex_unlock(&p->mutex);
  return reached;
}

static bool wait_flag(probe_t *p, bool *flag) {
  struct timespec at = tarmac_clock_after_ms(CLOCK_REALTIME, BOUND_MS);
  pthread_mutex_lock(&p->mutex);
  int rc = 0;
  while (!*flag && rc == 0)
    rc = pthread_cond_timedwait(&p->changed, &p->mutex, &at);
  bool set = *flag;
  pthread_mutex_unlock(&p->mutex);
  return set;
}

static tarmac_scheduler_t *start_one(probe_t *p, unsigned period_ms) {
  tarmac_task_t task = {"probe", period_ms, probe_task, p};
  tarmac_scheduler_config_t config = {hook, p};
  char err[256] = "";
  tarmac_scheduler_t *s = tarmac_scheduler_start(&task, 1, &config, err,
                                                 sizeof(err));
  CHECK(s != NULL);
  if (s == NULL) fprintf(stderr, "start: %s\n", err);
  return s;
}

static void test_runs_happen(void) {
  probe_t p;
  probe_init(&p);
  tarmac_scheduler_t *s = start_one(&p, 10);
  if (s == NULL) return;
  CHECK(wait_count(&p, &p.hook_calls, 3));
  CHECK(tarmac_scheduler_stop(s, BOUND_MS));
  tarmac_task_stats_t st = tarmac_scheduler_stats(s, 0);
  CHECK(st.runs >= 3);
  CHECK_EQ_INT(st.runs, p.runs);
  CHECK_EQ_INT(st.failures, 0);
  tarmac_scheduler_free(s);
}

static void test_no_overlap(void) {
  probe_t p;
  probe_init(&p);
  p.work_ms = 45; /* four and a half periods */
  tarmac_scheduler_t *s = start_one(&p, 10);
  if (s == NULL) return;
  CHECK(wait_count(&p, &p.hook_calls, 4));
  CHECK(tarmac_scheduler_stop(s, BOUND_MS));
  tarmac_task_stats_t st = tarmac_scheduler_stats(s, 0);
  CHECK_EQ_INT(p.overlaps, 0);
  /* each run outlasted at least 3 ticks after its own */
  CHECK(st.skipped >= 3 * (st.runs - 1));
  CHECK(st.last_seconds >= 0.045);
  tarmac_scheduler_free(s);
}

static void test_failures_counted(void) {
  probe_t p;
  probe_init(&p);
  p.fail = true;
  tarmac_scheduler_t *s = start_one(&p, 5);
  if (s == NULL) return;
  CHECK(wait_count(&p, &p.hook_failures, 3));
  CHECK(tarmac_scheduler_stop(s, BOUND_MS));
  tarmac_task_stats_t st = tarmac_scheduler_stats(s, 0);
  CHECK(st.failures >= 3);
  CHECK_EQ_INT(st.failures, st.runs);
  CHECK_EQ_INT(p.hook_failures, p.hook_calls);
  tarmac_scheduler_free(s);
}

static void test_stop_is_prompt(void) {
  probe_t p;
  probe_init(&p);
  tarmac_scheduler_t *s = start_one(&p, 3600 * 1000);
  if (s == NULL) return;
  uint64_t t0 = tarmac_clock_ms(CLOCK_MONOTONIC);
  CHECK(tarmac_scheduler_stop(s, BOUND_MS));
  CHECK(tarmac_clock_ms(CLOCK_MONOTONIC) - t0 < 2000);
  /* the first run comes one period after start: none yet */
  CHECK_EQ_INT(tarmac_scheduler_stats(s, 0).runs, 0);
  tarmac_scheduler_free(s);
}

static void test_stop_waits_for_run(void) {
  probe_t p;
  probe_init(&p);
  p.work_ms = 100;
  tarmac_scheduler_t *s = start_one(&p, 1);
  if (s == NULL) return;
  CHECK(wait_flag(&p, &p.entered));
  CHECK(tarmac_scheduler_stop(s, BOUND_MS));
  pthread_mutex_lock(&p.mutex);
  CHECK(p.finished);
  CHECK_EQ_INT(p.inside, 0);
  pthread_mutex_unlock(&p.mutex);
  tarmac_scheduler_free(s);
}

static void test_stop_times_out(void) {
  probe_t p;
  probe_init(&p);
  p.gated = true;
  tarmac_scheduler_t *s = start_one(&p, 1);
  if (s == NULL) return;
  CHECK(wait_flag(&p, &p.entered));
  CHECK(!tarmac_scheduler_stop(s, 20)); /* the run is held at the gate */
  pthread_mutex_lock(&p.mutex);
  p.gate_open = true;
  pthread_cond_broadcast(&p.changed);
  pthread_mutex_unlock(&p.mutex);
  tarmac_scheduler_free(s); /* joins the run that outlived the stop */
  CHECK_EQ_INT(p.runs, 1);
}

/* A task held in a run does not hold up another task. */
static void test_tasks_independent(void) {
  probe_t held, free_running;
  probe_init(&held);
  probe_init(&free_running);
  held.gated = true;
  tarmac_task_t tasks[2] = {{"held", 1, probe_task, &held},
                            {"free", 1, probe_task, &free_running}};
  char err[256] = "";
  tarmac_scheduler_t *s = tarmac_scheduler_start(tasks, 2, NULL, err,
                                                 sizeof(err));
  CHECK(s != NULL);
  if (s == NULL) return;
  CHECK(wait_flag(&held, &held.entered));
  CHECK(wait_count(&free_running, &free_running.runs, 5));
  CHECK_EQ_INT(held.runs, 0); /* still held at the gate */
  pthread_mutex_lock(&held.mutex);
  held.gate_open = true;
  pthread_cond_broadcast(&held.changed);
  pthread_mutex_unlock(&held.mutex);
  CHECK(tarmac_scheduler_stop(s, BOUND_MS));
  CHECK(tarmac_scheduler_stats(s, 1).runs >= 5);
  tarmac_scheduler_free(s);
}

static void test_invalid_tasks(void) {
  char err[256] = "";
  probe_t p;
  probe_init(&p);
  tarmac_task_t zero = {"zero", 0, probe_task, &p};
  CHECK(tarmac_scheduler_start(&zero, 1, NULL, err, sizeof(err)) == NULL);
  CHECK(strstr(err, "zero") != NULL && strstr(err, "period") != NULL);
  tarmac_task_t unnamed = {"", 10, probe_task, &p};
  CHECK(tarmac_scheduler_start(&unnamed, 1, NULL, err, sizeof(err)) == NULL);
  CHECK(strstr(err, "no name") != NULL);
  CHECK(tarmac_scheduler_start(&unnamed, TARMAC_SCHEDULER_MAX_TASKS + 1, NULL,
                               err, sizeof(err)) == NULL);
  CHECK(strstr(err, "at most") != NULL);
  tarmac_scheduler_t *empty = tarmac_scheduler_start(NULL, 0, NULL, err,
                                                     sizeof(err));
  CHECK(empty != NULL);
  CHECK(tarmac_scheduler_stop(empty, 0));
  tarmac_scheduler_free(empty);
}

int main(void) {
  test_runs_happen();
  test_no_overlap();
  test_failures_counted();
  test_stop_is_prompt();
  test_stop_waits_for_run();
  test_stop_times_out();
  test_tasks_independent();
  test_invalid_tasks();
  TEST_EXIT();
}
