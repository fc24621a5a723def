/* metrics/table: an insert-only open-addressing hash table of pointers,
 * read without locks (metrics.h explains the memory-ordering argument).
 * Writers (insert, grow) must hold the owner's mutex. The table owns its
 * slot arrays (current and retired), not the entries. */
#ifndef TARMAC_METRICS_TABLE_H
#define TARMAC_METRICS_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct metrics_slots metrics_slots_t;

typedef struct {
  _Atomic(metrics_slots_t *) current;
  metrics_slots_t *retired; /* older slot arrays, freed with the table */
  size_t count;             /* entries (writers only) */
} metrics_table_t;

/* Every entry starts with its hash, so the table can grow without asking
 * the owner. */
typedef struct {
  uint64_t hash;
} metrics_entry_t;

/* true when entry's key equals key. */
typedef bool (*metrics_match_fn)(const metrics_entry_t *entry, const void *key);

/* 0 or -1 (out of memory). */
int metrics_table_init(metrics_table_t *table);
void metrics_table_free(metrics_table_t *table);
/* Lock-free lookup: the entry with this hash matching key, or NULL. */
metrics_entry_t *metrics_table_find(const metrics_table_t *table, uint64_t hash,
                                    metrics_match_fn match, const void *key);
/* Writers only (mutex held), after a find under the same mutex missed:
 * publishes entry. 0 or -1 (out of memory; nothing changed). */
int metrics_table_insert(metrics_table_t *table, metrics_entry_t *entry);

/* FNV-1a over bytes, continuing from h (start with METRICS_HASH_SEED). */
#define METRICS_HASH_SEED 0xcbf29ce484222325ull
uint64_t metrics_hash(uint64_t h, const void *data, size_t len);

#endif
