/* WASI clocks and poll_oneoff: the four clocks and invalid ids, sleeping
 * on relative and absolute clock subscriptions in both snapshots' layouts,
 * descriptor subscriptions, error events, and bad arguments. */
#include <time.h>

#include "wasi_test.h"

#define MS UINT64_C(1000000)
#define SUBS 1024    /* subscriptions start here */
#define EVENTS 4096  /* events start here */
#define NEVENTS 8000 /* the event count goes here */

static uint64_t host_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_clocks(wasi_fixture_t *f) {
  uint32_t r;
  uint64_t before = host_ns(CLOCK_REALTIME);
  CHECK_EQ_INT(CALL(f, P1(clock_time_get), "iIi:i", &r, 0, 1, 64), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
  uint64_t realtime = peek_u64(f, 64);
  CHECK(realtime >= before && realtime <= host_ns(CLOCK_REALTIME));
  for (uint32_t id = 1; id < 4; id++) {
    CHECK_EQ_INT(CALL(f, U0(clock_time_get), "iIi:i", &r, id, 0, 64), 0);
    CHECK_EQ_INT(r, WASI_ESUCCESS);
    uint64_t first = peek_u64(f, 64);
    CALL(f, U0(clock_time_get), "iIi:i", &r, id, 0, 64);
    CHECK(peek_u64(f, 64) >= first);
    poke_u64(f, 72, 0);
    CHECK_EQ_INT(CALL(f, P1(clock_res_get), "ii:i", &r, id, 72), 0);
    CHECK_EQ_INT(r, WASI_ESUCCESS);
    CHECK(peek_u64(f, 72) > 0);
  }
  poke_u64(f, 64, 5);
  CHECK_EQ_INT(CALL(f, P1(clock_time_get), "iIi:i", &r, 4, 0, 64), 0);
  CHECK_EQ_INT(r, WASI_EINVAL);
  CHECK_EQ_INT(peek_u64(f, 64), 5);
  CHECK_EQ_INT(CALL(f, P1(clock_res_get), "ii:i", &r, 99, 64), 0);
  CHECK_EQ_INT(r, WASI_EINVAL);
  CHECK_EQ_INT(CALL(f, P1(clock_time_get), "iIi:i", &r, 1, 0,
                    f->memory.size - 4),
               WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(CALL(f, U0(clock_res_get), "ii:i", &r, 1, f->memory.size),
               WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(CALL(f, P1(sched_yield), ":i", &r), 0);
  CHECK_EQ_INT(r, WASI_ESUCCESS);
}

/* Writes subscription i (userdata 100 + i) in the given layout. */
static void clock_sub(wasi_fixture_t *f, const wasi_layout_t *layout,
                      uint32_t i, uint32_t clock, uint64_t timeout,
                      uint16_t flags) {
  uint32_t at = SUBS + i * layout->subscription_size;
  memset(f->memory.data + at, 0, layout->subscription_size);
  poke_u64(f, at, 100 + i);
  f->memory.data[at + 8] = WASI_EVENTTYPE_CLOCK;
  uint32_t c = at + layout->subscription_clock_at;
  poke_u32(f, c, clock);
  poke_u64(f, c + 8, timeout);
  poke_u64(f, c + 16, 1000); /* precision */
  f->memory.data[c + 24] = (uint8_t)flags;
}

static void fd_sub(wasi_fixture_t *f, const wasi_layout_t *layout, uint32_t i,
                   uint8_t type, uint32_t fd) {
  uint32_t at = SUBS + i * layout->subscription_size;
  memset(f->memory.data + at, 0, layout->subscription_size);
  poke_u64(f, at, 100 + i);
  f->memory.data[at + 8] = type;
  poke_u32(f, at + 16, fd);
}

/* poll_oneoff through the module of `layout`; returns the errno, sets
 * *elapsed_ms. */
static uint32_t poll(wasi_fixture_t *f, const wasi_layout_t *layout,
                     uint32_t n, uint64_t *elapsed_ms) {
  void *fn = layout == &wasi_layout_preview1 ? P1(poll_oneoff)
                                             : U0(poll_oneoff);
  uint32_t r;
  uint64_t start = host_ns(CLOCK_MONOTONIC);
  int trap = CALL(f, fn, "iiii:i", &r, SUBS, EVENTS, n, NEVENTS);
  CHECK_EQ_INT(trap, WASM_RT_TRAP_NONE);
  *elapsed_ms = (host_ns(CLOCK_MONOTONIC) - start) / MS;
  return r;
}

static uint32_t event_at(uint32_t i) { return EVENTS + i * WASI_EVENT_SIZE; }

static void test_sleep(wasi_fixture_t *f, const wasi_layout_t *layout) {
  uint64_t ms;
  /* relative 30 ms on the monotonic clock, and a later one that must not
   * fire */
  clock_sub(f, layout, 0, 1, 5000 * MS, 0);
  clock_sub(f, layout, 1, 1, 30 * MS, 0);
  CHECK_EQ_INT(poll(f, layout, 2, &ms), WASI_ESUCCESS);
  CHECK(ms >= 30 && ms < 2000);
  CHECK_EQ_INT(peek_u32(f, NEVENTS), 1);
  CHECK_EQ_INT(peek_u64(f, event_at(0)), 101);
  CHECK_EQ_INT(peek_u16(f, event_at(0) + 8), 0);
  CHECK_EQ_INT(f->memory.data[event_at(0) + 10], WASI_EVENTTYPE_CLOCK);

  /* absolute realtime 20 ms from now */
  clock_sub(f, layout, 0, 0, host_ns(CLOCK_REALTIME) + 20 * MS,
            WASI_SUBCLOCKFLAGS_ABSTIME);
  CHECK_EQ_INT(poll(f, layout, 1, &ms), WASI_ESUCCESS);
  CHECK(ms >= 19 && ms < 2000);
  CHECK_EQ_INT(peek_u32(f, NEVENTS), 1);

  /* absolute in the past, and an invalid clock: both at once */
  clock_sub(f, layout, 0, 1, 1, WASI_SUBCLOCKFLAGS_ABSTIME);
  clock_sub(f, layout, 1, 9, 10 * MS, 0);
  clock_sub(f, layout, 2, 1, 5000 * MS, 0);
  CHECK_EQ_INT(poll(f, layout, 3, &ms), WASI_ESUCCESS);
  CHECK(ms < 1000);
  CHECK_EQ_INT(peek_u32(f, NEVENTS), 2);
  CHECK_EQ_INT(peek_u64(f, event_at(0)), 100);
  CHECK_EQ_INT(peek_u16(f, event_at(0) + 8), 0);
  CHECK_EQ_INT(peek_u64(f, event_at(1)), 101);
  CHECK_EQ_INT(peek_u16(f, event_at(1) + 8), WASI_EINVAL);
}

/* Descriptors are ready at once; a clock does not hold them back. */
static void test_fd_subscriptions(wasi_fixture_t *f,
                                  const wasi_layout_t *layout) {
  uint64_t ms;
  clock_sub(f, layout, 0, 1, 5000 * MS, 0);
  fd_sub(f, layout, 1, WASI_EVENTTYPE_FD_WRITE, 1);
  fd_sub(f, layout, 2, WASI_EVENTTYPE_FD_READ, 0);
  fd_sub(f, layout, 3, WASI_EVENTTYPE_FD_READ, 7);
  fd_sub(f, layout, 4, WASI_EVENTTYPE_FD_WRITE, 0);
  CHECK_EQ_INT(poll(f, layout, 5, &ms), WASI_ESUCCESS);
  CHECK(ms < 1000);
  CHECK_EQ_INT(peek_u32(f, NEVENTS), 4);
  CHECK_EQ_INT(peek_u64(f, event_at(0)), 101);
  CHECK_EQ_INT(f->memory.data[event_at(0) + 10], WASI_EVENTTYPE_FD_WRITE);
  CHECK_EQ_INT(peek_u16(f, event_at(0) + 8), 0);
  CHECK(peek_u64(f, event_at(0) + 16) > 0);
  CHECK_EQ_INT(peek_u64(f, event_at(1)), 102);
  CHECK_EQ_INT(peek_u16(f, event_at(1) + 8), 0);
  CHECK_EQ_INT(peek_u16(f, event_at(1) + 24), WASI_EVENTRWFLAGS_HANGUP);
  CHECK_EQ_INT(peek_u16(f, event_at(2) + 8), WASI_EBADF);
  CHECK_EQ_INT(peek_u16(f, event_at(3) + 8), WASI_EBADF);
}

/* Snapshot 0's subscription_clock starts with a u64 identifier: an
 * identifier of 7 must not be taken for the clock id. */
static void test_unstable_identifier(wasi_fixture_t *f) {
  uint64_t ms;
  clock_sub(f, &wasi_layout_unstable, 0, 1, 1 * MS, 0);
  poke_u64(f, SUBS + 16, 7);
  CHECK_EQ_INT(poll(f, &wasi_layout_unstable, 1, &ms), WASI_ESUCCESS);
  CHECK_EQ_INT(peek_u32(f, NEVENTS), 1);
  CHECK_EQ_INT(peek_u16(f, event_at(0) + 8), 0);
}

static void test_poll_errors(wasi_fixture_t *f) {
  uint64_t ms;
  uint32_t r;
  CHECK_EQ_INT(poll(f, &wasi_layout_preview1, 0, &ms), WASI_EINVAL);
  fd_sub(f, &wasi_layout_preview1, 0, 3, 1); /* unknown event type */
  CHECK_EQ_INT(poll(f, &wasi_layout_preview1, 1, &ms), WASI_EINVAL);
  uint32_t end = f->memory.size;
  CHECK_EQ_INT(CALL(f, P1(poll_oneoff), "iiii:i", &r, end - 40, EVENTS, 1,
                    NEVENTS),
               WASM_RT_TRAP_OOB);
  CHECK(strstr(tarmac_rt_trap_detail(), "poll_oneoff subscriptions"));
  CHECK_EQ_INT(CALL(f, U0(poll_oneoff), "iiii:i", &r, end - 56, EVENTS, 1,
                    NEVENTS),
               WASM_RT_TRAP_NONE);
  CHECK_EQ_INT(CALL(f, P1(poll_oneoff), "iiii:i", &r, SUBS, end - 16, 1,
                    NEVENTS),
               WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(CALL(f, P1(poll_oneoff), "iiii:i", &r, SUBS, EVENTS, 1, end),
               WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(CALL(f, P1(poll_oneoff), "iiii:i", &r, SUBS, EVENTS,
                    0x10000000u, NEVENTS),
               WASM_RT_TRAP_OOB);
}

int main(void) {
  wasi_fixture_t f;
  fixture_init(&f, 1);
  test_clocks(&f);
  test_sleep(&f, &wasi_layout_preview1);
  test_sleep(&f, &wasi_layout_unstable);
  test_fd_subscriptions(&f, &wasi_layout_preview1);
  test_fd_subscriptions(&f, &wasi_layout_unstable);
  test_unstable_identifier(&f);
  test_poll_errors(&f);
  fixture_free(&f);
  TEST_EXIT();
}
