#include <errno.h>
#include <poll.h>
#include <stddef.h>

#include "util/blocking.h"
#include "util/clock.h"

/* Set once before the threads that read it start (pthread_create orders
 * the write before their reads); read-only afterwards. */
static tarmac_blocking_hooks_t hooks;
static _Thread_local unsigned depth;

void tarmac_blocking_set_hooks(const tarmac_blocking_hooks_t *h) {
  hooks = *h;
}

void tarmac_blocking_begin(void) {
  if (depth++ == 0 && hooks.begin != NULL) hooks.begin();
}

void tarmac_blocking_end(void) {
  if (depth > 0 && --depth == 0 && hooks.end != NULL) hooks.end();
}

/* One ppoll until `until_ns` or `cap_ns` from now, whichever is first.
 * 1 ready, 0 not yet, -1 failed (not EINTR). */
static int poll_once(int fd, short events, uint64_t until_ns,
                     uint64_t cap_ns) {
  uint64_t now = tarmac_clock_ns();
  if (now >= until_ns) return 0;
  uint64_t left = until_ns - now;
  if (left > cap_ns) left = cap_ns;
  struct timespec ts = {.tv_sec = (time_t)(left / 1000000000u),
                        .tv_nsec = (long)(left % 1000000000u)};
  struct pollfd p = {.fd = fd, .events = events};
  int rc = ppoll(&p, 1, &ts, NULL);
  if (rc > 0) return 1;
  return rc < 0 && errno != EINTR ? -1 : 0;
}

bool tarmac_blocking_poll(int fd, short events, uint64_t until_ns) {
  uint64_t brief_end = tarmac_clock_ns() + TARMAC_BLOCKING_BRIEF_NS;
  int rc = 0;
  while (rc == 0 && tarmac_clock_ns() < brief_end)
    rc = poll_once(fd, events, until_ns < brief_end ? until_ns : brief_end,
                   TARMAC_BLOCKING_BRIEF_NS);
  if (rc != 0) return rc > 0;
  if (tarmac_clock_ns() >= until_ns) return false;
  tarmac_blocking_begin();
  while (rc == 0 && tarmac_clock_ns() < until_ns)
    rc = poll_once(fd, events, until_ns, UINT64_MAX);
  tarmac_blocking_end();
  return rc > 0;
}
