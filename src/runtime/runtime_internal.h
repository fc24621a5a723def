/* runtime/runtime_internal: what runtime.c lends deadline.c (nothing for
 * code outside src/runtime). */
#ifndef TARMAC_RUNTIME_RUNTIME_INTERNAL_H
#define TARMAC_RUNTIME_RUNTIME_INTERNAL_H

#include <stdbool.h>

/* Sets the calling thread up for guests (alternate signal stack, stack
 * bounds) unless done: a signal may be delivered to it from now on. */
void tarmac_rt_thread_setup(void);
/* Whether the calling thread is inside tarmac_rt_run_protected.
 * Async-signal-safe. */
bool tarmac_rt_in_protected_call(void);

#endif
