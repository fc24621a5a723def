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

#endif
