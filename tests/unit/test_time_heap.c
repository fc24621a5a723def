/* Unit tests of src/util/time_heap: random pushes, pops and removals
 * (linked nodes and nodes in no heap) checked against a plain model after
 * every operation (the earliest time, the count, every node's slot, the
 * heap order); growth from empty past many doublings; reserve; equal
 * times; free leaves the nodes in no heap. */
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "util/time_heap.h"

#define NODES 300

typedef struct {
  tarmac_time_heap_node_t node;
  bool in; /* the model: the node should be in the heap */
} entry_t;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void) { /* xorshift64: reproducible */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* The heap's shape agrees with itself: each node's slot names its index,
 * no child is earlier than its parent. */
static bool heap_consistent(const tarmac_time_heap_t *heap) {
  for (size_t i = 0; i < heap->len; i++) {
    if (heap->nodes[i]->slot != i + 1) return false;
    if (i > 0 && heap->nodes[(i - 1) / 2]->when > heap->nodes[i]->when)
      return false;
  }
  return true;
}

/* The heap agrees with the model: same count, membership, earliest. */
static bool matches_model(const tarmac_time_heap_t *heap,
                          const entry_t *entries) {
  size_t count = 0;
  uint64_t earliest = UINT64_MAX;
  for (size_t i = 0; i < NODES; i++) {
    if (entries[i].in != tarmac_time_heap_linked(&entries[i].node))
      return false;
    if (!entries[i].in) continue;
    count++;
    if (entries[i].node.when < earliest) earliest = entries[i].node.when;
  }
  const tarmac_time_heap_node_t *first = tarmac_time_heap_peek(heap);
  if (count != heap->len) return false;
  return count == 0 ? first == NULL : first != NULL && first->when == earliest;
}

static void random_step(tarmac_time_heap_t *heap, entry_t *entries,
                        uint64_t key_range) {
  entry_t *e = &entries[rng() % NODES];
  /* pushes 3 times as often as each way out: about half the nodes are in
   * the heap at a time */
  switch (rng() % 5) {
    case 0:
    case 1:
    case 2: /* push a node in no heap */
      if (e->in) break;
      e->node.when = rng() % key_range;
      if (tarmac_time_heap_push(heap, &e->node) == 0) e->in = true;
      break;
    case 3: /* remove any node, linked or not */
      tarmac_time_heap_remove(heap, &e->node);
      e->in = false;
      break;
    default: { /* pop the earliest: its time is the model's earliest */
      tarmac_time_heap_node_t *first = tarmac_time_heap_pop(heap);
      if (first == NULL) break;
      entry_t *owner = (entry_t *)((char *)first - offsetof(entry_t, node));
      CHECK(owner->in);
      for (size_t i = 0; i < NODES; i++)
        if (entries[i].in && entries[i].node.when < first->when) {
          CHECK(!"popped a node later than another in the heap");
          break;
        }
      owner->in = false;
    }
  }
}

/* Many steps with a wide and with a narrow range of times (many equal). */
static void test_random_against_model(uint64_t key_range) {
  static entry_t entries[NODES];
  memset(entries, 0, sizeof entries);
  tarmac_time_heap_t heap = TARMAC_TIME_HEAP_INIT;
  int bad = 0;
  for (int step = 0; step < 200000 && bad < 5; step++) {
    random_step(&heap, entries, key_range);
    /* the full check is O(n): every step early on, then every 97th */
    if (step < 20000 || step % 97 == 0) {
      bool ok = heap_consistent(&heap) && matches_model(&heap, entries);
      if (!ok) {
        bad++;
        fprintf(stderr, "step %d (range %llu): heap and model disagree\n",
                step, (unsigned long long)key_range);
      }
      CHECK(ok);
    }
  }
  /* drain: times come out in order */
  uint64_t last = 0;
  tarmac_time_heap_node_t *node;
  while ((node = tarmac_time_heap_pop(&heap)) != NULL) {
    CHECK(node->when >= last);
    CHECK(!tarmac_time_heap_linked(node));
    last = node->when;
  }
  CHECK_EQ_INT(heap.len, 0);
  tarmac_time_heap_free(&heap);
}

static void test_growth_and_order(void) {
  enum { MANY = 5000 };
  static tarmac_time_heap_node_t nodes[MANY];
  tarmac_time_heap_t heap = TARMAC_TIME_HEAP_INIT;
  CHECK(tarmac_time_heap_peek(&heap) == NULL);
  CHECK(tarmac_time_heap_pop(&heap) == NULL);
  for (size_t i = 0; i < MANY; i++) { /* descending: every push sifts up */
    nodes[i] = (tarmac_time_heap_node_t)TARMAC_TIME_HEAP_NODE_INIT;
    nodes[i].when = MANY - i;
    CHECK_EQ_INT(tarmac_time_heap_push(&heap, &nodes[i]), 0);
  }
  CHECK_EQ_INT(heap.len, MANY);
  CHECK(heap.cap >= MANY);
  CHECK(heap_consistent(&heap));
  CHECK(tarmac_time_heap_peek(&heap) == &nodes[MANY - 1]);
  /* removing the middle half leaves the rest in order */
  for (size_t i = MANY / 4; i < 3 * MANY / 4; i++)
    tarmac_time_heap_remove(&heap, &nodes[i]);
  CHECK(heap_consistent(&heap));
  CHECK_EQ_INT(heap.len, MANY / 2);
  uint64_t last = 0;
  size_t popped = 0;
  tarmac_time_heap_node_t *node;
  while ((node = tarmac_time_heap_pop(&heap)) != NULL) {
    CHECK(node->when > last);
    last = node->when;
    popped++;
  }
  CHECK_EQ_INT(popped, MANY / 2);
  tarmac_time_heap_free(&heap);
}

static void test_reserve_and_free(void) {
  tarmac_time_heap_t heap = TARMAC_TIME_HEAP_INIT;
  CHECK_EQ_INT(tarmac_time_heap_reserve(&heap, 0), 0);
  CHECK(heap.nodes == NULL);
  CHECK_EQ_INT(tarmac_time_heap_reserve(&heap, 100), 0);
  CHECK(heap.cap >= 100);
  tarmac_time_heap_node_t **nodes = heap.nodes;
  tarmac_time_heap_node_t a = {.when = 7}, b = {.when = 7}, c = {.when = 3};
  CHECK_EQ_INT(tarmac_time_heap_push(&heap, &a), 0);
  CHECK_EQ_INT(tarmac_time_heap_push(&heap, &b), 0);
  CHECK_EQ_INT(tarmac_time_heap_push(&heap, &c), 0);
  CHECK(heap.nodes == nodes); /* within the reserve: no reallocation */
  CHECK(tarmac_time_heap_peek(&heap) == &c);
  /* a size no memory holds is refused, the heap unchanged */
  CHECK_EQ_INT(tarmac_time_heap_reserve(&heap, SIZE_MAX), -1);
  CHECK_EQ_INT(tarmac_time_heap_reserve(&heap, SIZE_MAX / 4), -1);
  CHECK(heap.nodes == nodes);
  CHECK_EQ_INT(heap.len, 3);
  tarmac_time_heap_remove(&heap, &c);
  tarmac_time_heap_remove(&heap, &c); /* twice: nothing happens */
  CHECK_EQ_INT(heap.len, 2);
  CHECK_EQ_INT(tarmac_time_heap_peek(&heap)->when, 7);
  tarmac_time_heap_free(&heap);
  CHECK(!tarmac_time_heap_linked(&a) && !tarmac_time_heap_linked(&b));
  CHECK(heap.nodes == NULL && heap.len == 0 && heap.cap == 0);
  tarmac_time_heap_free(&heap); /* twice: harmless */
}

int main(void) {
  test_random_against_model(UINT64_MAX);
  test_random_against_model(8);
  test_growth_and_order();
  test_reserve_and_free();
  TEST_EXIT();
}
