/* runtime/fiber: stacks of their own for code that may wait without holding
 * its thread (a guest's handler on an HTTP loop), switched in user space.
 *
 * A fiber is an mmap'd stack with a PROT_NONE guard page below it and a
 * saved stack pointer. tarmac_fiber_resume() switches from the calling
 * thread's current stack into the fiber; the fiber runs until its function
 * returns or it calls tarmac_fiber_suspend(), which switches back to the
 * resumer. A switch saves the callee-saved registers, the SSE/x87 control
 * words and the stack pointer (x86-64; no system call, unlike swapcontext).
 *
 * Per-thread state that belongs to the code running, not to the thread,
 * is exchanged at every switch (in and out): the runtime's trap state and
 * stack bounds, the deadline slot's deadline, and every "fiber local"
 * registered by the layers above (engine nesting, call depth, blocking
 * nesting). A suspended fiber may be resumed on another thread; the
 * restore shortcut's identity (memory_image.h) of the resuming thread is
 * renewed when it is. Code on a fiber must not keep a thread's identity
 * across a wait: glibc declares pthread_self and errno's address const,
 * so the compiler may reuse them from before a suspension.
 *
 * Ownership: whoever creates a fiber owns it (tarmac_fiber_free). A fiber
 * is either idle (no function), running (on exactly one thread), or
 * suspended; resuming one that is not idle-with-a-job or suspended aborts
 * the process (a fiber resumed on two threads would corrupt its stack).
 * Pools (tarmac_fiber_pool_t) keep idle fibers for reuse, bounded; they
 * are not thread-safe (their owner serialises access). */
#ifndef TARMAC_RUNTIME_FIBER_H
#define TARMAC_RUNTIME_FIBER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tarmac_fiber tarmac_fiber_t;
typedef void (*tarmac_fiber_fn)(void *arg);

/* Default stack: as large as a thread's (8 MiB), reserved, not committed:
 * only the pages a guest touches are backed. */
#define TARMAC_FIBER_STACK_DEFAULT ((size_t)8 << 20)

/* A new idle fiber with a stack of `stack_bytes` (rounded up to pages; 0 =
 * the default). NULL with errno set when out of memory. */
tarmac_fiber_t *tarmac_fiber_new(size_t stack_bytes);
/* Frees an idle fiber (NULL: nothing). Aborts on a running or suspended
 * one. */
void tarmac_fiber_free(tarmac_fiber_t *fiber);

/* Gives an idle fiber its job: fn(arg) runs at the next resume. */
void tarmac_fiber_start(tarmac_fiber_t *fiber, tarmac_fiber_fn fn, void *arg);
/* Runs the fiber on the calling thread until its job returns (true: the
 * fiber is idle again) or it suspends (false). Must not be called from
 * inside a fiber. */
bool tarmac_fiber_resume(tarmac_fiber_t *fiber);
/* Inside a fiber: back to the thread that resumed it; returns when the
 * fiber is resumed again (possibly on another thread). */
void tarmac_fiber_suspend(void);
/* The fiber running on this thread, NULL on a thread's own stack. */
tarmac_fiber_t *tarmac_fiber_current(void);
/* Whether the fiber is suspended (resumable). */
bool tarmac_fiber_suspended(const tarmac_fiber_t *fiber);

/* A fiber local: `size` bytes of state each fiber has a copy of (zero at
 * creation), exchanged with the thread's at every switch by swap(saved),
 * which swaps the calling thread's value with *saved. Register before the
 * first fiber is created (a constructor of the owning module); returns 0,
 * or -1 when the table (TARMAC_FIBER_LOCALS_BYTES) is full. */
#define TARMAC_FIBER_LOCALS_MAX 16
#define TARMAC_FIBER_LOCALS_BYTES 256
int tarmac_fiber_local_register(void (*swap)(void *saved), size_t size);

/* Idle fibers kept for reuse, at most `max` live (idle or in use). */
typedef struct {
  tarmac_fiber_t *idle; /* linked through the fibers */
  unsigned idle_count, live, max;
  size_t stack_bytes;
} tarmac_fiber_pool_t;

void tarmac_fiber_pool_init(tarmac_fiber_pool_t *pool, unsigned max,
                            size_t stack_bytes);
/* An idle fiber of the pool; NULL when `max` are live or out of memory. */
tarmac_fiber_t *tarmac_fiber_pool_take(tarmac_fiber_pool_t *pool);
/* Gives back an idle fiber taken from the pool. */
void tarmac_fiber_pool_give(tarmac_fiber_pool_t *pool, tarmac_fiber_t *fiber);
/* Frees the idle fibers; the pool must have none in use. */
void tarmac_fiber_pool_dispose(tarmac_fiber_pool_t *pool);

#endif
