/* seed_guest: the seed contract (operation "request:handler", JSON
 * envelopes). Answers 200 with header X-Contract: seed and as the body
 * either the request's path parameters (the envelope's top-level "params"
 * object, verbatim) when there are any, or "seed:" + the request body. */
#include <stdlib.h>
#include <string.h>

#include "guest_util.h"
#include "tarmac.h"

static int respond_envelope(const char *b64) {
  static const char head[] =
      "{\"status_code\":200,\"headers\":{\"X-Contract\":\"seed\"},"
      "\"payload\":\"";
  size_t b64_len = strlen(b64);
  char *out = malloc(sizeof(head) + b64_len + 2);
  if (out == NULL) return tarmac_fail("out of memory");
  memcpy(out, head, sizeof(head) - 1);
  memcpy(out + sizeof(head) - 1, b64, b64_len);
  memcpy(out + sizeof(head) - 1 + b64_len, "\"}", 3);
  int rc = tarmac_respond_str(out);
  free(out);
  return rc;
}

static int handle(const uint8_t *payload, size_t len) {
  (void)len;
  return guest_serve_envelope(payload, "seed:", respond_envelope);
}

TARMAC_INIT(register_operations) {
  tarmac_register("request:handler", handle);
}
