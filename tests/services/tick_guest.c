/* tick_guest: a scheduled task that outlasts its 1 s period. Each run logs
 * "tick start <n>", sleeps 1.3 s (WASI poll_oneoff), logs "tick end <n>"
 * and increments the guest counter metric ticks_total, where n counts the
 * runs of this instance (run it with "reuse_instances": true and
 * "pool_size": 1 so n counts every run). A test reads the server's log: runs
 * never overlap when every "tick start" follows the previous "tick end". */
#include <stdlib.h>
#include <time.h>

#include "tarmac.h"

static unsigned runs;

static int handle(const uint8_t *payload, size_t len) {
  (void)payload;
  (void)len;
  unsigned n = ++runs;
  tarmac_log_info("tick start %u", n);
  struct timespec work = {1, 300000000L};
  nanosleep(&work, NULL);
  tarmac_log_info("tick end %u", n);
  static const char counter[] = "{\"name\":\"ticks_total\"}";
  uint8_t *err = NULL;
  if (tarmac_host_call("tarmac", "metrics", "counter", counter,
                       sizeof(counter) - 1, &err, NULL) != TARMAC_OK) {
    int rc = tarmac_fail("ticks_total: %s", err ? (char *)err : "");
    free(err);
    return rc;
  }
  free(err);
  return TARMAC_OK;
}

TARMAC_INIT(register_operations) { tarmac_register("handler", handle); }
