/* sleep_guest: the benchmark of waiting without idling a core
 * (run_bench.py --sleep). Every request sleeps 1 ms in WASI poll_oneoff
 * (wasi-libc's nanosleep) and answers with its request envelope, like
 * hello, so a server that holds its event loop across the sleep serves at
 * most 1,000 requests per second per loop. */
#include <time.h>

#include "tarmac.h"

static int sleep_then_echo(const uint8_t *payload, size_t len) {
  struct timespec one_ms = {0, 1000000};
  if (nanosleep(&one_ms, NULL) != 0) return tarmac_fail("nanosleep failed");
  return tarmac_respond(payload, len);
}

TARMAC_INIT(register_operations) {
  tarmac_register("request:handler", sleep_then_echo);
}
