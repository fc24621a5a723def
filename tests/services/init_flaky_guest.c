/* init_flaky_guest: an init function that fails its first 2 attempts
 * ("not ready yet (attempt N)") and then succeeds, logging "init ran after
 * N attempts". The attempt count lives in the instance's memory, so it only
 * survives from one attempt to the next when the function reuses its
 * instance: its service-file entry needs "reuse_instances": true and
 * "pool_size": 1 (with fresh instances it would fail forever). */
#include "tarmac.h"

static unsigned attempts;

static int handle(const uint8_t *payload, size_t len) {
  (void)payload;
  (void)len;
  attempts++;
  if (attempts <= 2) return tarmac_fail("not ready yet (attempt %u)", attempts);
  tarmac_log_info("init ran after %u attempts", attempts);
  return tarmac_respond_str("ok");
}

TARMAC_INIT(register_operations) { tarmac_register("handler", handle); }
