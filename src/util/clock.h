/* util/clock: readings of a clock in milliseconds and absolute times "ms
 * from now" for timed waits (pthread_cond_timedwait takes the clock its
 * condition variable was created with: CLOCK_REALTIME by default,
 * CLOCK_MONOTONIC when set with pthread_condattr_setclock). */
#ifndef TARMAC_UTIL_CLOCK_H
#define TARMAC_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* The clock's reading in milliseconds. */
uint64_t tarmac_clock_ms(clockid_t clock);
/* CLOCK_MONOTONIC in nanoseconds, for measuring durations (vDSO: no
 * system call). */
uint64_t tarmac_clock_ns(void);
/* The clock's reading `ms` milliseconds from now. */
struct timespec tarmac_clock_after_ms(clockid_t clock, uint64_t ms);

#endif
