/* v04_guest: Tarmac v0.4's contract (operation "handler", raw body in,
 * raw body out; a guest error is a 500 with the error text). Answers
 * "v04:" + the request body; a body of "fail" fails with
 * "v04 failed on purpose". */
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static int handle(const uint8_t *payload, size_t len) {
  if (len == 4 && memcmp(payload, "fail", 4) == 0)
    return tarmac_fail("v04 failed on purpose");
  char *answer = malloc(len + 4);
  if (answer == NULL) return tarmac_fail("out of memory");
  memcpy(answer, "v04:", 4);
  memcpy(answer + 4, payload, len);
  int rc = tarmac_respond(answer, len + 4);
  free(answer);
  return rc;
}

TARMAC_INIT(register_operations) { tarmac_register("handler", handle); }
