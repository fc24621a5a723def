#include <stddef.h>

#include "util/blocking.h"

/* Set once before the threads that read it start (pthread_create orders
 * the write before their reads); read-only afterwards. */
static tarmac_blocking_hooks_t hooks;
static _Thread_local unsigned depth;

void tarmac_blocking_set_hooks(const tarmac_blocking_hooks_t *h) {
  hooks = *h;
}

void tarmac_blocking_begin(void) {
  if (depth++ == 0 && hooks.begin != NULL) hooks.begin();
}

void tarmac_blocking_end(void) {
  if (depth > 0 && --depth == 0 && hooks.end != NULL) hooks.end();
}
