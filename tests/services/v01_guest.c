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

static int respond_v01(const uint8_t *body, size_t len) {
  char *b64 = guest_base64_encode(body, len);
  if (b64 == NULL) return tarmac_fail("out of memory");
  size_t size = strlen(b64) + 128;
  char *out = malloc(size);
  if (out == NULL) {
    free(b64);
    return tarmac_fail("out of memory");
  }
  snprintf(out, size,
           "{\"headers\":{\"X-Contract\":\"v0.1\"},"
           "\"status\":{\"code\":201,\"status\":\"Created\"},"
           "\"payload\":\"%s\"}", b64);
  int rc = tarmac_respond_str(out);
  free(out);
  free(b64);
  return rc;
}

static int handle(const uint8_t *payload, size_t len) {
  (void)len;
  const char *request = (const char *)payload;
  char *params = guest_json_object(request, "params");
  if (params != NULL && strcmp(params, "{}") != 0) {
    int rc = respond_v01((const uint8_t *)params, strlen(params));
    free(params);
    return rc;
  }
  free(params);
  size_t body_len;
  uint8_t *body = guest_request_body(request, &body_len);
  if (body == NULL) return tarmac_fail("request payload is not base64");
  const char *method = tarmac_operation() + 5; /* after "http:" */
  size_t prefix = strlen(method) + 5;
  uint8_t *answer = malloc(prefix + body_len + 1);
  int rc;
  if (answer == NULL) {
    rc = tarmac_fail("out of memory");
  } else {
    snprintf((char *)answer, prefix + 1, "v01:%s:", method);
    memcpy(answer + prefix, body, body_len);
    rc = respond_v01(answer, prefix + body_len);
  }
  free(answer);
  free(body);
  return rc;
}

TARMAC_INIT(register_operations) {
  static const char *const ops[] = {"http:GET", "http:POST", "http:PUT",
                                    "http:DELETE", "http:PATCH"};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    tarmac_register(ops[i], handle);
}
