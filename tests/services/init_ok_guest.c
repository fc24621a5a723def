/* init_ok_guest: an init function that succeeds: logs "init ran" at info
 * level (the test looks for the line) and answers "ok". */
#include "tarmac.h"

static int handle(const uint8_t *payload, size_t len) {
  (void)payload;
  (void)len;
  tarmac_log_info("init ran");
  return tarmac_respond_str("ok");
}

TARMAC_INIT(register_operations) { tarmac_register("handler", handle); }
