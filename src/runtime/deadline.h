/* runtime/deadline: stopping guest code when a call runs out of time.
 *
 * Owns: the per-thread deadline slots (one per thread that ever armed a
 * deadline, allocated once, reused after the thread exits, never freed),
 * the process-wide watchdog thread (started lazily, lives as long as the
 * process), the deadline signal's handler, and the registry of guest code
 * ranges (filled by whoever loads guest code; entries are the caller's to
 * remove before the code is unloaded).
 *
 * Design (docs/architecture.md, "Deadlines"):
 *  - Arming stores an absolute CLOCK_MONOTONIC deadline into this thread's
 *    slot: a coarse clock read and a store, no system call.
 *  - The watchdog sleeps until the earliest armed deadline, never longer
 *    than the shortest timeout ever armed (so a deadline armed while it
 *    sleeps cannot be missed), then sends TARMAC_RT_DEADLINE_SIGNAL to every
 *    thread whose deadline passed, again every millisecond until it
 *    disarms (never a second one while the first is undelivered).
 *  - The handler ignores stale signals (disarmed, or the deadline not yet
 *    reached). Otherwise it marks the deadline expired and, only when the
 *    interrupted instruction lies in registered guest code, traps with
 *    TARMAC_TRAP_DEADLINE. In host code it returns: the host finishes its
 *    step and the next safe point (tarmac_rt_deadline_check) traps. */
#ifndef TARMAC_RUNTIME_DEADLINE_H
#define TARMAC_RUNTIME_DEADLINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* The real-time signal the watchdog sends. glibc keeps the first real-time
 * signals for itself (SIGRTMIN already skips them); +3 leaves room for
 * other libraries that take SIGRTMIN..SIGRTMIN+2 by convention. */
#define TARMAC_RT_DEADLINE_SIGNAL (SIGRTMIN + 3)

/* Arms a deadline `timeout_ns` from now on the calling thread (thread set
 * up for guests on its first call; see tarmac_rt_run_protected). Nested
 * arms keep the earlier deadline. Returns what to hand to
 * tarmac_rt_deadline_restore() when the guarded code is done. The
 * deadline is read from the coarse clock (a third of the cost of the
 * precise one) plus one tick (4 ms at HZ=250): it lies within a few
 * milliseconds of timeout_ns from now (earlier only when the coarse clock
 * lags by more than a tick). No system call, except once per thread and
 * when a timeout shorter than any before is armed. */
uint64_t tarmac_rt_deadline_arm(uint64_t timeout_ns);
void tarmac_rt_deadline_restore(uint64_t saved);

/* This thread's armed deadline (CLOCK_MONOTONIC ns), 0 when none. */
uint64_t tarmac_rt_deadline(void);
/* Whether the armed deadline has passed (reads the clock). */
bool tarmac_rt_deadline_expired(void);
/* A safe point for host code: traps with TARMAC_TRAP_DEADLINE when the
 * watchdog found this thread's deadline passed. One thread-local load. */
void tarmac_rt_deadline_check(void);
/* `until_ns` (CLOCK_MONOTONIC), or the armed deadline when earlier: any
 * host wait on a guest's behalf ends there. */
uint64_t tarmac_rt_deadline_bound(uint64_t until_ns);
/* Sleeps until `until_ns` (CLOCK_MONOTONIC) through signals; traps with
 * TARMAC_TRAP_DEADLINE when the deadline ends the sleep first. */
void tarmac_rt_sleep_until(uint64_t until_ns);

/* Guest code: [start, end) is executable code that holds no lock and is
 * never inside malloc, so a deadline may stop it at any instruction.
 * Returns an id for tarmac_rt_code_unregister, or -1 when the registry is
 * full. Lock-free; the handler reads the registry. */
int tarmac_rt_code_register(uintptr_t start, uintptr_t end);
void tarmac_rt_code_unregister(int id);

#endif
