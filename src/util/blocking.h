/* util/blocking: marks the places where a thread running a guest is about
 * to wait on the outside world (a database round trip, an HTTP call, a
 * WASI sleep), so that whoever owns the thread can hand its work on before
 * the wait instead of after a watchdog period (the HTTP layer hands its
 * event loop to a spare thread, as Go's runtime hands off a processor
 * before a system call); and the wait itself, for the waits that can be
 * expressed as "an fd ready, or a time reached", which a guest running on
 * a fiber of an event loop spends suspended instead (the HTTP layer's wait
 * hook, runtime/fiber.h): its thread goes on driving the loop.
 *
 * Callers bracket other waits: tarmac_blocking_begin(); wait;
 * tarmac_blocking_end(). Pairs nest (only the outermost counts); both are
 * cheap no-ops when no hooks are installed (tarmac call, tests).
 *
 * Owns: the process's hooks (installed once at start-up, before any thread
 * that may block runs; never changed after) and a per-thread nesting
 * count (per fiber: tarmac_blocking_swap_depth). */
#ifndef TARMAC_UTIL_BLOCKING_H
#define TARMAC_UTIL_BLOCKING_H

#include <stdint.h>

/* What a wait hook answers when it does not take the wait: the caller
 * waits on its thread, bracketed by begin/end. */
#define TARMAC_BLOCKING_UNHANDLED (-2)

typedef struct {
  void (*begin)(void); /* the calling thread is about to block */
  void (*end)(void);   /* it is back */
  /* Waits as tarmac_blocking_wait does, or answers
   * TARMAC_BLOCKING_UNHANDLED (NULL: never takes a wait). */
  int (*wait)(int fd, short events, uint64_t until_ns);
} tarmac_blocking_hooks_t;

/* Installs the hooks (copied). Once, at start-up. */
void tarmac_blocking_set_hooks(const tarmac_blocking_hooks_t *hooks);

void tarmac_blocking_begin(void);
void tarmac_blocking_end(void);

/* Waits until fd (>= 0) is ready for `events` (poll's POLLIN / POLLOUT),
 * or, with fd -1, just until `until_ns` (CLOCK_MONOTONIC), and never past
 * it: the caller bounds it by the guest's deadline. > 0: the poll events
 * that happened; 0: until_ns was reached; -1: poll failed (errno set). */
int tarmac_blocking_wait(int fd, short events, uint64_t until_ns);

/* Swaps the calling thread's nesting count with *saved (a fiber's:
 * runtime/fiber.c, at every switch). */
void tarmac_blocking_swap_depth(unsigned *saved);

#endif
