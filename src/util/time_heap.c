/* util/time_heap: see time_heap.h. nodes[i]'s children are 2i+1 and 2i+2;
 * every move of a node updates its slot. */
#include "util/time_heap.h"

#include <stdint.h>
#include <stdlib.h>

#define TIME_HEAP_FIRST_CAP 16

int tarmac_time_heap_reserve(tarmac_time_heap_t *heap, size_t count) {
  if (count <= heap->cap) return 0;
  size_t cap = heap->cap > 0 ? heap->cap : TIME_HEAP_FIRST_CAP;
  while (cap < count) {
    if (cap > SIZE_MAX / 2) return -1;
    cap *= 2;
  }
  if (cap > SIZE_MAX / sizeof(*heap->nodes)) return -1;
  tarmac_time_heap_node_t **nodes =
      realloc(heap->nodes, cap * sizeof(*heap->nodes));
  if (nodes == NULL) return -1;
  heap->nodes = nodes;
  heap->cap = cap;
  return 0;
}

static void place(tarmac_time_heap_t *heap, size_t i,
                  tarmac_time_heap_node_t *node) {
  heap->nodes[i] = node;
  node->slot = i + 1;
}

/* Moves the node at i up past every later parent. */
static void sift_up(tarmac_time_heap_t *heap, size_t i) {
  tarmac_time_heap_node_t *node = heap->nodes[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (heap->nodes[parent]->when <= node->when) break;
    place(heap, i, heap->nodes[parent]);
    i = parent;
  }
  place(heap, i, node);
}

/* Moves the node at i down below every earlier child. */
static void sift_down(tarmac_time_heap_t *heap, size_t i) {
  tarmac_time_heap_node_t *node = heap->nodes[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= heap->len) break;
    if (child + 1 < heap->len &&
        heap->nodes[child + 1]->when < heap->nodes[child]->when)
      child++;
    if (node->when <= heap->nodes[child]->when) break;
    place(heap, i, heap->nodes[child]);
    i = child;
  }
  place(heap, i, node);
}

int tarmac_time_heap_push(tarmac_time_heap_t *heap,
                          tarmac_time_heap_node_t *node) {
  if (heap->len == heap->cap &&
      (heap->len == SIZE_MAX ||
       tarmac_time_heap_reserve(heap, heap->len + 1) != 0))
    return -1;
  place(heap, heap->len++, node);
  sift_up(heap, heap->len - 1);
  return 0;
}

void tarmac_time_heap_remove(tarmac_time_heap_t *heap,
                             tarmac_time_heap_node_t *node) {
  if (node->slot == 0) return;
  size_t i = node->slot - 1;
  node->slot = 0;
  tarmac_time_heap_node_t *last = heap->nodes[--heap->len];
  if (i == heap->len) return; /* it was the last one */
  /* the last node fills the hole, then goes up or down to its place */
  place(heap, i, last);
  if (i > 0 && heap->nodes[(i - 1) / 2]->when > last->when)
    sift_up(heap, i);
  else
    sift_down(heap, i);
}

tarmac_time_heap_node_t *tarmac_time_heap_pop(tarmac_time_heap_t *heap) {
  tarmac_time_heap_node_t *first = tarmac_time_heap_peek(heap);
  if (first != NULL) tarmac_time_heap_remove(heap, first);
  return first;
}

void tarmac_time_heap_free(tarmac_time_heap_t *heap) {
  for (size_t i = 0; i < heap->len; i++) heap->nodes[i]->slot = 0;
  free(heap->nodes);
  *heap = (tarmac_time_heap_t)TARMAC_TIME_HEAP_INIT;
}
