/* http/baton: who may drive an event loop. Exactly one thread of a loop's
 * crew holds the baton and may touch the loop's protocol state. The holder
 * runs handlers inline; around each handler it marks the baton "in handler"
 * (one atomic store) and afterwards takes it back (one compare-and-swap).
 * A watchdog that sees the same handler still running on two consecutive
 * ticks takes the baton away and gives it to a spare thread; the slow
 * handler's thread then learns, when its handler returns, that it no longer
 * holds the loop. A handler about to block (util/blocking.h) gives the
 * baton up itself, the same way, without waiting for the watchdog. No lock and no system call on the fast path.
 *
 * State word: bit 0 = a handler is running; the other bits are an epoch
 * that changes at every handler start and every takeover, so a stale
 * observation can never take over a later handler. */
#ifndef TARMAC_HTTP_BATON_H
#define TARMAC_HTTP_BATON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
  _Atomic uint64_t state;
  uint64_t last_seen; /* watchdog's private memory of the last tick */
} tarmac_baton_t;

void tarmac_baton_init(tarmac_baton_t *baton);

/* Holder: a handler starts. Returns the token for tarmac_baton_leave. */
uint64_t tarmac_baton_enter(tarmac_baton_t *baton);

/* Holder: the handler returned. true = still the holder; false = the baton
 * was taken away meanwhile and this thread must not touch the loop. */
bool tarmac_baton_leave(tarmac_baton_t *baton, uint64_t token);

/* Holder, inside a handler that is about to wait on the outside world:
 * gives the baton up at once (the caller must give the loop to another
 * thread, as after a watchdog takeover). `token` is the handler's, from
 * tarmac_baton_enter. false when the watchdog took it first. */
bool tarmac_baton_release(tarmac_baton_t *baton, uint64_t token);

/* Watchdog tick: true when a handler has been running since the previous
 * tick (it is now marked as taken; the caller must give the loop to another
 * thread). */
bool tarmac_baton_stalled(tarmac_baton_t *baton);

/* Watchdog: performs the takeover of a stall found by
 * tarmac_baton_stalled. false when the handler finished in the meantime. */
bool tarmac_baton_take(tarmac_baton_t *baton);

#endif
