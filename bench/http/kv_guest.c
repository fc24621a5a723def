/* kv_guest: the key-value benchmark (run_bench.py --kvstore). Every request
 * does one tarmac/kvstore/get of the key "bench" in the JSON form of the
 * contract ({"key":"bench"}, the older SDKs' encoding) and answers with its
 * request envelope. The first request of a fresh store finds no key (404):
 * it sets it, so every later request is exactly one get. */
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static const char get_request[] = "{\"key\":\"bench\"}";
/* "hello" in base64 */
static const char set_request[] = "{\"key\":\"bench\",\"data\":\"aGVsbG8=\"}";

static int kv(const char *operation, const char *payload) {
  uint8_t *out = NULL;
  size_t out_len = 0;
  int rc = tarmac_host_call("tarmac", "kvstore", operation, payload,
                            strlen(payload), &out, &out_len);
  free(out);
  return rc;
}

static int get_then_echo(const uint8_t *payload, size_t len) {
  if (kv("get", get_request) != TARMAC_OK &&
      kv("set", set_request) != TARMAC_OK)
    return tarmac_fail("kvstore get and set both failed");
  return tarmac_respond(payload, len);
}

TARMAC_INIT(register_operations) {
  tarmac_register("request:handler", get_then_echo);
}
