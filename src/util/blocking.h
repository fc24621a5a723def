/* util/blocking: marks the places where a thread running a guest is about
 * to wait on the outside world (a database round trip, an HTTP call, a
 * WASI sleep), so that whoever owns the thread can hand its work on before
 * the wait instead of after a watchdog period (the HTTP layer hands its
 * event loop to a spare thread, as Go's runtime hands off a processor
 * before a system call).
 *
 * Callers bracket the wait: tarmac_blocking_begin(); wait; tarmac_blocking_end().
 * Pairs nest (only the outermost counts); both are cheap no-ops when no
 * hooks are installed (tarmac call, tests).
 *
 * Owns: the process's hooks (installed once at start-up, before any thread
 * that may block runs; never changed after) and a per-thread nesting
 * count. */
#ifndef TARMAC_UTIL_BLOCKING_H
#define TARMAC_UTIL_BLOCKING_H

typedef struct {
  void (*begin)(void); /* the calling thread is about to block */
  void (*end)(void);   /* it is back */
} tarmac_blocking_hooks_t;

/* Installs the hooks (copied). Once, at start-up. */
void tarmac_blocking_set_hooks(const tarmac_blocking_hooks_t *hooks);

void tarmac_blocking_begin(void);
void tarmac_blocking_end(void);

#endif
