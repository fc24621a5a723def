/* The current generation and its reference counts. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "server/current.h"
#include "util/clock.h"

struct tarmac_current_slot {
  /* alone on its cache line: every request of every thread touches it */
  _Alignas(64) atomic_long refs;
  void *payload;
  struct tarmac_current_slot *older; /* every slot, for freeing */
  struct tarmac_current_slot *next_free; /* while recycled */
};

struct tarmac_current {
  _Atomic(tarmac_current_slot_t *) slot;
  tarmac_current_slot_t *newest; /* head of the slot list */
  tarmac_current_slot_t *free;   /* recycled slots (reload thread) */
  size_t slot_count;
};

static tarmac_current_slot_t *slot_new(void *payload,
                                       tarmac_current_slot_t *older) {
  tarmac_current_slot_t *s = aligned_alloc(64, sizeof(*s));
  if (s == NULL) return NULL;
  atomic_init(&s->refs, 0);
  s->payload = payload;
  s->older = older;
  s->next_free = NULL;
  return s;
}

tarmac_current_t *tarmac_current_new(void *first) {
  tarmac_current_t *c = calloc(1, sizeof(*c));
  if (c == NULL) return NULL;
  c->newest = slot_new(first, NULL);
  if (c->newest == NULL) {
    free(c);
    return NULL;
  }
  c->slot_count = 1;
  atomic_init(&c->slot, c->newest);
  return c;
}

void tarmac_current_free(tarmac_current_t *current) {
  if (current == NULL) return;
  for (tarmac_current_slot_t *s = current->newest, *older; s; s = older) {
    older = s->older;
    free(s);
  }
  free(current);
}

void *tarmac_current_acquire(tarmac_current_t *current,
                             tarmac_current_slot_t **slot) {
  for (;;) {
    tarmac_current_slot_t *s = atomic_load(&current->slot);
    atomic_fetch_add(&s->refs, 1);
    /* counted in while it was still current: the publisher's wait sees
     * this reference before it frees the payload */
    if (atomic_load(&current->slot) == s) {
      *slot = s;
      return s->payload;
    }
    atomic_fetch_sub(&s->refs, 1);
  }
}

void tarmac_current_release(tarmac_current_slot_t *slot) {
  atomic_fetch_sub_explicit(&slot->refs, 1, memory_order_release);
}

/* A recycled slot's count is left as it is: a stale request may be
 * between its increment and its check, and balances its own change. The
 * payload is stored before the slot is made current (the exchange
 * orders it), and only a request that then sees the slot current reads
 * it. */
static tarmac_current_slot_t *take_slot(tarmac_current_t *current,
                                        void *payload) {
  tarmac_current_slot_t *s = current->free;
  if (s != NULL) {
    current->free = s->next_free;
    s->next_free = NULL;
    s->payload = payload;
    return s;
  }
  s = slot_new(payload, current->newest);
  if (s == NULL) return NULL;
  current->newest = s;
  current->slot_count++;
  return s;
}

tarmac_current_slot_t *tarmac_current_publish(tarmac_current_t *current,
                                              void *next) {
  tarmac_current_slot_t *s = take_slot(current, next);
  if (s == NULL) return NULL;
  return atomic_exchange(&current->slot, s);
}

void tarmac_current_recycle(tarmac_current_t *current,
                            tarmac_current_slot_t *slot) {
  slot->payload = NULL;
  slot->next_free = current->free;
  current->free = slot;
}

size_t tarmac_current_slot_count(const tarmac_current_t *current) {
  return current->slot_count;
}

void *tarmac_current_slot_payload(const tarmac_current_slot_t *slot) {
  return slot->payload;
}

long tarmac_current_slot_refs(const tarmac_current_slot_t *slot) {
  return atomic_load(&((tarmac_current_slot_t *)slot)->refs);
}

bool tarmac_current_wait_idle(const tarmac_current_slot_t *slot,
                              unsigned timeout_ms) {
  uint64_t deadline = tarmac_clock_ms(CLOCK_MONOTONIC) + timeout_ms;
  long nap_us = 100;
  /* The reload thread polls: requests pay nothing for the wait, and a
   * reload's wait is short next to its compile. */
  while (tarmac_current_slot_refs(slot) != 0) {
    if (tarmac_clock_ms(CLOCK_MONOTONIC) >= deadline) return false;
    struct timespec nap = {0, nap_us * 1000};
    nanosleep(&nap, NULL);
    if (nap_us < 10000) nap_us *= 2;
  }
  atomic_thread_fence(memory_order_acquire);
  return true;
}
