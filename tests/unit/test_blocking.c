/* Unit tests of src/util/blocking: no-ops without hooks, only the
 * outermost of nested pairs calls the hooks, an unpaired end is ignored,
 * the nesting count is per thread; the wait entry point (a hook that takes
 * the wait, a bracketed poll otherwise); and the HTTP layer's hooks do nothing
 * on a thread that drives no event loop. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "http/loop.h"
#include "test.h"
#include "util/blocking.h"
#include "util/clock.h"

static atomic_int begins, ends;

static void count_begin(void) { atomic_fetch_add(&begins, 1); }
static void count_end(void) { atomic_fetch_add(&ends, 1); }

static void test_nesting(void) {
  tarmac_blocking_begin(); /* no hooks yet: nothing happens */
  tarmac_blocking_end();
  tarmac_blocking_hooks_t hooks = {.begin = count_begin, .end = count_end};
  tarmac_blocking_set_hooks(&hooks);
  tarmac_blocking_begin();
  CHECK_EQ_INT(atomic_load(&begins), 1);
  tarmac_blocking_begin(); /* nested: the outer pair counts */
  tarmac_blocking_begin();
  CHECK_EQ_INT(atomic_load(&begins), 1);
  tarmac_blocking_end();
  tarmac_blocking_end();
  CHECK_EQ_INT(atomic_load(&ends), 0);
  tarmac_blocking_end();
  CHECK_EQ_INT(atomic_load(&ends), 1);
  tarmac_blocking_end(); /* unpaired: ignored, no underflow */
  CHECK_EQ_INT(atomic_load(&ends), 1);
  tarmac_blocking_begin(); /* and the next pair counts again */
  tarmac_blocking_end();
  CHECK_EQ_INT(atomic_load(&begins), 2);
  CHECK_EQ_INT(atomic_load(&ends), 2);
}

static void *begin_on_thread(void *arg) {
  (void)arg;
  tarmac_blocking_begin();
  tarmac_blocking_end();
  return NULL;
}

/* A thread's depth is its own: another thread inside a wait does not hide
 * this thread's outermost begin. */
static void test_per_thread(void) {
  int before = atomic_load(&begins);
  tarmac_blocking_begin();
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, begin_on_thread, NULL), 0);
  pthread_join(t, NULL);
  tarmac_blocking_end();
  CHECK_EQ_INT(atomic_load(&begins), before + 2);
}

/* The HTTP hooks on a thread outside any handler (scheduler, init jobs,
 * tarmac call): no loop to hand on, nothing happens, nested or not. */
static void test_http_hooks_off_loop(void) {
  tarmac_http_crew_install_hooks();
  tarmac_http_crew_install_hooks(); /* once: the second does nothing */
  int before = atomic_load(&begins);
  tarmac_blocking_begin();
  tarmac_blocking_begin();
  tarmac_blocking_end();
  tarmac_blocking_end();
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, begin_on_thread, NULL), 0);
  pthread_join(t, NULL);
  CHECK_EQ_INT(atomic_load(&begins), before); /* replaced the counters */
}

static int handled_wait(int fd, short events, uint64_t until_ns) {
  (void)events;
  (void)until_ns;
  return fd == 42 ? 7 : TARMAC_BLOCKING_UNHANDLED;
}

/* tarmac_blocking_wait: a hook that takes the wait answers it (no begin);
 * one that does not leaves it to a poll bracketed by begin/end, which
 * reports a ready fd or the time running out. */
static void test_wait(void) {
  tarmac_blocking_hooks_t hooks = {.begin = count_begin, .end = count_end,
                                   .wait = handled_wait};
  tarmac_blocking_set_hooks(&hooks);
  int before = atomic_load(&begins);
  CHECK_EQ_INT(tarmac_blocking_wait(42, POLLIN, 0), 7);
  CHECK_EQ_INT(atomic_load(&begins), before);
  int fds[2];
  CHECK_EQ_INT(pipe(fds), 0);
  uint64_t now = tarmac_clock_ns();
  CHECK_EQ_INT(tarmac_blocking_wait(fds[0], POLLIN, now + 20000000u), 0);
  CHECK(tarmac_clock_ns() >= now + 20000000u);
  CHECK_EQ_INT(atomic_load(&begins), before + 1);
  CHECK_EQ_INT(atomic_load(&ends), atomic_load(&begins));
  CHECK_EQ_INT(write(fds[1], "x", 1), 1);
  CHECK(tarmac_blocking_wait(fds[0], POLLIN, tarmac_clock_ns() + 10000000000u) &
        POLLIN);
  close(fds[0]);
  close(fds[1]);
}

int main(void) {
  test_nesting();
  test_per_thread();
  test_wait();
  test_http_hooks_off_loop();
  TEST_EXIT();
}
