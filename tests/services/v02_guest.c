/* v02_guest: Tarmac v0.2 and v0.3's HTTP contract: the operation is the
 * method name (GET, POST, PUT, DELETE, PATCH), the raw request body in, the
 * raw response body out. Answers "v02:<METHOD>:" + the request body; a body
 * of "fail" fails with "v02 failed on purpose". */
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static int handle(const uint8_t *payload, size_t len) {
  if (len == 4 && memcmp(payload, "fail", 4) == 0)
    return tarmac_fail("v02 failed on purpose");
  const char *method = tarmac_operation();
  size_t prefix = strlen(method) + 5;
  char *answer = malloc(prefix + len + 1);
  if (answer == NULL) return tarmac_fail("out of memory");
  memcpy(answer, "v02:", 4);
  memcpy(answer + 4, method, prefix - 5);
  answer[prefix - 1] = ':';
  memcpy(answer + prefix, payload, len);
  int rc = tarmac_respond(answer, prefix + len);
  free(answer);
  return rc;
}

TARMAC_INIT(register_operations) {
  static const char *const ops[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    tarmac_register(ops[i], handle);
}
