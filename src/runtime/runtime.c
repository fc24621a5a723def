/* Tarmac's implementation of wasm-rt.h (see runtime.h for the design). */
#include "runtime/runtime.h"
#include "runtime/runtime_internal.h"

#include "runtime/deadline.h"
#include "runtime/runtime_internal.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WASM_PAGE_SIZE 65536u
/* wasm2c addresses memory as data + (u64)u32_address + u32_offset, so a
 * memory needs 8 GiB of address space behind it, plus room for the widest
 * access (16 bytes) which one more page covers. */
#define RESERVATION_DATA_SPAN ((uint64_t)8 << 30)
#define MAX_RESERVATIONS 16384u
#define ALTSTACK_SIZE (64u * 1024u)
/* A stack overflow faults in the guard below the stack's low end; frames are
 * probed page by page (-fstack-clash-protection), so the fault lands near. */
#define STACK_GUARD_SLACK (1u << 20)
#define TRAP_DETAIL_SIZE 256u

/* ---- per-thread state ------------------------------------------------- */

typedef struct {
  sigjmp_buf *jump_target; /* innermost protected call; NULL outside */
  int trap;
  uint32_t exit_code;
  bool in_fault_handler;
  bool ready; /* alternate signal stack and stack bounds set up */
  uintptr_t stack_low, stack_high, host_stack_limit;
  uint64_t memory_limit; /* 0 = default */
  WASM_RT_UNWIND_TARGET *unwind_target;
  uint32_t exception_tag, exception_size;
  uint8_t *exception_data;
  uint32_t exception_capacity;
  char detail[TRAP_DETAIL_SIZE];
} thread_state_t;

static _Thread_local thread_state_t tls;
/* Where this thread records what it allocates (snapshots); NULL: nowhere.
 * Apart from thread_state_t so the fast paths' layout stays as it is. */
static _Thread_local tarmac_rt_allocations_t *tls_recorder;

/* ---- process state ---------------------------------------------------- */

typedef struct {
  uint64_t limit_bytes;
  uint32_t slot;
} memory_header_t;

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static atomic_bool g_initialized;
static struct sigaction g_previous_segv, g_previous_bus;
static pthread_key_t g_thread_key; /* owns each thread's alternate stack */
static size_t g_page_size;

/* Live memory reservations, read by the fault handler without locks. */
static _Atomic(uintptr_t) g_reservations[MAX_RESERVATIONS];
static atomic_uint g_reservation_high_water;
static atomic_size_t g_live_memories;
/* Process-wide guest memory budget: bytes of pages in use across all
 * memories plus memory images. 0 = no budget. */
static _Atomic uint64_t g_budget_bytes;
static _Atomic uint64_t g_committed_bytes;

static uint64_t reservation_size(void) {
  return g_page_size + RESERVATION_DATA_SPAN + g_page_size;
}

static bool reservation_contains(uintptr_t addr) {
  unsigned n = atomic_load_explicit(&g_reservation_high_water,
                                    memory_order_acquire);
  uint64_t span = reservation_size();
  for (unsigned i = 0; i < n; i++) {
    uintptr_t base =
        atomic_load_explicit(&g_reservations[i], memory_order_acquire);
    if (base && addr >= base && addr - base < span) return true;
  }
  return false;
}

static int reservation_register(uintptr_t base, uint32_t *slot_out) {
  for (uint32_t i = 0; i < MAX_RESERVATIONS; i++) {
    uintptr_t expected = 0;
    if (atomic_compare_exchange_strong(&g_reservations[i], &expected, base)) {
      unsigned hw = atomic_load(&g_reservation_high_water);
      while (hw < i + 1 &&
             !atomic_compare_exchange_weak(&g_reservation_high_water, &hw,
                                           i + 1)) {
      }
      *slot_out = i;
      atomic_fetch_add(&g_live_memories, 1);
      return 0;
    }
  }
  return -1;
}

/* Freed reservations kept for the next memory: unmapping 8 GiB of address
 * space and mapping it again (page-table walks and page-table pages) is
 * most of what creating an instance costs. A cached reservation is all
 * PROT_NONE, holds no pages and is not registered with the fault handler. */
#define RESERVATION_CACHE_SIZE 64u
static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *g_cache[RESERVATION_CACHE_SIZE];
static unsigned g_cache_count;

static uint8_t *reservation_cache_take(void) {
  uint8_t *base = NULL;
  pthread_mutex_lock(&g_cache_lock);
  if (g_cache_count > 0) base = g_cache[--g_cache_count];
  pthread_mutex_unlock(&g_cache_lock);
  return base;
}

/* Keeps a reservation whose first `used` bytes were in use; false when the
 * cache is full or the pages could not be dropped (the caller unmaps it). */
static bool reservation_cache_put(uint8_t *base, size_t used) {
  /* one call drops every page in use and makes it inaccessible again */
  if (mmap(base, used, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
           0) == MAP_FAILED)
    return false;
  bool kept = false;
  pthread_mutex_lock(&g_cache_lock);
  if (g_cache_count < RESERVATION_CACHE_SIZE) {
    g_cache[g_cache_count++] = base;
    kept = true;
  }
  pthread_mutex_unlock(&g_cache_lock);
  return kept;
}

static void reservation_unregister(uint32_t slot) {
  atomic_store(&g_reservations[slot], 0);
  atomic_fetch_sub(&g_live_memories, 1);
}

/* ---- traps ------------------------------------------------------------ */

static WASM_RT_NO_RETURN void jump_to_protected_frame(thread_state_t *ts) {
  if (!ts->jump_target) {
    fprintf(stderr, "tarmac: wasm trap (%s) outside a protected call\n",
            tarmac_rt_trap_name(ts->trap));
    abort();
  }
  siglongjmp(*ts->jump_target, 1);
}

void wasm_rt_trap(wasm_rt_trap_t trap) {
  thread_state_t *ts = &tls;
  ts->trap = (int)trap;
  ts->detail[0] = '\0';
  jump_to_protected_frame(ts);
}

void tarmac_rt_trap_detail_set(int trap, const char *detail) {
  thread_state_t *ts = &tls;
  ts->trap = trap;
  snprintf(ts->detail, sizeof ts->detail, "%s", detail ? detail : "");
  jump_to_protected_frame(ts);
}

static WASM_RT_NO_RETURN void trap_with_format(int trap, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void trap_with_format(int trap, const char *fmt, ...) {
  thread_state_t *ts = &tls;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ts->detail, sizeof ts->detail, fmt, ap);
  va_end(ap);
  ts->trap = trap;
  jump_to_protected_frame(ts);
}

void tarmac_rt_exit(uint32_t code) {
  thread_state_t *ts = &tls;
  ts->exit_code = code;
  trap_with_format(TARMAC_TRAP_EXIT, "exit code %u", code);
}

const char *tarmac_rt_trap_detail(void) { return tls.detail; }
uint32_t tarmac_rt_exit_code(void) { return tls.exit_code; }

const char *tarmac_rt_trap_name(int trap) {
  switch (trap) {
    case WASM_RT_TRAP_NONE: return "no trap";
    case WASM_RT_TRAP_OOB: return "out-of-bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed";
    case WASM_RT_TRAP_CALL_INDIRECT: return "indirect call type mismatch or null";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
    case TARMAC_TRAP_EXIT: return "guest exited";
    case TARMAC_TRAP_ABORT: return "guest aborted";
    case TARMAC_TRAP_RESOURCE: return "resource limit";
    case TARMAC_TRAP_HOST_FAULT: return "host call rejected";
    case TARMAC_TRAP_MEMORY_BUDGET: return "guest memory budget exhausted";
    case TARMAC_TRAP_DEADLINE: return "deadline exceeded";
    default: return "unknown trap";
  }
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap) {
  return tarmac_rt_trap_name((int)trap);
}

/* ---- fault handling --------------------------------------------------- */

static void chain_to_previous(int sig, siginfo_t *info, void *context) {
  const struct sigaction *prev =
      sig == SIGBUS ? &g_previous_bus : &g_previous_segv;
  if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) {
    prev->sa_sigaction(sig, info, context);
    return;
  }
  if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN &&
      prev->sa_handler) {
    prev->sa_handler(sig);
    return;
  }
  /* Not a guest fault and nobody else handles it: let the faulting
   * instruction run again with the default action (core dump). */
  signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *info, void *context) {
  thread_state_t *ts = &tls;
  if (ts->jump_target && !ts->in_fault_handler) {
    ts->in_fault_handler = true;
    uintptr_t addr = (uintptr_t)info->si_addr;
    int trap = WASM_RT_TRAP_NONE;
    if (reservation_contains(addr))
      trap = WASM_RT_TRAP_OOB;
    else if (ts->ready && addr + STACK_GUARD_SLACK >= ts->stack_low &&
             addr < ts->stack_high)
      trap = WASM_RT_TRAP_EXHAUSTION;
    ts->in_fault_handler = false;
    if (trap != WASM_RT_TRAP_NONE) {
      ts->trap = trap;
      ts->detail[0] = '\0';
      siglongjmp(*ts->jump_target, 1);
    }
  }
  chain_to_previous(sig, info, context);
}

static void release_thread_altstack(void *altstack) {
  stack_t disable = {.ss_flags = SS_DISABLE};
  stack_t current;
  /* Only disable when it is still ours (another layer may have replaced it). */
  if (sigaltstack(NULL, &current) == 0 && current.ss_sp == altstack)
    sigaltstack(&disable, NULL);
  munmap(altstack, ALTSTACK_SIZE);
  free(tls.exception_data); /* destructors run on the exiting thread */
  tls.exception_data = NULL;
  tls.exception_capacity = 0;
}

static void init_process(void) {
  long page = sysconf(_SC_PAGESIZE);
  g_page_size = page > 0 ? (size_t)page : 4096;
  if (pthread_key_create(&g_thread_key, release_thread_altstack) != 0) {
    fprintf(stderr, "tarmac: cannot create thread key\n");
    abort();
  }
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_fault;
  /* SA_NODEFER: jumping out of the handler then leaves the signal unblocked
   * without sigsetjmp having to save the mask (a system call per call). */
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSEGV, &action, &g_previous_segv) != 0 ||
      sigaction(SIGBUS, &action, &g_previous_bus) != 0) {
    fprintf(stderr, "tarmac: cannot install fault handler: %s\n",
            strerror(errno));
    abort();
  }
  atomic_store(&g_initialized, true);
}

void tarmac_rt_init(void) { pthread_once(&g_init_once, init_process); }
void wasm_rt_init(void) { tarmac_rt_init(); }
bool wasm_rt_is_initialized(void) { return atomic_load(&g_initialized); }

void wasm_rt_free(void) {
  /* The handler stays installed: other threads may still run guests, and a
   * process embeds one runtime for its whole life. Thread state is released
   * at thread exit. */
}

static void setup_thread(thread_state_t *ts) {
  tarmac_rt_init();
  void *altstack = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (altstack == MAP_FAILED) {
    fprintf(stderr, "tarmac: cannot allocate a signal stack: %s\n",
            strerror(errno));
    abort();
  }
  stack_t ss = {.ss_sp = altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0 ||
      pthread_setspecific(g_thread_key, altstack) != 0) {
    fprintf(stderr, "tarmac: cannot install a signal stack\n");
    abort();
  }
  pthread_attr_t attr;
  void *stack_addr = NULL;
  size_t stack_size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &stack_addr, &stack_size);
    pthread_attr_destroy(&attr);
  }
  if (!stack_addr || stack_size == 0) {
    fprintf(stderr, "tarmac: cannot determine the thread's stack\n");
    abort();
  }
  ts->stack_low = (uintptr_t)stack_addr;
  ts->stack_high = ts->stack_low + stack_size;
  ts->host_stack_limit = ts->stack_low + TARMAC_RT_HOST_STACK_RESERVE;
  ts->ready = true;
}

void tarmac_rt_thread_setup(void) {
  if (!tls.ready) setup_thread(&tls);
}

bool tarmac_rt_in_protected_call(void) { return tls.jump_target != NULL; }

void tarmac_rt_fiber_state_init(tarmac_rt_fiber_state_t *state,
                                uintptr_t stack_low, uintptr_t stack_high) {
  memset(state, 0, sizeof(*state));
  state->stack_low = stack_low;
  state->stack_high = stack_high;
  state->host_stack_limit = stack_low + TARMAC_RT_HOST_STACK_RESERVE;
}

#define SWAP_FIELD(a, b, type) \
  do {                          \
    type swapped_ = (a);        \
    (a) = (b);                  \
    (b) = swapped_;             \
  } while (0)

void tarmac_rt_fiber_state_swap(tarmac_rt_fiber_state_t *state) {
  thread_state_t *ts = &tls;
  /* a signal arriving in between sees a jump target only once the stack
   * bounds it goes with are in place (or neither) */
  void *jump = state->jump_target;
  state->jump_target = ts->jump_target;
  ts->jump_target = NULL;
  atomic_signal_fence(memory_order_seq_cst);
  SWAP_FIELD(ts->stack_low, state->stack_low, uintptr_t);
  SWAP_FIELD(ts->stack_high, state->stack_high, uintptr_t);
  SWAP_FIELD(ts->host_stack_limit, state->host_stack_limit, uintptr_t);
  SWAP_FIELD(ts->memory_limit, state->memory_limit, uint64_t);
  void *unwind = state->unwind_target;
  state->unwind_target = ts->unwind_target;
  ts->unwind_target = unwind;
  void *recorder = state->recorder;
  state->recorder = tls_recorder;
  tls_recorder = recorder;
  atomic_signal_fence(memory_order_seq_cst);
  ts->jump_target = jump;
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

/* AddressSanitizer: the frames a trap jumped over keep their redzones.
 * ASan clears them when the jump leaves the signal stack for the thread's
 * own stack, not for a fiber's (runtime/fiber.h): clear what lies below
 * this frame on the stack in use. */
static void unpoison_skipped_frames(const thread_state_t *ts) {
#if defined(__SANITIZE_ADDRESS__)
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (ts->ready && here > ts->stack_low && here <= ts->stack_high)
    ASAN_UNPOISON_MEMORY_REGION((void *)ts->stack_low, here - ts->stack_low);
#else
  (void)ts;
#endif
}

/* &tls, looked up anew: code that ran on a fiber (runtime/fiber.h) may have
 * been suspended and resumed on another thread, and the compiler takes a
 * thread's state address for a constant within a function. */
static TARMAC_RT_NOT_CONST thread_state_t *current_thread_state(void) {
  return &tls;
}

int tarmac_rt_run_protected(tarmac_rt_body_fn body, void *arg) {
  thread_state_t *ts = &tls;
  if (UNLIKELY(!ts->ready)) setup_thread(ts);
  sigjmp_buf frame;
  sigjmp_buf *outer = ts->jump_target;
  WASM_RT_UNWIND_TARGET *outer_unwind = ts->unwind_target;
  ts->jump_target = &frame;
  ts->unwind_target = NULL; /* an uncaught throw in here traps here */
  if (sigsetjmp(frame, 0) == 0) {
    body(arg);
    ts = current_thread_state(); /* see current_thread_state */
    ts->jump_target = outer;
    ts->unwind_target = outer_unwind;
    return WASM_RT_TRAP_NONE;
  }
  ts = current_thread_state();
  ts->jump_target = outer;
  ts->unwind_target = outer_unwind;
  unpoison_skipped_frames(ts);
  return ts->trap;
}

void tarmac_rt_check_host_stack(void) {
  thread_state_t *ts = &tls;
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (UNLIKELY(ts->ready && here < ts->host_stack_limit))
    trap_with_format(WASM_RT_TRAP_EXHAUSTION,
                     "too little stack left for a host call");
}

size_t tarmac_rt_stack_left(void) {
  thread_state_t *ts = &tls;
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (!ts->ready) return SIZE_MAX;
  return here > ts->stack_low ? here - ts->stack_low : 0;
}

/* ---- linear memory ---------------------------------------------------- */

uint64_t tarmac_rt_set_memory_limit(uint64_t bytes) {
  uint64_t previous = tls.memory_limit;
  tls.memory_limit = bytes;
  return previous ? previous : TARMAC_RT_DEFAULT_MEMORY_LIMIT;
}

static memory_header_t *memory_header(const wasm_rt_memory_t *mem) {
  return (memory_header_t *)(mem->data - g_page_size);
}

uint64_t tarmac_rt_memory_limit(const wasm_rt_memory_t *mem) {
  return mem->data ? memory_header(mem)->limit_bytes : 0;
}

void tarmac_rt_record_allocations(tarmac_rt_allocations_t *recorder) {
  if (recorder) memset(recorder, 0, sizeof *recorder);
  tls_recorder = recorder;
}

static void record_allocation(void *object, tarmac_rt_allocation_kind_t kind) {
  tarmac_rt_allocations_t *r = tls_recorder;
  if (!r) return;
  if (r->count == TARMAC_RT_MAX_RECORDED) {
    r->overflow = true;
    return;
  }
  r->objects[r->count] = object;
  r->kinds[r->count++] = kind;
}

size_t tarmac_rt_live_memories(void) { return atomic_load(&g_live_memories); }

void tarmac_rt_set_memory_budget(uint64_t bytes) {
  atomic_store(&g_budget_bytes, bytes);
}
uint64_t tarmac_rt_memory_budget(void) { return atomic_load(&g_budget_bytes); }
uint64_t tarmac_rt_memory_committed(void) {
  return atomic_load(&g_committed_bytes);
}

/* Compare-and-swap so concurrent charges never overshoot the budget. */
bool tarmac_rt_budget_charge(uint64_t bytes) {
  uint64_t budget = atomic_load(&g_budget_bytes);
  uint64_t used = atomic_load(&g_committed_bytes);
  do {
    if (budget && (used + bytes < used || used + bytes > budget)) return false;
  } while (!atomic_compare_exchange_weak(&g_committed_bytes, &used,
                                         used + bytes));
  return true;
}

void tarmac_rt_budget_refund(uint64_t bytes) {
  atomic_fetch_sub(&g_committed_bytes, bytes);
}

size_t tarmac_rt_os_page_size(void) {
  tarmac_rt_init();
  return g_page_size;
}

void tarmac_rt_trap_over_budget(uint64_t bytes) {
  trap_with_format(TARMAC_TRAP_MEMORY_BUDGET,
                   "%llu more bytes of guest memory would exceed the "
                   "process budget of %llu bytes",
                   (unsigned long long)bytes,
                   (unsigned long long)atomic_load(&g_budget_bytes));
}

static uint32_t ceiling_pages(uint64_t limit_bytes) {
  uint64_t pages = limit_bytes / WASM_PAGE_SIZE;
  return pages > TARMAC_RT_MAX_PAGES ? TARMAC_RT_MAX_PAGES : (uint32_t)pages;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t *mem, uint32_t initial_pages,
                             uint32_t max_pages) {
  uint64_t limit = tls.memory_limit ? tls.memory_limit
                                    : TARMAC_RT_DEFAULT_MEMORY_LIMIT;
  mem->data = NULL;
  mem->pages = mem->size = 0;
  mem->max_pages = max_pages;
  if (initial_pages > ceiling_pages(limit))
    trap_with_format(TARMAC_TRAP_RESOURCE,
                     "initial memory of %u pages exceeds the ceiling of %llu "
                     "bytes",
                     initial_pages, (unsigned long long)limit);
  size_t initial_bytes = (size_t)initial_pages * WASM_PAGE_SIZE;
  if (!tarmac_rt_budget_charge(initial_bytes))
    tarmac_rt_trap_over_budget(initial_bytes);
  uint64_t span = reservation_size();
  uint8_t *base = reservation_cache_take();
  if (!base)
    base = mmap(NULL, span, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    tarmac_rt_budget_refund(initial_bytes);
    trap_with_format(TARMAC_TRAP_RESOURCE,
                     "cannot reserve address space for a memory: %s",
                     strerror(errno));
  }
  uint32_t slot;
  if (mprotect(base, g_page_size + initial_bytes, PROT_READ | PROT_WRITE) != 0 ||
      reservation_register((uintptr_t)base, &slot) != 0) {
    munmap(base, span);
    tarmac_rt_budget_refund(initial_bytes);
    trap_with_format(TARMAC_TRAP_RESOURCE,
                     "cannot allocate a memory of %u pages", initial_pages);
  }
  memory_header_t *header = (memory_header_t *)base;
  header->limit_bytes = limit;
  header->slot = slot;
  mem->data = base + g_page_size;
  mem->pages = initial_pages;
  mem->size = (uint32_t)initial_bytes;
  record_allocation(mem, TARMAC_RT_ALLOC_MEMORY);
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *mem, uint32_t delta) {
  /* entered from guest code with nothing held: a safe point */
  tarmac_rt_deadline_check();
  uint32_t old_pages = mem->pages;
  if (delta == 0) return old_pages;
  uint64_t new_pages = (uint64_t)old_pages + delta;
  if (!mem->data || new_pages > mem->max_pages ||
      new_pages > ceiling_pages(memory_header(mem)->limit_bytes))
    return UINT32_MAX;
  /* past the process budget memory.grow fails like any other refusal */
  if (!tarmac_rt_budget_charge((uint64_t)delta * WASM_PAGE_SIZE))
    return UINT32_MAX;
  if (mprotect(mem->data + (size_t)old_pages * WASM_PAGE_SIZE,
               (size_t)delta * WASM_PAGE_SIZE, PROT_READ | PROT_WRITE) != 0) {
    tarmac_rt_budget_refund((uint64_t)delta * WASM_PAGE_SIZE);
    return UINT32_MAX;
  }
  mem->pages = (uint32_t)new_pages;
  mem->size = (uint32_t)(new_pages * WASM_PAGE_SIZE);
  return old_pages;
}

void wasm_rt_free_memory(wasm_rt_memory_t *mem) {
  if (!mem->data) return;
  uint8_t *base = mem->data - g_page_size;
  reservation_unregister(memory_header(mem)->slot);
  if (!reservation_cache_put(base, g_page_size + (size_t)mem->size))
    munmap(base, reservation_size());
  tarmac_rt_budget_refund(mem->size);
  mem->data = NULL;
  mem->pages = mem->size = 0;
}

uint8_t *tarmac_rt_guest_range(wasm_rt_memory_t *mem, uint32_t ptr,
                               uint32_t len, const char *what) {
  if (!tarmac_rt_range_ok(mem, ptr, len))
    trap_with_format(WASM_RT_TRAP_OOB,
                     "%s: bytes [%u, %llu) are outside the guest's memory of "
                     "%u bytes",
                     what, ptr, (unsigned long long)ptr + len,
                     mem ? mem->size : 0u);
  return mem->data + ptr;
}

/* ---- tables ----------------------------------------------------------- */

/* Allocates or grows table storage of `count` elements of `size` bytes,
 * trapping with a resource trap when it cannot. */
static void *table_storage(void *data, uint32_t count, size_t size) {
  if (count > TARMAC_RT_MAX_TABLE_ELEMENTS)
    trap_with_format(TARMAC_TRAP_RESOURCE,
                     "table of %u elements exceeds the limit of %u", count,
                     TARMAC_RT_MAX_TABLE_ELEMENTS);
  void *grown = realloc(data, (count ? count : 1) * size);
  if (!grown)
    trap_with_format(TARMAC_TRAP_RESOURCE, "cannot allocate a table of %u "
                     "elements", count);
  return grown;
}

#define DEFINE_TABLE_OPS(kind, elem_t, null_value, record_kind)               \
  void wasm_rt_allocate_##kind##_table(wasm_rt_##kind##_table_t *table,       \
                                       uint32_t elements,                     \
                                       uint32_t max_elements) {               \
    table->data = NULL;                                                       \
    table->size = 0;                                                          \
    table->max_size = max_elements;                                           \
    table->data = table_storage(NULL, elements, sizeof(elem_t));              \
    for (uint32_t i = 0; i < elements; i++) table->data[i] = null_value;      \
    table->size = elements;                                                   \
    record_allocation(table, record_kind);                                    \
  }                                                                           \
  void wasm_rt_free_##kind##_table(wasm_rt_##kind##_table_t *table) {         \
    free(table->data);                                                        \
    table->data = NULL;                                                       \
    table->size = 0;                                                          \
  }                                                                           \
  uint32_t wasm_rt_grow_##kind##_table(wasm_rt_##kind##_table_t *table,       \
                                       uint32_t delta, elem_t init) {         \
    uint32_t old_size = table->size;                                          \
    uint64_t new_size = (uint64_t)old_size + delta;                           \
    if (new_size > table->max_size ||                                         \
        new_size > TARMAC_RT_MAX_TABLE_ELEMENTS)                              \
      return UINT32_MAX;                                                      \
    if (delta == 0) return old_size;                                          \
    elem_t *grown = realloc(table->data, new_size * sizeof(elem_t));          \
    if (!grown) return UINT32_MAX;                                            \
    for (uint64_t i = old_size; i < new_size; i++) grown[i] = init;           \
    table->data = grown;                                                      \
    table->size = (uint32_t)new_size;                                         \
    return old_size;                                                          \
  }

DEFINE_TABLE_OPS(funcref, wasm_rt_funcref_t, wasm_rt_funcref_null_value,
                 TARMAC_RT_ALLOC_FUNCREF_TABLE)
DEFINE_TABLE_OPS(externref, wasm_rt_externref_t, wasm_rt_externref_null_value,
                 TARMAC_RT_ALLOC_EXTERNREF_TABLE)

/* ---- function types --------------------------------------------------- */

typedef struct {
  uint32_t params, results;
  wasm_rt_type_t *types; /* params then results */
} func_type_t;

static pthread_mutex_t g_func_types_lock = PTHREAD_MUTEX_INITIALIZER;
static func_type_t *g_func_types;
static uint32_t g_func_type_count, g_func_type_capacity;

static bool func_type_equals(const func_type_t *t, uint32_t params,
                             uint32_t results, const wasm_rt_type_t *types) {
  return t->params == params && t->results == results &&
         memcmp(t->types, types, (params + results) * sizeof *types) == 0;
}

static uint32_t func_type_intern(uint32_t params, uint32_t results,
                                 wasm_rt_type_t *types) {
  for (uint32_t i = 0; i < g_func_type_count; i++)
    if (func_type_equals(&g_func_types[i], params, results, types)) {
      free(types);
      return i + 1; /* 0 never names a type */
    }
  if (g_func_type_count == g_func_type_capacity) {
    uint32_t cap = g_func_type_capacity ? g_func_type_capacity * 2 : 64;
    func_type_t *grown = realloc(g_func_types, cap * sizeof *grown);
    if (!grown) {
      fprintf(stderr, "tarmac: out of memory registering a function type\n");
      abort();
    }
    g_func_types = grown;
    g_func_type_capacity = cap;
  }
  g_func_types[g_func_type_count] =
      (func_type_t){.params = params, .results = results, .types = types};
  return ++g_func_type_count;
}

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  uint32_t count = params + results;
  wasm_rt_type_t *types = malloc((count ? count : 1) * sizeof *types);
  if (!types) {
    fprintf(stderr, "tarmac: out of memory registering a function type\n");
    abort();
  }
  va_list ap;
  va_start(ap, results);
  for (uint32_t i = 0; i < count; i++)
    types[i] = (wasm_rt_type_t)va_arg(ap, int);
  va_end(ap);
  pthread_mutex_lock(&g_func_types_lock);
  uint32_t index = func_type_intern(params, results, types);
  pthread_mutex_unlock(&g_func_types_lock);
  return index;
}

/* ---- exceptions ------------------------------------------------------- */

static atomic_uint g_next_tag = 1;

uint32_t wasm_rt_register_tag(uint32_t size) {
  (void)size;
  return atomic_fetch_add(&g_next_tag, 1);
}

void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void *values) {
  thread_state_t *ts = &tls;
  if (size > ts->exception_capacity) {
    uint8_t *grown = realloc(ts->exception_data, size);
    if (!grown)
      trap_with_format(TARMAC_TRAP_RESOURCE,
                       "cannot hold an exception of %u bytes", size);
    ts->exception_data = grown;
    ts->exception_capacity = size;
  }
  ts->exception_tag = tag;
  ts->exception_size = size;
  if (size) memcpy(ts->exception_data, values, size);
}

void wasm_rt_throw(void) {
  thread_state_t *ts = &tls;
  if (ts->unwind_target) siglongjmp(*ts->unwind_target, 1);
  wasm_rt_trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
}

WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void) {
  return tls.unwind_target;
}
void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target) {
  tls.unwind_target = target;
}
uint32_t wasm_rt_exception_tag(void) { return tls.exception_tag; }
uint32_t wasm_rt_exception_size(void) { return tls.exception_size; }
void *wasm_rt_exception(void) { return tls.exception_data; }
