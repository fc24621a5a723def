/* runtime: Tarmac's own implementation of wabt's wasm-rt.h (linear memories,
 * tables, function types, traps, exceptions) plus the embedder side that
 * wasm-rt.h leaves open: running guest code under trap protection.
 *
 * Design (see docs/architecture.md, "Runtime"):
 *  - Every linear memory is a fixed reservation of one header page plus
 *    8 GiB of address space (4 GiB addressable + 4 GiB guard), PROT_NONE
 *    except for the pages in use, so wasm2c's signal-handler bounds checking
 *    needs no explicit checks. Reservations are registered in a lock-free
 *    table the SIGSEGV handler reads. On free a reservation's pages are
 *    dropped and it is kept (up to 64) for the next memory, else unmapped.
 *  - Trap state (the jump target, the trap kind and message) is thread-local;
 *    every thread that runs guests gets its own alternate signal stack on its
 *    first protected call. A protected call makes no system call.
 *  - Stack exhaustion is a fault in the guard region of the current thread's
 *    stack; host imports call tarmac_rt_check_host_stack() first so host code
 *    never runs out of stack on a guest's behalf.
 *  - Every memory carries a ceiling (bytes); memory.grow past it fails.
 *  - The process has one budget for guest memory (pages in use in every
 *    memory plus memory images, runtime/memory_image.h); allocating past it
 *    traps with TARMAC_TRAP_MEMORY_BUDGET, memory.grow past it fails.
 *  - Deadlines (runtime/deadline.h) stop guest code that runs too long. */
#ifndef TARMAC_RUNTIME_RUNTIME_H
#define TARMAC_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wasm-rt.h>

/* Trap kinds beyond wasm-rt.h's, produced by the host rather than by guest
 * instructions. They travel through the same trap path. */
enum {
  TARMAC_TRAP_EXIT = 64,  /* WASI proc_exit; code in tarmac_rt_exit_code() */
  TARMAC_TRAP_ABORT,      /* env.abort (AssemblyScript); message set */
  TARMAC_TRAP_RESOURCE,   /* host could not allocate what the guest needs */
  TARMAC_TRAP_HOST_FAULT, /* a host import rejected the guest's request */
  TARMAC_TRAP_MEMORY_BUDGET, /* the process guest-memory budget is spent */
  TARMAC_TRAP_DEADLINE,   /* the call's deadline passed (runtime/deadline.h) */
};

/* Default per-memory ceiling: 256 MiB. */
#define TARMAC_RT_DEFAULT_MEMORY_LIMIT (256u * 1024u * 1024u)
/* Largest memory the runtime gives out: 65535 pages (wasm-rt.h keeps the
 * byte size in a uint32_t, so 65536 pages cannot be represented). */
#define TARMAC_RT_MAX_PAGES 65535u
/* Largest table (elements) the runtime gives out. */
#define TARMAC_RT_MAX_TABLE_ELEMENTS (10u * 1000u * 1000u)
/* Stack a host import needs below it; less than this left traps with
 * call stack exhausted before the import does any work. */
#define TARMAC_RT_HOST_STACK_RESERVE (256u * 1024u)

/* Initializes the runtime once per process (thread-safe, idempotent): installs
 * the SIGSEGV/SIGBUS handler. Same as wasm_rt_init(). */
void tarmac_rt_init(void);

typedef void (*tarmac_rt_body_fn)(void *arg);

/* Runs body(arg) with trap protection on the calling thread. Returns
 * WASM_RT_TRAP_NONE when it returned normally, else the trap kind (one of
 * wasm_rt_trap_t or TARMAC_TRAP_*). Nests: a guest may call the host which
 * runs another protected body. No system call on this path once the thread
 * has been set up (its first call sets up the alternate signal stack). */
int tarmac_rt_run_protected(tarmac_rt_body_fn body, void *arg);

/* Human-readable trap kind: "out-of-bounds memory access", "unreachable",
 * "integer divide by zero", "integer overflow", "invalid conversion to
 * integer", "indirect call type mismatch or null", "call stack exhausted",
 * "uncaught exception", "guest exited", "guest aborted", "resource limit",
 * "deadline exceeded". */
const char *tarmac_rt_trap_name(int trap);

/* Details of the last trap on this thread ("" when none): the abort message,
 * the import that rejected a pointer, the allocation that failed. */
const char *tarmac_rt_trap_detail(void);
/* Exit code of the last TARMAC_TRAP_EXIT on this thread. */
uint32_t tarmac_rt_exit_code(void);

/* Traps with a host-side kind and a detail message (copied, truncated to
 * 255 bytes). Only valid inside tarmac_rt_run_protected. */
WASM_RT_NO_RETURN void tarmac_rt_trap_detail_set(int trap, const char *detail);
WASM_RT_NO_RETURN void tarmac_rt_exit(uint32_t code);

/* Traps with WASM_RT_TRAP_EXHAUSTION when less than
 * TARMAC_RT_HOST_STACK_RESERVE bytes of stack remain. Host imports call it
 * first. Cheap: one thread-local load and a compare. */
void tarmac_rt_check_host_stack(void);
/* Bytes of native stack left below the caller's frame on this thread
 * (SIZE_MAX on a thread that never ran a protected call). */
size_t tarmac_rt_stack_left(void);

/* The ceiling applied to memories allocated by this thread from now on
 * (wasm_rt_allocate_memory is called from inside instantiation, which has no
 * parameter for it). 0 restores the default. Returns the previous value. */
uint64_t tarmac_rt_set_memory_limit(uint64_t bytes);
/* The ceiling of an allocated memory, in bytes. */
uint64_t tarmac_rt_memory_limit(const wasm_rt_memory_t *mem);

/* The process-wide guest memory budget in bytes (0, the default: none).
 * Lowering it below what is committed refuses further growth only. */
void tarmac_rt_set_memory_budget(uint64_t bytes);
uint64_t tarmac_rt_memory_budget(void);
/* Bytes counted against the budget now. */
uint64_t tarmac_rt_memory_committed(void);

/* What wasm2c's instantiation allocated, in order, so a snapshot knows
 * exactly which fields of an instance are memories and tables. */
#define TARMAC_RT_MAX_RECORDED 32u
typedef enum {
  TARMAC_RT_ALLOC_MEMORY,          /* wasm_rt_memory_t */
  TARMAC_RT_ALLOC_FUNCREF_TABLE,   /* wasm_rt_funcref_table_t */
  TARMAC_RT_ALLOC_EXTERNREF_TABLE, /* wasm_rt_externref_table_t */
} tarmac_rt_allocation_kind_t;
typedef struct {
  void *objects[TARMAC_RT_MAX_RECORDED];
  tarmac_rt_allocation_kind_t kinds[TARMAC_RT_MAX_RECORDED];
  uint32_t count;
  bool overflow; /* more than TARMAC_RT_MAX_RECORDED: incomplete */
} tarmac_rt_allocations_t;
/* Records this thread's memory and table allocations into *recorder
 * (cleared first) until called with NULL. The caller owns the recorder. */
void tarmac_rt_record_allocations(tarmac_rt_allocations_t *recorder);

/* Number of live memory reservations in the process (for tests/metrics). */
size_t tarmac_rt_live_memories(void);

/* Bounds-checked access to guest memory for host imports. Returns a host
 * pointer to [ptr, ptr+len) or traps with WASM_RT_TRAP_OOB (naming `what`
 * in the trap detail) when the range is outside the memory. */
uint8_t *tarmac_rt_guest_range(wasm_rt_memory_t *mem, uint32_t ptr,
                               uint32_t len, const char *what);

static inline bool tarmac_rt_range_ok(const wasm_rt_memory_t *mem,
                                      uint32_t ptr, uint64_t len) {
  return mem && (uint64_t)ptr + len <= mem->size;
}

#endif
