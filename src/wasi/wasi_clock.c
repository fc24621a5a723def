/* Clocks, sleeping (poll_oneoff) and sched_yield. */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "engine/instance_state.h"
#include "runtime/deadline.h"
#include "runtime/runtime.h"
#include "wasi/wasi_host.h"

#define NS_PER_S UINT64_C(1000000000)
#define WASI_CLOCK_COUNT 4

/* WASI clock ids: realtime, monotonic, process and thread CPU time. */
static const clockid_t posix_clocks[WASI_CLOCK_COUNT] = {
    CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_THREAD_CPUTIME_ID};

static uint64_t timespec_ns(const struct timespec *ts) {
  return (uint64_t)ts->tv_sec * NS_PER_S + (uint64_t)ts->tv_nsec;
}

/* The clocks above cannot fail on Linux; a failure would be a host bug. */
static uint64_t clock_now(clockid_t clock) {
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0)
    tarmac_rt_trap_detail_set(TARMAC_TRAP_HOST_FAULT,
                              "clock_gettime failed on the host");
  return timespec_ns(&ts);
}

static uint32_t wasi_clock_res_get(struct tarmac_instance *instance,
                                   uint32_t id, uint32_t resolution_ptr) {
  instance = tarmac_import_enter(instance);
  if (id >= WASI_CLOCK_COUNT) return WASI_EINVAL;
  struct timespec ts;
  if (clock_getres(posix_clocks[id], &ts) != 0) return WASI_EIO;
  wasi_guest_store_u64(instance, resolution_ptr, timespec_ns(&ts),
                       "clock_res_get resolution");
  return WASI_ESUCCESS;
}
WASI_EXPORT_SHARED(clock_res_get)

static uint32_t wasi_clock_time_get(struct tarmac_instance *instance,
                                    uint32_t id, uint64_t precision,
                                    uint32_t time_ptr) {
  instance = tarmac_import_enter(instance);
  if (id >= WASI_CLOCK_COUNT) return WASI_EINVAL;
  wasi_guest_store_u64(instance, time_ptr, clock_now(posix_clocks[id]),
                       "clock_time_get time");
  return WASI_ESUCCESS;
}
WASI_EXPORT_SHARED(clock_time_get)

static uint32_t wasi_sched_yield(struct tarmac_instance *instance) {
  tarmac_rt_check_host_stack();
  tarmac_rt_deadline_check(); /* a guest yielding in a loop is a runaway too */
  sched_yield();
  return WASI_ESUCCESS;
}
WASI_EXPORT_SHARED(sched_yield)

/* ---- poll_oneoff ------------------------------------------------------ */

/* Each clock read once per call, when a subscription first needs it, so
 * both passes over the subscriptions compute the same waits. */
typedef struct {
  uint64_t now[WASI_CLOCK_COUNT];
  bool have[WASI_CLOCK_COUNT];
} clock_readings_t;

/* Nanoseconds from the start of the call until a clock subscription is due
 * (0 when already due). False when its clock id is invalid. */
static bool clock_subscription_wait(const uint8_t *clock,
                                    clock_readings_t *readings,
                                    uint64_t *wait) {
  uint32_t id = wasi_load_u32(clock);
  uint64_t timeout = wasi_load_u64(clock + 8);
  uint16_t flags = (uint16_t)(clock[24] | clock[25] << 8);
  if (id >= WASI_CLOCK_COUNT) return false;
  if (!(flags & WASI_SUBCLOCKFLAGS_ABSTIME)) {
    *wait = timeout;
    return true;
  }
  if (!readings->have[id]) {
    readings->now[id] = clock_now(posix_clocks[id]);
    readings->have[id] = true;
  }
  *wait = timeout > readings->now[id] ? timeout - readings->now[id] : 0;
  return true;
}

/* Nanoseconds until a subscription is due: descriptors and invalid clocks
 * (an error event) are due at once. */
static uint64_t subscription_wait(const uint8_t *sub,
                                  const wasi_layout_t *layout,
                                  clock_readings_t *readings) {
  uint64_t wait = 0;
  if (sub[8] == WASI_EVENTTYPE_CLOCK &&
      !clock_subscription_wait(sub + layout->subscription_clock_at, readings,
                               &wait))
    return 0;
  return wait;
}

static bool event_type_known(uint8_t type) {
  return type == WASI_EVENTTYPE_CLOCK || type == WASI_EVENTTYPE_FD_READ ||
         type == WASI_EVENTTYPE_FD_WRITE;
}

/* Sleeps `ns` nanoseconds on the monotonic clock, through signals; the
 * call's deadline ends the sleep and traps (a guest may ask for forever). */
static void sleep_ns(uint64_t ns) {
  uint64_t now = clock_now(CLOCK_MONOTONIC);
  tarmac_rt_sleep_until(ns > UINT64_MAX - now ? UINT64_MAX : now + ns);
}

/* The fd_read/fd_write readiness of a standard descriptor: stdin is at end
 * of file (readable, hung up), stdout and stderr always take more. */
static void fd_event(uint8_t *event, uint8_t type, uint32_t fd) {
  bool readable = fd == WASI_FD_STDIN && type == WASI_EVENTTYPE_FD_READ;
  bool writable = (fd == WASI_FD_STDOUT || fd == WASI_FD_STDERR) &&
                  type == WASI_EVENTTYPE_FD_WRITE;
  if (readable) {
    wasi_put_u16(event + 24, WASI_EVENTRWFLAGS_HANGUP);
  } else if (writable) {
    wasi_put_u64(event + 16, 64 * 1024);
  } else {
    wasi_put_u16(event + 8, WASI_EBADF);
  }
}

/* Writes the event of subscription `sub` when it is due after `slept`
 * nanoseconds; returns whether it wrote one. */
static bool subscription_event(const uint8_t *sub, uint8_t *event,
                               const wasi_layout_t *layout,
                               clock_readings_t *readings, uint64_t slept) {
  uint8_t type = sub[8];
  uint64_t wait = 0;
  bool clock_ok = true;
  if (type == WASI_EVENTTYPE_CLOCK) {
    clock_ok = clock_subscription_wait(sub + layout->subscription_clock_at,
                                       readings, &wait);
    if (clock_ok && wait > slept) return false;
  }
  memset(event, 0, WASI_EVENT_SIZE);
  memcpy(event, sub, 8); /* userdata */
  event[10] = type;
  if (type != WASI_EVENTTYPE_CLOCK)
    fd_event(event, type, wasi_load_u32(sub + 16));
  else if (!clock_ok)
    wasi_put_u16(event + 8, WASI_EINVAL);
  return true;
}

/* Clock subscriptions of any clock (relative or absolute) become a sleep
 * until the earliest is due; descriptor subscriptions are ready at once.
 * Precision is ignored. An unknown event type fails the whole call. */
static uint32_t poll_oneoff(struct tarmac_instance *instance, uint32_t in,
                            uint32_t out, uint32_t nsubscriptions,
                            uint32_t nevents_ptr,
                            const wasi_layout_t *layout) {
  instance = tarmac_import_enter(instance);
  if (nsubscriptions == 0) return WASI_EINVAL;
  const uint8_t *subs =
      wasi_guest_array(instance, in, nsubscriptions, layout->subscription_size,
                       "poll_oneoff subscriptions");
  uint8_t *events = wasi_guest_array(instance, out, nsubscriptions,
                                     WASI_EVENT_SIZE, "poll_oneoff events");
  uint8_t *nevents = wasi_guest_range(instance, nevents_ptr, 4,
                                      "poll_oneoff nevents");
  clock_readings_t readings = {0};
  uint64_t earliest = UINT64_MAX;
  for (uint32_t i = 0; i < nsubscriptions; i++) {
    const uint8_t *sub = subs + (size_t)i * layout->subscription_size;
    if (!event_type_known(sub[8])) return WASI_EINVAL;
    uint64_t wait = subscription_wait(sub, layout, &readings);
    if (wait < earliest) earliest = wait;
  }
  if (earliest > 0) sleep_ns(earliest);
  uint32_t count = 0;
  for (uint32_t i = 0; i < nsubscriptions; i++) {
    const uint8_t *sub = subs + (size_t)i * layout->subscription_size;
    if (subscription_event(sub, events + (size_t)count * WASI_EVENT_SIZE,
                           layout, &readings, earliest))
      count++;
  }
  wasi_put_u32(nevents, count);
  return WASI_ESUCCESS;
}

static uint32_t wasi_poll_oneoff_preview1(struct tarmac_instance *instance,
                                          uint32_t in, uint32_t out,
                                          uint32_t nsubscriptions,
                                          uint32_t nevents_ptr) {
  return poll_oneoff(instance, in, out, nsubscriptions, nevents_ptr,
                     &wasi_layout_preview1);
}

static uint32_t wasi_poll_oneoff_unstable(struct tarmac_instance *instance,
                                          uint32_t in, uint32_t out,
                                          uint32_t nsubscriptions,
                                          uint32_t nevents_ptr) {
  return poll_oneoff(instance, in, out, nsubscriptions, nevents_ptr,
                     &wasi_layout_unstable);
}
WASI_EXPORT_SPLIT(poll_oneoff)
