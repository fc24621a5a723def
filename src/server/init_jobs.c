#include "server/init_jobs.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "util/clock.h"

uint64_t tarmac_init_retry_delay_ms(uint64_t delay_ms, unsigned k) {
  if (k == 0 || delay_ms == 0) return 0;
  uint64_t delay = delay_ms;
  /* doubling stops at the cap, so this never overflows */
  for (unsigned i = 1; i < k && delay < TARMAC_INIT_MAX_DELAY_MS; i++)
    delay *= 2;
  return delay < TARMAC_INIT_MAX_DELAY_MS ? delay : TARMAC_INIT_MAX_DELAY_MS;
}

/* Waits ms milliseconds; true when stop_fd became readable first. */
static bool wait_or_stop(int stop_fd, uint64_t ms) {
  uint64_t until = tarmac_clock_ms(CLOCK_MONOTONIC) + ms;
  for (;;) {
    uint64_t now = tarmac_clock_ms(CLOCK_MONOTONIC);
    if (now >= until) return false;
    struct pollfd pfd = {.fd = stop_fd, .events = POLLIN};
    int rc = poll(&pfd, stop_fd >= 0 ? 1 : 0, (int)(until - now));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) {
      /* a broken stop_fd must not turn the backoff into a busy loop or
       * skip it: treat it as a stop request, which the caller reports */
      return true;
    }
  }
}

static bool stop_requested(int stop_fd) {
  if (stop_fd < 0) return false;
  struct pollfd pfd = {.fd = stop_fd, .events = POLLIN};
  return poll(&pfd, 1, 0) != 0;
}

static void log_failure(const char *name, unsigned attempt, const char *error,
                        uint64_t next_delay_ms, bool last) {
  char attempt_text[16], delay_text[32];
  snprintf(attempt_text, sizeof(attempt_text), "%u", attempt);
  snprintf(delay_text, sizeof(delay_text), "%llums",
           (unsigned long long)next_delay_ms);
  tarmac_log_fields(TARMAC_LOG_WARN, TARMAC_LOG_LITERAL("init function failed"),
                    "function", name, "attempt", attempt_text, "error", error,
                    "retry_in", last ? "no more retries" : delay_text, NULL);
}

int tarmac_init_run(const char *name, tarmac_attempt_fn fn, void *data,
                    unsigned retries, uint64_t delay_ms, int stop_fd,
                    char *err, size_t err_size) {
  char last[512] = "";
  unsigned attempts = 0;
  for (unsigned k = 0;; k++) {
    if (stop_requested(stop_fd)) break;
    attempts++;
    last[0] = '\0';
    if (fn(data, last, sizeof(last)) == 0) {
      if (err_size > 0) err[0] = '\0';
      return 0;
    }
    last[sizeof(last) - 1] = '\0';
    if (last[0] == '\0') snprintf(last, sizeof(last), "(no message)");
    bool final = k >= retries;
    uint64_t delay = final ? 0 : tarmac_init_retry_delay_ms(delay_ms, k + 1);
    log_failure(name, attempts, last, delay, final);
    if (final) {
      snprintf(err, err_size, "init function %s failed after %u attempt%s: %s",
               name, attempts, attempts == 1 ? "" : "s", last);
      return TARMAC_INIT_FAILED;
    }
    if (wait_or_stop(stop_fd, delay)) break;
  }
  snprintf(err, err_size, "init function %s stopped after %u attempt%s: "
           "shutting down", name, attempts, attempts == 1 ? "" : "s");
  return TARMAC_INIT_STOPPED;
}
