/* server/admission: how many invocations of one function may run at once.
 * A request over the limit waits (bounded) for a running one to finish and
 * is refused when the wait runs out or when as many requests already wait
 * as may run: every waiting request holds an HTTP thread, so the waiters
 * are bounded too, and a burst of slow or runaway requests can occupy at
 * most twice the limit in threads (see docs/configuration.md,
 * APP_WASM_MAX_CONCURRENCY). Thread-safe; owned by the function that
 * created it. */
#ifndef TARMAC_SERVER_ADMISSION_H
#define TARMAC_SERVER_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tarmac_admission tarmac_admission_t;

/* NULL when out of memory. `limit` >= 1; `wait_ms` 0 refuses at once. */
tarmac_admission_t *tarmac_admission_new(unsigned limit, unsigned wait_ms);
/* All admitted invocations must have left. */
void tarmac_admission_free(tarmac_admission_t *admission);

/* true: admitted, call tarmac_admission_leave when done. false: the limit
 * was reached and stayed reached for the whole wait, or too many requests
 * were waiting already. */
bool tarmac_admission_enter(tarmac_admission_t *admission);
void tarmac_admission_leave(tarmac_admission_t *admission);

typedef struct {
  unsigned limit;
  unsigned running;
  unsigned waiting;
  uint64_t admitted; /* since creation */
  uint64_t refused;
} tarmac_admission_stats_t;
tarmac_admission_stats_t tarmac_admission_stats(tarmac_admission_t *admission);

#endif
