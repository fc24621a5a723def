/* v01_guest: Tarmac v0.1's HTTP contract. Operations http:GET, http:POST,
 * http:PUT, http:DELETE, http:PATCH; request {"headers":{..},
 * "payload":"<b64>"} (plus "params" for path parameters); response
 * {"headers":{..},"status":{"code":..,"status":".."},"payload":"<b64>"}.
 * Answers 201 "Created" with header X-Contract: v0.1 and as the body either
 * the request's path parameters ("params", verbatim) when there are any,
 * or "v01:<METHOD>:" + the request body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_util.h"
#include "tarmac.h"

static int respond_v01(const char *b64) {
  size_t size = strlen(b64) + 128;
  char *out = malloc(size);
  if (out == NULL) return tarmac_fail("out of memory");
  snprintf(out, size,
           "{\"headers\":{\"X-Contract\":\"v0.1\"},"
           "\"status\":{\"code\":201,\"status\":\"Created\"},"
           "\"payload\":\"%s\"}", b64);
  int rc = tarmac_respond_str(out);
  free(out);
  return rc;
}

static int handle(const uint8_t *payload, size_t len) {
  (void)len;
  char prefix[64];
  /* the operation is "http:<METHOD>" */
  snprintf(prefix, sizeof prefix, "v01:%s:", tarmac_operation() + 5);
  return guest_serve_envelope(payload, prefix, respond_v01);
}

TARMAC_INIT(register_operations) {
  static const char *const ops[] = {"http:GET", "http:POST", "http:PUT",
                                    "http:DELETE", "http:PATCH"};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    tarmac_register(ops[i], handle);
}
