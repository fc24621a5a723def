/* greet: the HTTP side of the two-function example service (tarmac.json
 * next to this file). POST /greet with a name answers "Hello, NAME!",
 * having asked the `upper` function to shout the name; it counts its
 * greetings in a guest metric, greetings_total, on /metrics. Speaks
 * Tarmac's current contract: operation `handler`, raw body in and out. */
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static int greet(const uint8_t *payload, size_t len) {
  if (len == 0) return tarmac_fail("say who to greet: POST a name");
  uint8_t *name = NULL;
  size_t name_len = 0;
  if (tarmac_call_function("upper", payload, len, &name, &name_len) != 0) {
    int rc = tarmac_fail("upper failed: %s", name ? (char *)name : "?");
    free(name);
    return rc;
  }
  tarmac_metric_counter("greetings_total");
  static const char hello[] = "Hello, ";
  size_t total = sizeof(hello) - 1 + name_len + 1;
  char *text = malloc(total);
  if (text == NULL) {
    free(name);
    return tarmac_fail("out of memory");
  }
  memcpy(text, hello, sizeof(hello) - 1);
  memcpy(text + sizeof(hello) - 1, name, name_len);
  text[total - 1] = '!';
  free(name);
  int rc = tarmac_respond(text, total);
  free(text);
  return rc;
}

TARMAC_INIT(register_operations) { tarmac_register("handler", greet); }
