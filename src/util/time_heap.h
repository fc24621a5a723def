/* util/time_heap: a binary min-heap of times (the end of each timed wait
 * of an event loop, in ns), intrusive: each entry is a node embedded in
 * its owner's struct that remembers its place in the heap, so any node
 * (a wait that ended another way first) leaves it in O(log n). Entries
 * with equal times come out in no particular order.
 *
 * Owns: the array of node pointers (grown as needed, freed by
 * tarmac_time_heap_free). Does not own the nodes: a node must leave the
 * heap (pop or remove) before its memory goes. Not thread-safe: one owner
 * (an event loop's driver). */
#ifndef TARMAC_UTIL_TIME_HEAP_H
#define TARMAC_UTIL_TIME_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A node; all zero (memset, calloc, TARMAC_TIME_HEAP_NODE_INIT) is a node
 * in no heap. */
typedef struct {
  uint64_t when; /* the key: set by the caller before push, then read-only */
  size_t slot;   /* 0: in no heap; else its index in the heap + 1 */
} tarmac_time_heap_node_t;

#define TARMAC_TIME_HEAP_NODE_INIT {0, 0}

typedef struct {
  tarmac_time_heap_node_t **nodes; /* owned; nodes[0] is the earliest */
  size_t len, cap;
} tarmac_time_heap_t;

#define TARMAC_TIME_HEAP_INIT {NULL, 0, 0}

/* Ensures room for `count` nodes in all, so that pushes up to that many
 * cannot fail. 0, or -1 when out of memory (the heap is unchanged). */
int tarmac_time_heap_reserve(tarmac_time_heap_t *heap, size_t count);
/* Adds a node in no heap, keyed by node->when. 0, or -1 when out of memory
 * (nothing changed). */
int tarmac_time_heap_push(tarmac_time_heap_t *heap,
                          tarmac_time_heap_node_t *node);
/* The earliest node (left in the heap), or NULL when empty. */
static inline tarmac_time_heap_node_t *tarmac_time_heap_peek(
    const tarmac_time_heap_t *heap) {
  return heap->len > 0 ? heap->nodes[0] : NULL;
}
/* Takes the node out of the heap (a node in no heap: nothing happens). */
void tarmac_time_heap_remove(tarmac_time_heap_t *heap,
                             tarmac_time_heap_node_t *node);
/* Takes the earliest node out, or NULL when empty. */
tarmac_time_heap_node_t *tarmac_time_heap_pop(tarmac_time_heap_t *heap);
static inline bool tarmac_time_heap_linked(
    const tarmac_time_heap_node_t *node) {
  return node->slot != 0;
}
/* Frees the array; the nodes still in the heap are left in no heap. */
void tarmac_time_heap_free(tarmac_time_heap_t *heap);

#endif
