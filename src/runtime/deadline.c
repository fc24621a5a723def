/* Deadlines for guest code (see deadline.h for the design). */
#include "runtime/deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "runtime/runtime.h"
#include "runtime/runtime_internal.h"
#include "util/blocking.h"

#define NS_PER_S UINT64_C(1000000000)
/* A thread past its deadline is signalled again this often until it
 * disarms: a signal that found it in host code set the flag, but host code
 * that returns straight into guest code (a libc routine) has no safe point,
 * so the next signal must find it in guest code. */
#define RESIGNAL_NS UINT64_C(1000000)
#define MAX_CODE_RANGES 4096u

/* ---- per-thread slots -------------------------------------------------- */

typedef struct deadline_slot {
  struct deadline_slot *next; /* g_slots; under g_lock; never freed */
  pthread_t thread;           /* the owner; under g_lock */
  bool in_use;                /* under g_lock */
  _Atomic uint64_t deadline;  /* CLOCK_MONOTONIC ns, 0 = none; owner writes */
  atomic_bool expired;        /* set by the owner's signal handler */
  atomic_bool signal_sent;    /* a signal is on its way: the watchdog sends
                                 no other, so real-time signals (which
                                 queue) never pile up for a thread that is
                                 not running */
} deadline_slot_t;

static _Thread_local deadline_slot_t *tls_slot;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* Guards the slot list and the watchdog's sleep. Taken by a thread's first
 * arm, its exit, a new shortest timeout, and the watchdog: never by an
 * ordinary arm or disarm. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake; /* CLOCK_MONOTONIC */
static deadline_slot_t *g_slots;
static bool g_watchdog_started;
static pthread_key_t g_slot_key;
static _Atomic uint64_t g_min_timeout = UINT64_MAX;
static uint64_t g_coarse_tick_ns;

/* ---- guest code ranges -------------------------------------------------- */

/* A range is published by storing end, then start; removed by clearing
 * start, then end. The handler reads start, end, start again and uses the
 * range only if both starts agree, so it never mixes two ranges. */
static atomic_bool g_code_claimed[MAX_CODE_RANGES];
static _Atomic uintptr_t g_code_start[MAX_CODE_RANGES];
static _Atomic uintptr_t g_code_end[MAX_CODE_RANGES];
static atomic_uint g_code_high_water;

int tarmac_rt_code_register(uintptr_t start, uintptr_t end) {
  for (unsigned i = 0; i < MAX_CODE_RANGES; i++) {
    bool expected = false;
    if (!atomic_compare_exchange_strong(&g_code_claimed[i], &expected, true))
      continue;
    atomic_store(&g_code_end[i], end);
    atomic_store(&g_code_start[i], start);
    unsigned hw = atomic_load(&g_code_high_water);
    while (hw < i + 1 &&
           !atomic_compare_exchange_weak(&g_code_high_water, &hw, i + 1)) {
    }
    return (int)i;
  }
  return -1;
}

void tarmac_rt_code_unregister(int id) {
  if (id < 0 || (unsigned)id >= MAX_CODE_RANGES) return;
  atomic_store(&g_code_start[id], 0);
  atomic_store(&g_code_end[id], 0);
  atomic_store(&g_code_claimed[id], false);
}

static bool pc_in_guest_code(uintptr_t pc) {
  unsigned n = atomic_load(&g_code_high_water);
  for (unsigned i = 0; i < n; i++) {
    uintptr_t start = atomic_load(&g_code_start[i]);
    if (!start) continue;
    uintptr_t end = atomic_load(&g_code_end[i]);
    if (atomic_load(&g_code_start[i]) == start && pc >= start && pc < end)
      return true;
  }
  return false;
}

static uintptr_t interrupted_pc(const void *context) {
  const ucontext_t *uc = context;
#if defined(__x86_64__)
  return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uintptr_t)uc->uc_mcontext.pc;
#else
#error "deadlines need the interrupted PC from ucontext_t on this architecture"
#endif
}

/* ---- clocks ------------------------------------------------------------- */

static uint64_t clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts); /* cannot fail for these clocks on Linux */
  return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t add_saturating(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static struct timespec to_timespec(uint64_t ns) {
  /* far futures are capped at ~292 years: time_t is 64-bit on Linux */
  if (ns > (uint64_t)INT64_MAX) ns = (uint64_t)INT64_MAX;
  return (struct timespec){.tv_sec = (time_t)(ns / NS_PER_S),
                           .tv_nsec = (long)(ns % NS_PER_S)};
}

/* ---- the signal --------------------------------------------------------- */

static void on_deadline_signal(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)info;
  int saved_errno = errno;
  deadline_slot_t *slot = tls_slot;
  if (slot) atomic_store(&slot->signal_sent, false);
  uint64_t deadline = slot ? atomic_load(&slot->deadline) : 0;
  /* stale: sent before a disarm, or for an earlier deadline */
  if (deadline != 0 && clock_ns(CLOCK_MONOTONIC) >= deadline) {
    atomic_store(&slot->expired, true);
    if (tarmac_rt_in_protected_call() &&
        pc_in_guest_code(interrupted_pc(context))) {
      errno = saved_errno;
      /* the signal is blocked while its handler runs, and the jump does
       * not restore the mask (no system call per protected call) */
      sigset_t mine;
      sigemptyset(&mine);
      sigaddset(&mine, TARMAC_RT_DEADLINE_SIGNAL);
      pthread_sigmask(SIG_UNBLOCK, &mine, NULL);
      wasm_rt_trap((wasm_rt_trap_t)TARMAC_TRAP_DEADLINE);
    }
  }
  errno = saved_errno;
}

static void die(const char *what, int error) {
  fprintf(stderr, "tarmac: %s: %s\n", what, strerror(error));
  abort();
}

static void release_slot(void *arg) {
  deadline_slot_t *slot = arg;
  pthread_mutex_lock(&g_lock);
  atomic_store(&slot->deadline, 0);
  slot->in_use = false;
  pthread_mutex_unlock(&g_lock);
  tls_slot = NULL;
}

static void init_deadlines(void) {
  struct timespec res;
  g_coarse_tick_ns = clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0
                         ? (uint64_t)res.tv_sec * NS_PER_S +
                               (uint64_t)res.tv_nsec
                         : NS_PER_S / 100;
  pthread_condattr_t attr;
  int rc = pthread_condattr_init(&attr);
  if (rc == 0) rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&g_wake, &attr);
  if (rc != 0) die("cannot set up the deadline watchdog", rc);
  pthread_condattr_destroy(&attr);
  rc = pthread_key_create(&g_slot_key, release_slot);
  if (rc != 0) die("cannot create a thread key", rc);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_deadline_signal;
  /* No SA_NODEFER (unlike faults): blocked while the handler runs, the
   * signal cannot nest however many arrive (real-time signals queue), so
   * the handler unblocks it itself before it jumps out. SA_RESTART: host
   * system calls a signal interrupts go on (waits on a guest's behalf are
   * bounded by the deadline themselves). */
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&action.sa_mask);
  if (sigaction(TARMAC_RT_DEADLINE_SIGNAL, &action, NULL) != 0)
    die("cannot install the deadline signal handler", errno);
}

/* ---- the watchdog ------------------------------------------------------- */

/* Signals every thread past its deadline; returns when to look next: the
 * earliest armed deadline, RESIGNAL_NS for threads already signalled, and
 * never later than the shortest timeout ever armed from now. Under g_lock,
 * so no slot's thread can exit while it is signalled. */
static uint64_t watchdog_scan(uint64_t now) {
  uint64_t wake = add_saturating(now, atomic_load(&g_min_timeout));
  for (deadline_slot_t *slot = g_slots; slot; slot = slot->next) {
    uint64_t deadline = slot->in_use ? atomic_load(&slot->deadline) : 0;
    if (deadline == 0) continue;
    if (deadline <= now) {
      if (!atomic_exchange(&slot->signal_sent, true) &&
          pthread_kill(slot->thread, TARMAC_RT_DEADLINE_SIGNAL) != 0)
        atomic_store(&slot->signal_sent, false);
      deadline = now + RESIGNAL_NS;
    }
    if (deadline < wake) wake = deadline;
  }
  return wake;
}

static void *watchdog_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_lock);
  for (;;) {
    struct timespec until =
        to_timespec(watchdog_scan(clock_ns(CLOCK_MONOTONIC)));
    pthread_cond_timedwait(&g_wake, &g_lock, &until);
  }
  return NULL;
}

/* Under g_lock. The watchdog blocks every signal: it must never run a
 * guest's handler or take the server's SIGTERM. */
static void start_watchdog(void) {
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_attr_t attr;
  pthread_t thread;
  int rc = pthread_attr_init(&attr);
  if (rc == 0) rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (rc == 0) rc = pthread_create(&thread, &attr, watchdog_main, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  if (rc != 0) die("cannot start the deadline watchdog", rc);
  g_watchdog_started = true;
}

/* Under g_lock: a free slot, or a new one. */
static deadline_slot_t *claim_slot(void) {
  for (deadline_slot_t *slot = g_slots; slot; slot = slot->next)
    if (!slot->in_use) return slot;
  deadline_slot_t *slot = calloc(1, sizeof *slot);
  if (!slot) die("cannot allocate a deadline slot", ENOMEM);
  slot->next = g_slots;
  g_slots = slot;
  return slot;
}

/* A thread's first arm: its slot, its signal unblocked, the watchdog. */
static deadline_slot_t *register_thread(void) {
  tarmac_rt_thread_setup();
  pthread_once(&g_once, init_deadlines);
  sigset_t mine;
  sigemptyset(&mine);
  sigaddset(&mine, TARMAC_RT_DEADLINE_SIGNAL);
  pthread_sigmask(SIG_UNBLOCK, &mine, NULL);
  pthread_mutex_lock(&g_lock);
  deadline_slot_t *slot = claim_slot();
  slot->thread = pthread_self();
  slot->in_use = true;
  atomic_store(&slot->deadline, 0);
  atomic_store(&slot->expired, false);
  atomic_store(&slot->signal_sent, false);
  if (!g_watchdog_started) start_watchdog();
  pthread_mutex_unlock(&g_lock);
  int rc = pthread_setspecific(g_slot_key, slot);
  if (rc != 0) die("cannot register a deadline slot", rc);
  tls_slot = slot;
  return slot;
}

/* A timeout shorter than any before: the watchdog may be asleep for longer
 * than it, so wake it to shorten its sleeps from now on. */
static void lower_min_timeout(uint64_t timeout_ns) {
  uint64_t min = atomic_load(&g_min_timeout);
  while (timeout_ns < min &&
         !atomic_compare_exchange_weak(&g_min_timeout, &min, timeout_ns)) {
  }
  pthread_mutex_lock(&g_lock);
  pthread_cond_signal(&g_wake);
  pthread_mutex_unlock(&g_lock);
}

/* ---- arming ------------------------------------------------------------- */

uint64_t tarmac_rt_deadline_arm(uint64_t timeout_ns) {
  deadline_slot_t *slot = tls_slot;
  if (UNLIKELY(!slot)) slot = register_thread();
  if (UNLIKELY(timeout_ns < atomic_load_explicit(&g_min_timeout,
                                                 memory_order_relaxed)))
    lower_min_timeout(timeout_ns);
  uint64_t previous = atomic_load_explicit(&slot->deadline,
                                           memory_order_relaxed);
  /* the coarse clock lags the precise one by up to a tick (more only
   * when ticks run late): add one so the deadline is not early, and the
   * watchdog's sleep bound holds (docs/architecture.md, "Deadlines") */
  uint64_t deadline = add_saturating(
      clock_ns(CLOCK_MONOTONIC_COARSE) + g_coarse_tick_ns, timeout_ns);
  if (previous != 0 && previous < deadline) deadline = previous;
  atomic_store_explicit(&slot->deadline, deadline, memory_order_release);
  return previous;
}

void tarmac_rt_deadline_restore(uint64_t saved) {
  deadline_slot_t *slot = tls_slot;
  if (!slot) return;
  atomic_store_explicit(&slot->deadline, saved, memory_order_release);
  /* Back in an outer call (a nested guest call returned) whose deadline
   * has passed too: its next safe point traps at once instead of after
   * the watchdog's next signal. Only nested restores read the clock. */
  bool passed = saved != 0 && clock_ns(CLOCK_MONOTONIC) >= saved;
  atomic_store_explicit(&slot->expired, passed, memory_order_relaxed);
}

void tarmac_rt_deadline_swap(tarmac_rt_deadline_state_t *state) {
  deadline_slot_t *slot = tls_slot;
  if (UNLIKELY(!slot)) slot = register_thread();
  uint64_t deadline = atomic_exchange(&slot->deadline, state->deadline);
  /* an expiry is only ever for the deadline it was found for: a signal
   * lost in between is sent again within a millisecond (RESIGNAL_NS) */
  bool expired = atomic_exchange(&slot->expired,
                                 state->expired && state->deadline != 0);
  state->deadline = deadline;
  state->expired = expired && deadline != 0;
}

uint64_t tarmac_rt_deadline(void) {
  return tls_slot ? atomic_load(&tls_slot->deadline) : 0;
}

bool tarmac_rt_deadline_expired(void) {
  deadline_slot_t *slot = tls_slot;
  if (!slot) return false;
  uint64_t deadline = atomic_load(&slot->deadline);
  return deadline != 0 && (atomic_load(&slot->expired) ||
                           clock_ns(CLOCK_MONOTONIC) >= deadline);
}

void tarmac_rt_deadline_check(void) {
  deadline_slot_t *slot = tls_slot;
  if (UNLIKELY(slot && atomic_load_explicit(&slot->expired,
                                            memory_order_relaxed)))
    tarmac_rt_trap_detail_set(TARMAC_TRAP_DEADLINE, "");
}

uint64_t tarmac_rt_deadline_bound(uint64_t until_ns) {
  uint64_t deadline = tarmac_rt_deadline();
  return deadline != 0 && deadline < until_ns ? deadline : until_ns;
}

void tarmac_rt_sleep_until(uint64_t until_ns) {
  /* a sleeping guest must not hold its event loop: it sleeps suspended
   * on its fiber, or with the loop handed on (util/blocking.h) */
  tarmac_blocking_wait(-1, 0, tarmac_rt_deadline_bound(until_ns));
  if (tarmac_rt_deadline_expired())
    tarmac_rt_trap_detail_set(TARMAC_TRAP_DEADLINE, "");
}
