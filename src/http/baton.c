/* Loop ownership hand-off without locks on the fast path. */
#include "http/baton.h"

void tarmac_baton_init(tarmac_baton_t *baton) {
  atomic_init(&baton->state, 0);
  baton->last_seen = 0;
}

uint64_t tarmac_baton_enter(tarmac_baton_t *baton) {
  uint64_t idle = atomic_load_explicit(&baton->state, memory_order_relaxed);
  uint64_t running = (idle | 1) + 2; /* next epoch, running bit set */
  atomic_store_explicit(&baton->state, running, memory_order_release);
  return running;
}

bool tarmac_baton_leave(tarmac_baton_t *baton, uint64_t token) {
  uint64_t expected = token;
  return atomic_compare_exchange_strong_explicit(
      &baton->state, &expected, token & ~(uint64_t)1, memory_order_acq_rel,
      memory_order_acquire);
}

bool tarmac_baton_release(tarmac_baton_t *baton, uint64_t token) {
  uint64_t expected = token;
  /* next epoch, idle, as a takeover: this handler's leave() will fail */
  return atomic_compare_exchange_strong_explicit(
      &baton->state, &expected, token + 1, memory_order_acq_rel,
      memory_order_acquire);
}

bool tarmac_baton_stalled(tarmac_baton_t *baton) {
  uint64_t now = atomic_load_explicit(&baton->state, memory_order_acquire);
  if ((now & 1) == 0) {
    baton->last_seen = 0;
    return false;
  }
  if (now != baton->last_seen) {
    baton->last_seen = now;
    return false;
  }
  return true;
}

bool tarmac_baton_take(tarmac_baton_t *baton) {
  uint64_t expected = baton->last_seen;
  baton->last_seen = 0;
  /* next epoch, idle: the stalled handler's leave() will fail */
  return atomic_compare_exchange_strong_explicit(
      &baton->state, &expected, expected + 1, memory_order_acq_rel,
      memory_order_acquire);
}
