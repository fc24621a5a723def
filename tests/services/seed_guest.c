/* seed_guest: the seed contract (operation "request:handler", JSON
 * envelopes). Answers 200 with header X-Contract: seed and as the body
 * either the request's path parameters (the envelope's top-level "params"
 * object, verbatim) when there are any, or "seed:" + the request body. */
#include <stdlib.h>
#include <string.h>

#include "guest_util.h"
#include "tarmac.h"

static int respond_envelope(const uint8_t *body, size_t len) {
  char *b64 = guest_base64_encode(body, len);
  if (b64 == NULL) return tarmac_fail("out of memory");
  static const char head[] =
      "{\"status_code\":200,\"headers\":{\"X-Contract\":\"seed\"},"
      "\"payload\":\"";
  size_t b64_len = strlen(b64);
  char *out = malloc(sizeof(head) + b64_len + 2);
  if (out == NULL) {
    free(b64);
    return tarmac_fail("out of memory");
  }
  memcpy(out, head, sizeof(head) - 1);
  memcpy(out + sizeof(head) - 1, b64, b64_len);
  memcpy(out + sizeof(head) - 1 + b64_len, "\"}", 3);
  int rc = tarmac_respond_str(out);
  free(out);
  free(b64);
  return rc;
}

static int handle(const uint8_t *payload, size_t len) {
  (void)len;
  const char *envelope = (const char *)payload;
  char *params = guest_json_object(envelope, "params");
  if (params != NULL && strcmp(params, "{}") != 0) {
    int rc = respond_envelope((const uint8_t *)params, strlen(params));
    free(params);
    return rc;
  }
  free(params);
  size_t body_len;
  uint8_t *body = guest_request_body(envelope, &body_len);
  if (body == NULL) return tarmac_fail("request payload is not base64");
  uint8_t *answer = malloc(body_len + 5);
  int rc;
  if (answer == NULL) {
    rc = tarmac_fail("out of memory");
  } else {
    memcpy(answer, "seed:", 5);
    memcpy(answer + 5, body, body_len);
    rc = respond_envelope(answer, body_len + 5);
  }
  free(answer);
  free(body);
  return rc;
}

TARMAC_INIT(register_operations) {
  tarmac_register("request:handler", handle);
}
