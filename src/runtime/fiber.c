/* Fibers: guard-paged stacks and a user-space switch (see fiber.h). */
#include "runtime/fiber.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/runtime_internal.h"
#include "util/blocking.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define FIBER_ASAN 1
#endif

#if !defined(__x86_64__)
#error "runtime/fiber.c has a context switch for x86-64 only"
#endif

enum { FIBER_IDLE, FIBER_READY, FIBER_RUNNING, FIBER_SUSPENDED };

struct tarmac_fiber {
  void *sp;          /* the fiber's stack pointer while it is not running */
  void *resumer_sp;  /* the resumer's while the fiber runs */
  uint8_t *map;      /* guard page + stack */
  size_t map_size;
  uintptr_t stack_low, stack_high;
  tarmac_fiber_fn fn;
  void *arg;
  atomic_int state;
  pthread_t suspended_on; /* the thread it last suspended on */
  tarmac_fiber_t *next; /* in a pool's idle list */
  tarmac_rt_fiber_state_t rt;
  tarmac_rt_deadline_state_t deadline;
  unsigned blocking_depth;
  _Alignas(16) unsigned char locals[TARMAC_FIBER_LOCALS_BYTES]; /* at 16s */
#ifdef FIBER_ASAN
  void *resumer_fake, *fiber_fake; /* each side's fake stack, while away */
  const void *resumer_bottom;  /* the resumer's stack, for the way back */
  size_t resumer_size;
#endif
};

/* ---- the switch --------------------------------------------------------- */

/* fiber_jump(save, to): pushes the callee-saved registers and the SSE and
 * x87 control words, stores the stack pointer in *save, loads `to` and
 * pops the same from there. fiber_trampoline is where a new stack's first
 * switch "returns" to: r12 holds the fiber, r13 the entry function. */
void tarmac_fiber_jump_(void **save, void *to);
void tarmac_fiber_trampoline_(void);
__asm__(".text\n"
        ".globl tarmac_fiber_jump_\n"
        ".type tarmac_fiber_jump_,@function\n"
        "tarmac_fiber_jump_:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n"
        "  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  subq $8, %rsp\n  stmxcsr (%rsp)\n  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n  fldcw 4(%rsp)\n  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n"
        "  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size tarmac_fiber_jump_,.-tarmac_fiber_jump_\n"
        ".globl tarmac_fiber_trampoline_\n"
        ".type tarmac_fiber_trampoline_,@function\n"
        "tarmac_fiber_trampoline_:\n"
        "  movq %r12, %rdi\n"
        "  callq *%r13\n"
        "  ud2\n"
        ".size tarmac_fiber_trampoline_,.-tarmac_fiber_trampoline_\n");

static _Thread_local tarmac_fiber_t *current;

/* The running fiber, looked up anew after a switch: a suspended fiber may
 * come back on another thread, and the compiler takes the address of a
 * thread-local variable for a constant within a function. */
static TARMAC_RT_NOT_CONST tarmac_fiber_t **current_slot(void) {
  return &current;
}

static void die(const char *what) {
  fprintf(stderr, "tarmac: fiber: %s\n", what);
  abort();
}

/* ---- fiber locals ------------------------------------------------------- */

typedef struct {
  void (*swap)(void *saved);
  size_t offset;
} fiber_local_t;

/* Filled by constructors before main (single-threaded); read-only after. */
static fiber_local_t g_locals[TARMAC_FIBER_LOCALS_MAX];
static unsigned g_local_count;
static size_t g_locals_used;

int tarmac_fiber_local_register(void (*swap)(void *saved), size_t size) {
  size_t aligned = (g_locals_used + 15) & ~(size_t)15;
  if (g_local_count == TARMAC_FIBER_LOCALS_MAX ||
      aligned + size > TARMAC_FIBER_LOCALS_BYTES)
    return -1;
  g_locals[g_local_count++] = (fiber_local_t){swap, aligned};
  g_locals_used = aligned + size;
  return 0;
}

/* Exchanges the thread's state with the fiber's copy: the same call
 * switches in and out. */
static void exchange_state(tarmac_fiber_t *fiber) {
  tarmac_rt_fiber_state_swap(&fiber->rt);
  tarmac_rt_deadline_swap(&fiber->deadline);
  tarmac_blocking_swap_depth(&fiber->blocking_depth);
  for (unsigned i = 0; i < g_local_count; i++)
    g_locals[i].swap(fiber->locals + g_locals[i].offset);
}

/* ---- AddressSanitizer --------------------------------------------------- */

static void asan_enter(tarmac_fiber_t *fiber) {
#ifdef FIBER_ASAN
  __sanitizer_start_switch_fiber(&fiber->resumer_fake,
                                 (void *)fiber->stack_low,
                                 fiber->stack_high - fiber->stack_low);
#else
  (void)fiber;
#endif
}

static void asan_entered(tarmac_fiber_t *fiber) {
#ifdef FIBER_ASAN
  __sanitizer_finish_switch_fiber(fiber->fiber_fake, &fiber->resumer_bottom,
                                  &fiber->resumer_size);
#else
  (void)fiber;
#endif
}

static void asan_leave(tarmac_fiber_t *fiber, bool finished) {
#ifdef FIBER_ASAN
  /* a finished job's frames are gone: NULL lets ASan drop its fake stack */
  __sanitizer_start_switch_fiber(finished ? NULL : &fiber->fiber_fake,
                                 fiber->resumer_bottom, fiber->resumer_size);
#else
  (void)fiber;
  (void)finished;
#endif
}

static void asan_left(tarmac_fiber_t *fiber) {
#ifdef FIBER_ASAN
  __sanitizer_finish_switch_fiber(fiber->resumer_fake, NULL, NULL);
#else
  (void)fiber;
#endif
}

/* ---- running ------------------------------------------------------------ */

/* Switches from the fiber back to its resumer (the fiber's side). */
static void leave(tarmac_fiber_t *fiber, bool finished) {
  asan_leave(fiber, finished);
  tarmac_fiber_jump_(&fiber->sp, fiber->resumer_sp);
  asan_entered(fiber);
}

static void __attribute__((noreturn, used)) fiber_main(tarmac_fiber_t *fiber) {
  asan_entered(fiber);
  for (;;) {
    fiber->fn(fiber->arg);
    fiber->fn = NULL;
    fiber->arg = NULL;
    atomic_store(&fiber->state, FIBER_IDLE);
    leave(fiber, true);
  }
}

tarmac_fiber_t *tarmac_fiber_new(size_t stack_bytes) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (stack_bytes == 0) stack_bytes = TARMAC_FIBER_STACK_DEFAULT;
  stack_bytes = (stack_bytes + page - 1) & ~(page - 1);
  tarmac_fiber_t *fiber = calloc(1, sizeof(*fiber));
  if (fiber == NULL) return NULL;
  fiber->map_size = stack_bytes + page;
  fiber->map = mmap(NULL, fiber->map_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                    -1, 0);
  if (fiber->map == MAP_FAILED) {
    free(fiber);
    return NULL;
  }
  if (mprotect(fiber->map, page, PROT_NONE) != 0) { /* the guard page */
    int error = errno;
    munmap(fiber->map, fiber->map_size);
    free(fiber);
    errno = error;
    return NULL;
  }
  fiber->stack_low = (uintptr_t)fiber->map + page;
  fiber->stack_high = (uintptr_t)fiber->map + fiber->map_size;
  tarmac_rt_fiber_state_init(&fiber->rt, fiber->stack_low, fiber->stack_high);
  /* the first switch pops a control-word slot and six registers, then
   * "returns" into the trampoline with a 16-byte aligned stack */
  uint64_t *top = (uint64_t *)(fiber->stack_high & ~(uintptr_t)15);
  top[-3] = (uint64_t)(uintptr_t)tarmac_fiber_trampoline_;
  top[-4] = 0;                               /* rbp */
  top[-5] = 0;                               /* rbx */
  top[-6] = (uint64_t)(uintptr_t)fiber;      /* r12 */
  top[-7] = (uint64_t)(uintptr_t)fiber_main; /* r13 */
  top[-8] = 0;                               /* r14 */
  top[-9] = 0;                               /* r15 */
  top[-10] = 0x1F80u | ((uint64_t)0x037Fu << 32); /* default MXCSR, x87 CW */
  fiber->sp = &top[-10];
  atomic_init(&fiber->state, FIBER_IDLE);
  return fiber;
}

void tarmac_fiber_free(tarmac_fiber_t *fiber) {
  if (fiber == NULL) return;
  if (atomic_load(&fiber->state) != FIBER_IDLE)
    die("freeing a fiber that is not idle");
  munmap(fiber->map, fiber->map_size);
  free(fiber);
}

void tarmac_fiber_start(tarmac_fiber_t *fiber, tarmac_fiber_fn fn, void *arg) {
  if (atomic_load(&fiber->state) != FIBER_IDLE)
    die("starting a fiber that is not idle");
  fiber->fn = fn;
  fiber->arg = arg;
  atomic_store(&fiber->state, FIBER_READY);
}

bool tarmac_fiber_resume(tarmac_fiber_t *fiber) {
  if (current != NULL) die("resuming a fiber from inside a fiber");
  int state = atomic_load(&fiber->state);
  /* one compare-and-swap: a fiber can be resumed by one thread only */
  if ((state != FIBER_READY && state != FIBER_SUSPENDED) ||
      !atomic_compare_exchange_strong(&fiber->state, &state, FIBER_RUNNING))
    die("resuming a fiber that is running or has no job");
  tarmac_rt_thread_setup(); /* this thread's signal stack */
  exchange_state(fiber);
  /* It ran on another thread since it last ran here: this thread's fault
   * count misses the pages it wrote there, so whatever was restored under
   * this thread's identity must look again (memory_image.h). Resumed where
   * it suspended, the count covers all it did (and other fibers' faults
   * only make it look again). */
  if (state == FIBER_SUSPENDED &&
      !pthread_equal(fiber->suspended_on, pthread_self()))
    tarmac_rt_thread_id_renew();
  current = fiber;
  asan_enter(fiber);
  tarmac_fiber_jump_(&fiber->resumer_sp, fiber->sp);
  asan_left(fiber);
  current = NULL;
  exchange_state(fiber);
  return atomic_load(&fiber->state) == FIBER_IDLE;
}

void tarmac_fiber_suspend(void) {
  tarmac_fiber_t *fiber = current;
  if (fiber == NULL) die("suspending outside a fiber");
  fiber->suspended_on = pthread_self();
  atomic_store(&fiber->state, FIBER_SUSPENDED);
  leave(fiber, false); /* back, perhaps on another thread */
}

tarmac_fiber_t *tarmac_fiber_current(void) { return *current_slot(); }

bool tarmac_fiber_suspended(const tarmac_fiber_t *fiber) {
  return atomic_load(&fiber->state) == FIBER_SUSPENDED;
}

/* ---- pools -------------------------------------------------------------- */

void tarmac_fiber_pool_init(tarmac_fiber_pool_t *pool, unsigned max,
                            size_t stack_bytes) {
  memset(pool, 0, sizeof(*pool));
  pool->max = max;
  pool->stack_bytes = stack_bytes;
}

tarmac_fiber_t *tarmac_fiber_pool_take(tarmac_fiber_pool_t *pool) {
  tarmac_fiber_t *fiber = pool->idle;
  if (fiber != NULL) {
    pool->idle = fiber->next;
    pool->idle_count--;
    fiber->next = NULL;
    return fiber;
  }
  if (pool->live >= pool->max) return NULL;
  fiber = tarmac_fiber_new(pool->stack_bytes);
  if (fiber != NULL) pool->live++;
  return fiber;
}

void tarmac_fiber_pool_give(tarmac_fiber_pool_t *pool, tarmac_fiber_t *fiber) {
  fiber->next = pool->idle;
  pool->idle = fiber;
  pool->idle_count++;
}

void tarmac_fiber_pool_dispose(tarmac_fiber_pool_t *pool) {
  while (pool->idle != NULL) {
    tarmac_fiber_t *fiber = pool->idle;
    pool->idle = fiber->next;
    tarmac_fiber_free(fiber);
    pool->live--;
  }
  pool->idle_count = 0;
}
