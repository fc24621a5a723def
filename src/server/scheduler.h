/* server/scheduler: periodic tasks (a service file's scheduled_task
 * routes). Each task gets its own thread (never an event loop's), so a slow
 * task delays nobody but itself; the number of tasks is bounded by
 * TARMAC_SCHEDULER_MAX_TASKS.
 *
 * Timing: task i runs at start + k * period (k = 1, 2, ...): the first run
 * comes one period after start, as in upstream Tarmac, whose scheduler
 * (madflojo/tasks) fires a Go time.Ticker of one interval. Upstream starts
 * every tick's run in a new goroutine, so its runs can overlap; here a task
 * never overlaps with itself: when a run outlasts one or more ticks, those
 * ticks are skipped (counted in `skipped`) and the next run waits for the
 * next tick still ahead, so a slow task runs at most at its configured
 * rate and never queues up a backlog.
 *
 * Failures (fn returns non-zero) are counted and logged at error level with
 * the task's name and error text.
 *
 * Ownership: the scheduler copies the task table and names; each task's
 * `data` stays the caller's and must outlive tarmac_scheduler_free. The
 * scheduler is thread-safe: stats may be read from any thread. */
#ifndef TARMAC_SERVER_SCHEDULER_H
#define TARMAC_SERVER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A thread per task: a service file with more scheduled tasks than this is
 * refused at start-up instead of starting an unbounded number of threads. */
#define TARMAC_SCHEDULER_MAX_TASKS 256

/* One run of a task. Returns 0 on success, -1 on failure with a
 * NUL-terminated message in err (err_size >= 1). */
typedef int (*tarmac_task_fn)(void *data, char *err, size_t err_size);

typedef struct {
  const char *name;   /* for logs and stats (copied); non-empty */
  unsigned period_ms; /* >= 1 */
  tarmac_task_fn fn;
  void *data; /* passed to fn (and to the after_run hook) */
} tarmac_task_t;

typedef struct {
  /* Optional: called on the task's thread after every run, e.g. to record
   * duration metrics. `idx` is the task's index in the table given to
   * tarmac_scheduler_start. */
  void (*after_run)(void *hook_data, size_t idx, double seconds, bool ok);
  void *hook_data;
} tarmac_scheduler_config_t;

typedef struct {
  uint64_t runs;     /* runs that ended (successful or not) */
  uint64_t failures; /* runs whose fn returned non-zero */
  uint64_t skipped;  /* ticks missed because a run outlasted them */
  double last_seconds; /* duration of the last run that ended (0 before) */
} tarmac_task_stats_t;

typedef struct tarmac_scheduler tarmac_scheduler_t;

/* Starts a thread per task. `config` may be NULL. Returns NULL with a
 * message in err when a task is invalid (empty name, period 0, no fn),
 * there are more than TARMAC_SCHEDULER_MAX_TASKS, or a thread or memory
 * could not be had (threads already started are stopped). n may be 0. */
tarmac_scheduler_t *tarmac_scheduler_start(
    const tarmac_task_t *tasks, size_t n,
    const tarmac_scheduler_config_t *config, char *err, size_t err_size);

/* Asks every task to stop: waiting threads wake at once; a run in progress
 * is not interrupted (its own deadline bounds it). Waits up to timeout_ms
 * for running tasks to end. Returns true when every thread has ended (and
 * has been joined), false when a run was still going at the timeout.
 * Call once. */
bool tarmac_scheduler_stop(tarmac_scheduler_t *scheduler,
                           unsigned timeout_ms);

/* Stops (if tarmac_scheduler_stop was not called) and frees. After a stop
 * that returned false this blocks until the runs still going end. NULL is
 * allowed. */
void tarmac_scheduler_free(tarmac_scheduler_t *scheduler);

/* Stats of task idx (< n given at start). */
tarmac_task_stats_t tarmac_scheduler_stats(tarmac_scheduler_t *scheduler,
                                           size_t idx);

#endif
