/* echo: the smallest Tarmac function. Operation "echo" answers with the
 * payload it was given. Built with the C guest SDK (sdk/c). */
#include "tarmac.h"

static int echo(const uint8_t *payload, size_t len) {
  return tarmac_respond(payload, len);
}

TARMAC_INIT(register_operations) { tarmac_register("echo", echo); }
