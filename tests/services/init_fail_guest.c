/* init_fail_guest: an init function that always fails with "init failed
 * on purpose". */
#include "tarmac.h"

static int handle(const uint8_t *payload, size_t len) {
  (void)payload;
  (void)len;
  return tarmac_fail("init failed on purpose");
}

TARMAC_INIT(register_operations) { tarmac_register("handler", handle); }
