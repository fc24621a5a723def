#include "server/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "util/clock.h"

typedef struct {
  tarmac_scheduler_t *owner;
  size_t idx;
  char *name;
  unsigned period_ms;
  tarmac_task_fn fn;
  void *data;
  pthread_t thread;
  bool started; /* the thread exists and has not been joined */
  tarmac_task_stats_t stats; /* under owner->mutex */
} task_slot_t;

struct tarmac_scheduler {
  pthread_mutex_t mutex;
  pthread_cond_t wake;  /* CLOCK_MONOTONIC; broadcast at stop */
  pthread_cond_t ended; /* CLOCK_MONOTONIC; a task thread is ending */
  bool stopping;
  size_t live_threads; /* task threads that have not ended their loop */
  tarmac_scheduler_config_t config;
  size_t n;
  task_slot_t *slots;
};

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Runs the task once, outside the lock; records and logs the outcome. */
static void run_once(task_slot_t *slot) {
  tarmac_scheduler_t *s = slot->owner;
  char err[512] = "";
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  bool ok = slot->fn(slot->data, err, sizeof(err)) == 0;
  double seconds = seconds_since(&t0);
  if (!ok) {
    err[sizeof(err) - 1] = '\0';
    tarmac_log_fields(TARMAC_LOG_ERROR, TARMAC_LOG_LITERAL("scheduled task failed"),
                      "task", slot->name, "error",
                      err[0] ? err : "(no message)", NULL);
  }
  if (s->config.after_run != NULL)
    s->config.after_run(s->config.hook_data, slot->idx, seconds, ok);
  pthread_mutex_lock(&s->mutex);
  slot->stats.runs++;
  if (!ok) slot->stats.failures++;
  slot->stats.last_seconds = seconds;
  pthread_mutex_unlock(&s->mutex);
}

/* The first tick after `now`, from the candidate `next`: the ticks from
 * `next` up to `now` were outlasted by a run and count as skipped. Called
 * with the mutex held. */
static uint64_t next_tick(task_slot_t *slot, uint64_t next, uint64_t now) {
  if (now < next) return next;
  uint64_t missed = (now - next) / slot->period_ms + 1;
  slot->stats.skipped += missed;
  return next + missed * slot->period_ms;
}

static void *task_thread(void *arg) {
  task_slot_t *slot = arg;
  tarmac_scheduler_t *s = slot->owner;
  pthread_mutex_lock(&s->mutex);
  uint64_t next = tarmac_clock_ms(CLOCK_MONOTONIC) + slot->period_ms;
  while (!s->stopping) {
    uint64_t now = tarmac_clock_ms(CLOCK_MONOTONIC);
    if (now < next) {
      struct timespec at = tarmac_clock_after_ms(CLOCK_MONOTONIC, next - now);
      pthread_cond_timedwait(&s->wake, &s->mutex, &at);
      continue;
    }
    pthread_mutex_unlock(&s->mutex);
    run_once(slot);
    pthread_mutex_lock(&s->mutex);
    /* the tick just served is `next`: the following one is a period on */
    next = next_tick(slot, next + slot->period_ms,
                     tarmac_clock_ms(CLOCK_MONOTONIC));
  }
  s->live_threads--;
  pthread_cond_broadcast(&s->ended);
  pthread_mutex_unlock(&s->mutex);
  return NULL;
}

static int init_sync(tarmac_scheduler_t *s) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr) != 0) return -1;
  int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&s->wake, &attr);
  if (rc == 0 && pthread_cond_init(&s->ended, &attr) != 0) {
    pthread_cond_destroy(&s->wake);
    rc = -1;
  }
  pthread_condattr_destroy(&attr);
  if (rc != 0) return -1;
  if (pthread_mutex_init(&s->mutex, NULL) != 0) {
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->ended);
    return -1;
  }
  return 0;
}

static int check_tasks(const tarmac_task_t *tasks, size_t n, char *err,
                       size_t err_size) {
  if (n > TARMAC_SCHEDULER_MAX_TASKS) {
    snprintf(err, err_size, "%zu scheduled tasks: at most %d are allowed", n,
             TARMAC_SCHEDULER_MAX_TASKS);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const char *problem = NULL;
    if (tasks[i].name == NULL || tasks[i].name[0] == '\0')
      problem = "has no name";
    else if (tasks[i].period_ms == 0)
      problem = "has a period of 0";
    else if (tasks[i].fn == NULL)
      problem = "has no function";
    if (problem != NULL) {
      snprintf(err, err_size, "scheduled task %zu (%s) %s", i,
               tasks[i].name ? tasks[i].name : "", problem);
      return -1;
    }
  }
  return 0;
}

/* Joins every started thread (blocking) and frees everything. */
static void destroy(tarmac_scheduler_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    if (s->slots[i].started) pthread_join(s->slots[i].thread, NULL);
    free(s->slots[i].name);
  }
  free(s->slots);
  pthread_mutex_destroy(&s->mutex);
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->ended);
  free(s);
}

static void request_stop(tarmac_scheduler_t *s) {
  pthread_mutex_lock(&s->mutex);
  s->stopping = true;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->mutex);
}

/* Copies the table and starts the threads; -1 with err on failure (the
 * caller then stops and destroys). */
static int start_threads(tarmac_scheduler_t *s, const tarmac_task_t *tasks,
                         char *err, size_t err_size) {
  for (size_t i = 0; i < s->n; i++) {
    task_slot_t *slot = &s->slots[i];
    *slot = (task_slot_t){.owner = s, .idx = i, .period_ms = tasks[i].period_ms,
                          .fn = tasks[i].fn, .data = tasks[i].data};
    slot->name = strdup(tasks[i].name);
    if (slot->name == NULL) {
      snprintf(err, err_size, "out of memory starting scheduled tasks");
      return -1;
    }
  }
  for (size_t i = 0; i < s->n; i++) {
    pthread_mutex_lock(&s->mutex);
    s->live_threads++;
    pthread_mutex_unlock(&s->mutex);
    int rc = pthread_create(&s->slots[i].thread, NULL, task_thread,
                            &s->slots[i]);
    if (rc != 0) {
      pthread_mutex_lock(&s->mutex);
      s->live_threads--;
      pthread_mutex_unlock(&s->mutex);
      snprintf(err, err_size, "cannot start the thread of scheduled task %s: %s",
               s->slots[i].name, strerror(rc));
      return -1;
    }
    s->slots[i].started = true;
  }
  return 0;
}

tarmac_scheduler_t *tarmac_scheduler_start(
    const tarmac_task_t *tasks, size_t n,
    const tarmac_scheduler_config_t *config, char *err, size_t err_size) {
  if (check_tasks(tasks, n, err, err_size) != 0) return NULL;
  tarmac_scheduler_t *s = calloc(1, sizeof(*s));
  if (s == NULL || init_sync(s) != 0) {
    free(s);
    snprintf(err, err_size, "out of memory starting scheduled tasks");
    return NULL;
  }
  if (config != NULL) s->config = *config;
  s->n = n;
  s->slots = calloc(n ? n : 1, sizeof(*s->slots));
  if (s->slots == NULL) {
    s->n = 0;
    destroy(s);
    snprintf(err, err_size, "out of memory starting scheduled tasks");
    return NULL;
  }
  if (start_threads(s, tasks, err, err_size) != 0) {
    request_stop(s);
    destroy(s);
    return NULL;
  }
  return s;
}

bool tarmac_scheduler_stop(tarmac_scheduler_t *s, unsigned timeout_ms) {
  struct timespec deadline = tarmac_clock_after_ms(CLOCK_MONOTONIC, timeout_ms);
  pthread_mutex_lock(&s->mutex);
  s->stopping = true;
  pthread_cond_broadcast(&s->wake);
  while (s->live_threads > 0) {
    if (pthread_cond_timedwait(&s->ended, &s->mutex, &deadline) == ETIMEDOUT)
      break;
  }
  bool all_ended = s->live_threads == 0;
  pthread_mutex_unlock(&s->mutex);
  if (!all_ended) return false;
  for (size_t i = 0; i < s->n; i++) {
    if (!s->slots[i].started) continue;
    pthread_join(s->slots[i].thread, NULL);
    s->slots[i].started = false;
  }
  return true;
}

void tarmac_scheduler_free(tarmac_scheduler_t *s) {
  if (s == NULL) return;
  request_stop(s);
  destroy(s);
}

tarmac_task_stats_t tarmac_scheduler_stats(tarmac_scheduler_t *s, size_t idx) {
  tarmac_task_stats_t stats = {0};
  if (idx >= s->n) return stats;
  pthread_mutex_lock(&s->mutex);
  stats = s->slots[idx].stats;
  pthread_mutex_unlock(&s->mutex);
  return stats;
}
