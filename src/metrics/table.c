/* metrics/table: linear probing over a power-of-two slot array kept at
 * most half full, so a probe always ends on an empty slot. */
#include "metrics/table.h"

#include <stdlib.h>

struct metrics_slots {
  size_t mask;
  metrics_slots_t *next_retired;
  _Atomic(metrics_entry_t *) slot[];
};

enum { INITIAL_SLOTS = 8 };

static metrics_slots_t *slots_new(size_t cap) {
  metrics_slots_t *s = calloc(1, sizeof *s + cap * sizeof s->slot[0]);
  if (!s) return NULL;
  s->mask = cap - 1;
  for (size_t i = 0; i < cap; i++) atomic_init(&s->slot[i], NULL);
  return s;
}

int metrics_table_init(metrics_table_t *table) {
  metrics_slots_t *s = slots_new(INITIAL_SLOTS);
  if (!s) return -1;
  atomic_init(&table->current, s);
  table->retired = NULL;
  table->count = 0;
  return 0;
}

void metrics_table_free(metrics_table_t *table) {
  free(atomic_load_explicit(&table->current, memory_order_relaxed));
  for (metrics_slots_t *s = table->retired, *next; s; s = next) {
    next = s->next_retired;
    free(s);
  }
  table->retired = NULL;
}

metrics_entry_t *metrics_table_find(const metrics_table_t *table, uint64_t hash,
                                    metrics_match_fn match, const void *key) {
  metrics_slots_t *s =
      atomic_load_explicit(&table->current, memory_order_acquire);
  for (size_t i = hash & s->mask;; i = (i + 1) & s->mask) {
    metrics_entry_t *e =
        atomic_load_explicit(&s->slot[i], memory_order_acquire);
    if (!e) return NULL;
    if (e->hash == hash && match(e, key)) return e;
  }
}

static void place(metrics_slots_t *s, metrics_entry_t *entry) {
  size_t i = entry->hash & s->mask;
  while (atomic_load_explicit(&s->slot[i], memory_order_relaxed))
    i = (i + 1) & s->mask;
  atomic_store_explicit(&s->slot[i], entry, memory_order_release);
}

/* Copies into a table twice the size and publishes it; the old one is
 * retired, not freed: readers may still be probing it. */
static int grow(metrics_table_t *table) {
  metrics_slots_t *old =
      atomic_load_explicit(&table->current, memory_order_relaxed);
  metrics_slots_t *s = slots_new((old->mask + 1) * 2);
  if (!s) return -1;
  for (size_t i = 0; i <= old->mask; i++) {
    metrics_entry_t *e =
        atomic_load_explicit(&old->slot[i], memory_order_relaxed);
    if (e) place(s, e);
  }
  atomic_store_explicit(&table->current, s, memory_order_release);
  old->next_retired = table->retired;
  table->retired = old;
  return 0;
}

int metrics_table_insert(metrics_table_t *table, metrics_entry_t *entry) {
  metrics_slots_t *s =
      atomic_load_explicit(&table->current, memory_order_relaxed);
  if ((table->count + 1) * 2 > s->mask + 1) {
    if (grow(table) != 0) return -1;
    s = atomic_load_explicit(&table->current, memory_order_relaxed);
  }
  place(s, entry);
  table->count++;
  return 0;
}

uint64_t metrics_hash(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
