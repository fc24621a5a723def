/* upper: the inner function of the two-function example service. Not on
 * any HTTP route: other functions call it with
 * host_call("tarmac", "function", "upper", payload) (the SDK's
 * tarmac_call_function) and get the payload back in upper case. */
#include <stdlib.h>

#include "tarmac.h"

static int upper(const uint8_t *payload, size_t len) {
  uint8_t *out = malloc(len ? len : 1);
  if (out == NULL) return tarmac_fail("out of memory");
  for (size_t i = 0; i < len; i++)
    out[i] = payload[i] >= 'a' && payload[i] <= 'z' ? payload[i] - 32
                                                    : payload[i];
  int rc = tarmac_respond(out, len);
  free(out);
  return rc;
}

TARMAC_INIT(register_operations) { tarmac_register("handler", upper); }
