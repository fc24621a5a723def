/* spin_guest: a function that never returns (operation "handler"), for a
 * scheduled task that must be stopped by its deadline. */
#include "tarmac.h"

static int spin(const uint8_t *payload, size_t len) {
  (void)payload;
  volatile size_t n = len;
  for (;;) n++;
  return 0;
}

TARMAC_INIT(register_operations) { tarmac_register("handler", spin); }
