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
 * A store that shares one connection between the guests of an event loop
 * (kvstore/redis.c) also needs the loop itself: its domain (which loop
 * runs the caller), a watch (a callback run by the loop's driver while an
 * fd is ready), a deferred task (run once by the driver after the guests
 * of its current pass ran, so their commands leave in one write) and a
 * parking (a guest waits until the driver hands it its reply). Off an
 * event loop's fiber there is no domain: the store uses its other path.
 *
 * Owns: the process's hooks (installed once at start-up, before any thread
 * that may block runs; never changed after) and a per-thread nesting
 * count (per fiber: tarmac_blocking_swap_depth). Watches, tasks and
 * parkings are the caller's memory; the hooks only link them. */
#ifndef TARMAC_UTIL_BLOCKING_H
#define TARMAC_UTIL_BLOCKING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* What a wait hook answers when it does not take the wait: the caller
 * waits on its thread, bracketed by begin/end. */
#define TARMAC_BLOCKING_UNHANDLED (-2)

/* A watch of an fd by a domain's driver (caller-owned; linked while
 * watched). `ready` runs on the driver, outside any guest, with the poll
 * events that happened (POLLIN, POLLOUT, POLLERR, POLLHUP), as long as
 * they last (level-triggered). */
typedef struct tarmac_blocking_watch tarmac_blocking_watch_t;
struct tarmac_blocking_watch {
  void (*ready)(tarmac_blocking_watch_t *self, uint32_t events);
  /* the hook's: room for its registration (the HTTP layer's wait source) */
  union {
    void *p;
    void (*f)(void);
  } hook[2];
};

/* A task run once on a domain's driver (caller-owned; `queued` and `next`
 * are the hook's, under its lock). */
typedef struct tarmac_blocking_task tarmac_blocking_task_t;
struct tarmac_blocking_task {
  void (*run)(tarmac_blocking_task_t *self);
  tarmac_blocking_task_t *next;
  bool queued;
};

/* Where one guest waits for another party (the driver) to hand it a
 * result: on a fiber it is suspended, elsewhere it waits on `cond`.
 * Caller-owned, on the waiter's stack: init before the party can see it,
 * destroy once the party let go of it. */
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;    /* unparked */
  void *waiter; /* the hook's: the suspended guest, or NULL */
} tarmac_blocking_parking_t;

typedef struct {
  void (*begin)(void); /* the calling thread is about to block */
  void (*end)(void);   /* it is back */
  /* Waits as tarmac_blocking_wait does, or answers
   * TARMAC_BLOCKING_UNHANDLED (NULL: never takes a wait). */
  int (*wait)(int fd, short events, uint64_t until_ns);
  /* The domain of the calling guest, or NULL (see tarmac_blocking_domain) */
  void *(*domain)(unsigned *index);
  /* Watch/unwatch fd in a domain (see tarmac_blocking_watch). */
  int (*watch)(void *domain, int fd, uint32_t events,
               tarmac_blocking_watch_t *w);
  void (*unwatch)(void *domain, int fd);
  /* Queues a task on the domain's driver (see tarmac_blocking_defer). */
  void (*defer)(void *domain, tarmac_blocking_task_t *task);
  /* Parks the calling guest as tarmac_blocking_park does: it sets
   * p->waiter (under p->lock) while it is suspended; or answers
   * TARMAC_BLOCKING_UNHANDLED. */
  int (*park)(tarmac_blocking_parking_t *p, uint64_t until_ns);
  /* Resumes p->waiter (under p->lock), or answers false when it cannot
   * (the guest is not suspended: it finds p->done itself). */
  bool (*unpark)(void *waiter);
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

/* The event loop whose fiber runs the caller while the caller still holds
 * that loop (an opaque id), with its small stable number in *index (loops
 * are numbered from 0): a store may keep per-loop state in an array. NULL
 * anywhere else (no hooks, a thread that drives no loop, a guest whose
 * loop was handed on). */
void *tarmac_blocking_domain(unsigned *index);

/* Watches fd on the domain's driver for `events` (POLLIN, POLLOUT; a second
 * call with the same fd and watch changes the events): w->ready runs while
 * they last. 0, or -1 with errno. Any thread. */
int tarmac_blocking_watch(void *domain, int fd, uint32_t events,
                          tarmac_blocking_watch_t *w);
/* Stops watching fd. From the domain's driver (closing the fd also stops
 * it: the kernel drops a closed fd from the set). */
void tarmac_blocking_unwatch(void *domain, int fd);

/* Queues the task (if not queued already) to run once on the domain's
 * driver after the guests of its current pass have run. false without
 * hooks (the caller does the work itself). Any thread. */
bool tarmac_blocking_defer(void *domain, tarmac_blocking_task_t *task);

void tarmac_blocking_parking_init(tarmac_blocking_parking_t *p);
void tarmac_blocking_parking_destroy(tarmac_blocking_parking_t *p);
/* Waits until unparked or until_ns (CLOCK_MONOTONIC; the caller bounds it
 * by the guest's deadline): a guest on a fiber that holds its loop is
 * suspended; otherwise the thread waits on p->cond, bracketed by
 * tarmac_blocking_begin/end. 1: unparked; 0: the time came first. */
int tarmac_blocking_park(tarmac_blocking_parking_t *p, uint64_t until_ns);
/* Unparks p (once). From a domain's driver when the waiter may be a
 * suspended guest (only the driver may resume it); any thread otherwise.
 * p may be gone as soon as this returns. */
void tarmac_blocking_unpark(tarmac_blocking_parking_t *p);

#endif
