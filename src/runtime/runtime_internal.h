/* runtime/runtime_internal: what runtime.c shares with the runtime's other
 * files (memory_image.c) and nobody else: the process budget's accounting
 * and the OS page size. */
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

#endif
