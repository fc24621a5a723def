/* timer_guest: the guest of tests/http/e2e_timer.py. Every request's
 * HTTP_PATH is /sleep/<us>: it logs "started /sleep/<us>" at info level,
 * sleeps <us> microseconds in WASI poll_oneoff (wasi-libc's nanosleep) and
 * answers 200 with headers X-Slept-Ns: the nanoseconds it measured around
 * the sleep on the monotonic clock, the clock the host sleeps by (so a
 * sleep that returned early shows below <us> * 1000, however fast the rest
 * of the request was), and X-Slept-From / X-Woke-At: that clock's readings
 * before and after the sleep (to order the wake-ups of sleepers that did
 * not start at the same time). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tarmac.h"

/* The decimal number after "/sleep/" in the envelope's HTTP_PATH, at most
 * an hour of microseconds; -1 when the path is not /sleep/<digits>. */
static long long requested_us(const char *envelope) {
  static const char key[] = "\"HTTP_PATH\":\"/sleep/";
  const char *at = strstr(envelope, key);
  if (at == NULL) return -1;
  at += sizeof(key) - 1;
  if (*at < '0' || *at > '9') return -1;
  long long us = 0;
  for (; *at >= '0' && *at <= '9'; at++) {
    us = us * 10 + (*at - '0');
    if (us > 3600LL * 1000000) return -1;
  }
  return *at == '"' ? us : -1;
}

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int sleep_and_measure(const uint8_t *payload, size_t len) {
  (void)len;
  long long us = requested_us((const char *)payload);
  if (us < 0) return tarmac_fail("path is not /sleep/<microseconds>");
  tarmac_log_info("started /sleep/%lld", us);
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  uint64_t t0 = monotonic_ns();
  if (nanosleep(&ts, NULL) != 0) return tarmac_fail("nanosleep failed");
  uint64_t woke = monotonic_ns();
  char out[256];
  snprintf(out, sizeof(out),
           "{\"status_code\":200,\"headers\":{\"X-Slept-Ns\":\"%llu\","
           "\"X-Slept-From\":\"%llu\",\"X-Woke-At\":\"%llu\"}}",
           (unsigned long long)(woke - t0), (unsigned long long)t0,
           (unsigned long long)woke);
  return tarmac_respond_str(out);
}

TARMAC_INIT(register_operations) {
  tarmac_register("request:handler", sleep_and_measure);
}
