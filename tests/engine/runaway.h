/* A runaway recursion for the runtime's tests: run_away(&sink) recurses
 * until the native stack ends (the runtime turns the fault into a stack
 * exhaustion trap). Header-only, one copy per test program. */
#ifndef TARMAC_TESTS_ENGINE_RUNAWAY_H
#define TARMAC_TESTS_ENGINE_RUNAWAY_H

#include <stdint.h>

/* volatile: the compiler cannot prove the recursion ends, nor fold it */
static volatile unsigned recursion_limit = UINT32_MAX;

__attribute__((noinline)) static unsigned recurse(unsigned depth) {
  volatile char frame[512];
  frame[0] = (char)depth;
  if (depth == recursion_limit) return 0; /* never: the stack ends first */
  return recurse(depth + 1) + frame[0];
}

static inline void run_away(void *arg) { *(unsigned *)arg = recurse(0); }

#endif
