/* runtime/runtime_internal: what runtime.c shares with the runtime's other
 * files and nobody else: the process budget's accounting and the OS page
 * size (memory_image.c), thread set-up and the protected-call test
 * (deadline.c). */
#ifndef TARMAC_RUNTIME_RUNTIME_INTERNAL_H
#define TARMAC_RUNTIME_RUNTIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wasm-rt.h>

/* Counts `bytes` against the process budget; false (nothing counted) when
 * that would exceed it. */
bool tarmac_rt_budget_charge(uint64_t bytes);
void tarmac_rt_budget_refund(uint64_t bytes);
/* Traps with TARMAC_TRAP_MEMORY_BUDGET naming the budget. */
WASM_RT_NO_RETURN void tarmac_rt_trap_over_budget(uint64_t bytes);
size_t tarmac_rt_os_page_size(void);

/* Sets the calling thread up for guests (alternate signal stack, stack
 * bounds) unless done: a signal may be delivered to it from now on. */
void tarmac_rt_thread_setup(void);
/* Whether the calling thread is inside tarmac_rt_run_protected.
 * Async-signal-safe. */
bool tarmac_rt_in_protected_call(void);

/* On a function that returns a thread-local address: the compiler may not
 * prove it const (and reuse its result across a call that suspended a
 * fiber resumed on another thread). clang has no noipa; optnone keeps its
 * attribute inference off the function. */
#if defined(__clang__)
#define TARMAC_RT_NOT_CONST __attribute__((noinline, optnone))
#else
#define TARMAC_RT_NOT_CONST __attribute__((noinline, noipa))
#endif

/* fiber.c: the part of a thread's state that belongs to the code running
 * on it, kept by each fiber and exchanged with the thread's at every
 * switch. The last trap's kind, detail and exit code are not in it: they
 * are read right after the protected call that trapped, before any switch.
 * The alternate signal stack stays per thread. */
typedef struct {
  void *jump_target, *unwind_target, *recorder;
  uintptr_t stack_low, stack_high, host_stack_limit;
  uint64_t memory_limit;
} tarmac_rt_fiber_state_t;
/* A fiber's state before it first runs: no protected call, its stack. */
void tarmac_rt_fiber_state_init(tarmac_rt_fiber_state_t *state,
                                uintptr_t stack_low, uintptr_t stack_high);
/* Swaps the calling thread's state with *state (the thread must be set up:
 * tarmac_rt_thread_setup). */
void tarmac_rt_fiber_state_swap(tarmac_rt_fiber_state_t *state);
/* The deadline slot's share (deadline.c). Zero: no deadline. */
typedef struct {
  uint64_t deadline;
  bool expired;
} tarmac_rt_deadline_state_t;
void tarmac_rt_deadline_swap(tarmac_rt_deadline_state_t *state);
/* Gives the calling thread a new identity (memory_image.h,
 * tarmac_rt_thread_id): a fiber resumed after a suspension may have run
 * elsewhere, so fault counts from before it say nothing. */
void tarmac_rt_thread_id_renew(void);

#endif
