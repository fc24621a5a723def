/* hello: the seed's example function, in C. Tarmac calls the operation
 * "request:handler" with the JSON request envelope of every HTTP request;
 * hello logs the envelope at debug level through the host
 * (tarmac/logging/Debug, the seed's callback) and answers with the same
 * envelope, so the client gets its own request body back with status 200. */

#include "tarmac.h"

static int hello(const uint8_t *payload, size_t len) {
  if (tarmac_host_call("tarmac", "logging", "Debug", payload, len, NULL,
                       NULL) != TARMAC_OK)
    return tarmac_fail("the host refused the log line");
  return tarmac_respond(payload, len);
}

TARMAC_INIT(register_operations) {
  tarmac_register("request:handler", hello);
}
