/* The init-job runner (server/init_jobs): success at once, success after
 * retries with the backoff waited, exhaustion with the last error, the
 * backoff's doubling and cap, and a stop request ending a wait at once
 * (eventfd written by another thread, and one written before the call). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server/init_jobs.h"
#include "test.h"
#include "util/clock.h"

typedef struct {
  unsigned calls;
  unsigned fail_first; /* attempts that fail before one succeeds */
} attempt_t;

static int attempt(void *data, char *err, size_t err_size) {
  attempt_t *a = data;
  a->calls++;
  if (a->calls <= a->fail_first) {
    snprintf(err, err_size, "attempt %u failed", a->calls);
    return -1;
  }
  return 0;
}

static void test_success_first(void) {
  attempt_t a = {0, 0};
  char err[256] = "x";
  CHECK_EQ_INT(tarmac_init_run("ok", attempt, &a, 3, 1, -1, err, sizeof(err)),
               0);
  CHECK_EQ_INT(a.calls, 1);
  CHECK_EQ_INT(err[0], '\0');
}

static void test_success_after_retries(void) {
  attempt_t a = {0, 2};
  char err[256] = "";
  uint64_t t0 = tarmac_clock_ms(CLOCK_MONOTONIC);
  CHECK_EQ_INT(tarmac_init_run("flaky", attempt, &a, 2, 20, -1, err,
                               sizeof(err)), 0);
  /* waited 20 ms, then 40 ms */
  CHECK(tarmac_clock_ms(CLOCK_MONOTONIC) - t0 >= 60);
  CHECK_EQ_INT(a.calls, 3);
}

static void test_exhausted(void) {
  attempt_t a = {0, 100};
  char err[256] = "";
  CHECK_EQ_INT(tarmac_init_run("broken", attempt, &a, 2, 1, -1, err,
                               sizeof(err)), TARMAC_INIT_FAILED);
  CHECK_EQ_INT(a.calls, 3);
  CHECK(strcmp(err, "init function broken failed after 3 attempts: "
                    "attempt 3 failed") == 0);
  a.calls = 0;
  CHECK_EQ_INT(tarmac_init_run("once", attempt, &a, 0, 1000, -1, err,
                               sizeof(err)), TARMAC_INIT_FAILED);
  CHECK_EQ_INT(a.calls, 1);
  CHECK(strcmp(err, "init function once failed after 1 attempt: "
                    "attempt 1 failed") == 0);
}

static void test_backoff(void) {
  CHECK_EQ_INT(tarmac_init_retry_delay_ms(1000, 1), 1000);
  CHECK_EQ_INT(tarmac_init_retry_delay_ms(1000, 2), 2000);
  CHECK_EQ_INT(tarmac_init_retry_delay_ms(1000, 4), 8000);
  CHECK_EQ_INT(tarmac_init_retry_delay_ms(1000, 7), TARMAC_INIT_MAX_DELAY_MS);
  CHECK_EQ_INT(tarmac_init_retry_delay_ms(1000, 4000000000u),
               TARMAC_INIT_MAX_DELAY_MS);
  CHECK_EQ_INT(tarmac_init_retry_delay_ms(UINT64_MAX / 2, 3),
               TARMAC_INIT_MAX_DELAY_MS);
  CHECK_EQ_INT(tarmac_init_retry_delay_ms(0, 3), 0);
}

typedef struct {
  int fd;
  attempt_t *a;
  pthread_mutex_t mutex;
  pthread_cond_t called;
} stopper_t;

static int attempt_then_signal(void *data, char *err, size_t err_size) {
  stopper_t *s = data;
  pthread_mutex_lock(&s->mutex);
  int rc = attempt(s->a, err, err_size);
  pthread_cond_signal(&s->called);
  pthread_mutex_unlock(&s->mutex);
  return rc;
}

/* Writes the eventfd once the first attempt has failed (the runner is then
 * in, or about to enter, its one-minute wait). */
static void *stop_after_first(void *arg) {
  stopper_t *s = arg;
  pthread_mutex_lock(&s->mutex);
  while (s->a->calls < 1) pthread_cond_wait(&s->called, &s->mutex);
  pthread_mutex_unlock(&s->mutex);
  uint64_t one = 1;
  if (write(s->fd, &one, sizeof(one)) != sizeof(one)) perror("write");
  return NULL;
}

static void test_stop_interrupts_wait(void) {
  attempt_t a = {0, 100};
  stopper_t s = {eventfd(0, EFD_CLOEXEC), &a, PTHREAD_MUTEX_INITIALIZER,
                 PTHREAD_COND_INITIALIZER};
  CHECK(s.fd >= 0);
  pthread_t thread;
  CHECK_EQ_INT(pthread_create(&thread, NULL, stop_after_first, &s), 0);
  char err[256] = "";
  uint64_t t0 = tarmac_clock_ms(CLOCK_MONOTONIC);
  CHECK_EQ_INT(tarmac_init_run("waiting", attempt_then_signal, &s, 5, 60000,
                               s.fd, err, sizeof(err)), TARMAC_INIT_STOPPED);
  CHECK(tarmac_clock_ms(CLOCK_MONOTONIC) - t0 < 10000);
  CHECK_EQ_INT(a.calls, 1);
  CHECK(strcmp(err, "init function waiting stopped after 1 attempt: "
                    "shutting down") == 0);
  pthread_join(thread, NULL);
  /* already stopped: no attempt at all */
  a.calls = 0;
  CHECK_EQ_INT(tarmac_init_run("late", attempt, &a, 5, 1, s.fd, err,
                               sizeof(err)), TARMAC_INIT_STOPPED);
  CHECK_EQ_INT(a.calls, 0);
  close(s.fd);
}

int main(void) {
  test_success_first();
  test_success_after_retries();
  test_exhausted();
  test_backoff();
  test_stop_interrupts_wait();
  TEST_EXIT();
}
