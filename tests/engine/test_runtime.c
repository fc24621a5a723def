/* Runtime tests without generated code: memories, ceilings, tables, traps
 * from the fault handler (out-of-bounds, stack exhaustion) on many threads,
 * function type interning, and that reservations are released. */
#include <pthread.h>
#include <stdint.h>

#include "runtime/runtime.h"
#include "runaway.h"
#include "test.h"

static void touch_far(void *arg) {
  wasm_rt_memory_t *mem = arg;
  volatile uint8_t *p = mem->data + (uint64_t)mem->size + 4096;
  *p = 1; /* beyond the last page: in the reservation, PROT_NONE */
}

static void touch_last_byte(void *arg) {
  wasm_rt_memory_t *mem = arg;
  mem->data[mem->size - 1] = 7;
}

static void trap_unreachable(void *arg) {
  (void)arg;
  wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}

static void nested_inner(void *arg) {
  (void)arg;
  wasm_rt_trap(WASM_RT_TRAP_DIV_BY_ZERO);
}

static void nested_outer(void *arg) {
  int *inner = arg;
  *inner = tarmac_rt_run_protected(nested_inner, NULL);
  /* the outer frame is still protected after the inner trap */
  wasm_rt_trap(WASM_RT_TRAP_INT_OVERFLOW);
}

static void bad_guest_range(void *arg) {
  wasm_rt_memory_t *mem = arg;
  tarmac_rt_guest_range(mem, mem->size - 5, 10, "test import");
}

static void allocate_too_big(void *arg) {
  wasm_rt_allocate_memory(arg, 4097, 65536); /* default ceiling: 4096 */
}

static void *trap_many_times(void *arg) {
  int *failures = arg;
  wasm_rt_memory_t mem;
  for (int i = 0; i < 300; i++) {
    wasm_rt_allocate_memory(&mem, 1, 10);
    if (tarmac_rt_run_protected(touch_far, &mem) != WASM_RT_TRAP_OOB)
      (*failures)++;
    if (tarmac_rt_run_protected(touch_last_byte, &mem) != WASM_RT_TRAP_NONE)
      (*failures)++;
    wasm_rt_free_memory(&mem);
    if (i % 50 == 0) {
      unsigned sink = 0;
      if (tarmac_rt_run_protected(run_away, &sink) != WASM_RT_TRAP_EXHAUSTION)
        (*failures)++;
    }
  }
  return NULL;
}

static void allocate_four_pages(void *arg) {
  wasm_rt_allocate_memory(arg, 4, 100);
}

/* The process budget: allocation past it traps naming it, growth past it
 * fails, and freeing makes room again. */
static void test_budget(void) {
  CHECK_EQ_INT(tarmac_rt_memory_committed(), 0);
  tarmac_rt_set_memory_budget(6 * 65536);
  wasm_rt_memory_t a = {0}, b = {0};
  CHECK_EQ_INT(tarmac_rt_run_protected(allocate_four_pages, &a),
               WASM_RT_TRAP_NONE);
  CHECK_EQ_INT(tarmac_rt_memory_committed(), 4 * 65536);
  CHECK_EQ_INT(tarmac_rt_run_protected(allocate_four_pages, &b),
               TARMAC_TRAP_MEMORY_BUDGET);
  CHECK(strstr(tarmac_rt_trap_detail(), "budget of 393216 bytes") != NULL);
  CHECK(b.data == NULL);
  CHECK_EQ_INT(wasm_rt_grow_memory(&a, 3), UINT32_MAX);
  CHECK_EQ_INT(wasm_rt_grow_memory(&a, 2), 4); /* exactly to the budget */
  CHECK_EQ_INT(tarmac_rt_memory_committed(), 6 * 65536);
  wasm_rt_free_memory(&a);
  CHECK_EQ_INT(tarmac_rt_memory_committed(), 0);
  CHECK_EQ_INT(tarmac_rt_run_protected(allocate_four_pages, &b),
               WASM_RT_TRAP_NONE);
  wasm_rt_free_memory(&b);
  tarmac_rt_set_memory_budget(0);
  CHECK_EQ_INT(tarmac_rt_memory_committed(), 0);
}

/* A freed reservation is reused (the same address comes back), and what
 * the last memory wrote there is gone: every page reads zero, and the
 * pages it had beyond the new size fault again. */
static void test_reservation_reuse(void) {
  wasm_rt_memory_t mem;
  wasm_rt_allocate_memory(&mem, 3, 10);
  uint8_t *first = mem.data;
  memset(mem.data, 0xab, mem.size);
  wasm_rt_free_memory(&mem);
  wasm_rt_allocate_memory(&mem, 2, 10);
  CHECK(mem.data == first);
  size_t nonzero = 0;
  for (uint32_t i = 0; i < mem.size; i++) nonzero += mem.data[i] != 0;
  CHECK_EQ_INT(nonzero, 0);
  CHECK_EQ_INT(tarmac_rt_run_protected(touch_far, &mem), WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(tarmac_rt_memory_limit(&mem), TARMAC_RT_DEFAULT_MEMORY_LIMIT);
  wasm_rt_free_memory(&mem);
}

int main(void) {
  tarmac_rt_init();
  test_budget();
  test_reservation_reuse();
  CHECK(wasm_rt_is_initialized());

  wasm_rt_memory_t mem;
  wasm_rt_allocate_memory(&mem, 1, 3);
  CHECK_EQ_INT(mem.size, 65536);
  CHECK_EQ_INT(tarmac_rt_live_memories(), 1);
  CHECK_EQ_INT(tarmac_rt_run_protected(touch_last_byte, &mem), WASM_RT_TRAP_NONE);
  CHECK_EQ_INT(mem.data[65535], 7);
  CHECK_EQ_INT(tarmac_rt_run_protected(touch_far, &mem), WASM_RT_TRAP_OOB);
  CHECK_EQ_INT(wasm_rt_grow_memory(&mem, 2), 1);
  CHECK_EQ_INT(mem.size, 3 * 65536);
  CHECK_EQ_INT(wasm_rt_grow_memory(&mem, 1), UINT32_MAX); /* declared max */
  CHECK_EQ_INT(wasm_rt_grow_memory(&mem, 0), 3);
  CHECK_EQ_INT(tarmac_rt_run_protected(bad_guest_range, &mem), WASM_RT_TRAP_OOB);
  CHECK(strstr(tarmac_rt_trap_detail(), "test import") != NULL);
  wasm_rt_free_memory(&mem);
  CHECK(mem.data == NULL);
  CHECK_EQ_INT(tarmac_rt_live_memories(), 0);

  /* ceiling */
  uint64_t previous = tarmac_rt_set_memory_limit(4 * 65536);
  CHECK_EQ_INT(previous, TARMAC_RT_DEFAULT_MEMORY_LIMIT);
  wasm_rt_allocate_memory(&mem, 1, 65536);
  CHECK_EQ_INT(tarmac_rt_memory_limit(&mem), 4 * 65536);
  CHECK_EQ_INT(wasm_rt_grow_memory(&mem, 3), 1);
  CHECK_EQ_INT(wasm_rt_grow_memory(&mem, 1), UINT32_MAX);
  wasm_rt_free_memory(&mem);
  tarmac_rt_set_memory_limit(0);
  wasm_rt_memory_t big = {0};
  CHECK_EQ_INT(tarmac_rt_run_protected(allocate_too_big, &big), TARMAC_TRAP_RESOURCE);
  CHECK(big.data == NULL);
  wasm_rt_free_memory(&big); /* freeing a never-allocated memory is fine */

  /* traps and nesting */
  CHECK_EQ_INT(tarmac_rt_run_protected(trap_unreachable, NULL), WASM_RT_TRAP_UNREACHABLE);
  int inner = -1;
  CHECK_EQ_INT(tarmac_rt_run_protected(nested_outer, &inner), WASM_RT_TRAP_INT_OVERFLOW);
  CHECK_EQ_INT(inner, WASM_RT_TRAP_DIV_BY_ZERO);
  unsigned sink = 0;
  CHECK_EQ_INT(tarmac_rt_run_protected(run_away, &sink), WASM_RT_TRAP_EXHAUSTION);
  /* and the thread still works after an exhaustion */
  CHECK_EQ_INT(tarmac_rt_run_protected(trap_unreachable, NULL), WASM_RT_TRAP_UNREACHABLE);

  /* tables */
  wasm_rt_funcref_table_t table;
  wasm_rt_allocate_funcref_table(&table, 2, 4);
  CHECK(table.data[1].func == NULL);
  CHECK_EQ_INT(wasm_rt_grow_funcref_table(&table, 2, wasm_rt_funcref_null_value), 2);
  CHECK_EQ_INT(wasm_rt_grow_funcref_table(&table, 1, wasm_rt_funcref_null_value), UINT32_MAX);
  wasm_rt_free_funcref_table(&table);
  wasm_rt_externref_table_t refs;
  wasm_rt_allocate_externref_table(&refs, 0, UINT32_MAX);
  CHECK_EQ_INT(wasm_rt_grow_externref_table(&refs, 3, &refs), 0);
  CHECK(refs.data[2] == &refs);
  wasm_rt_free_externref_table(&refs);

  /* function types */
  uint32_t a = wasm_rt_register_func_type(2, 1, WASM_RT_I32, WASM_RT_F32, WASM_RT_I64);
  uint32_t b = wasm_rt_register_func_type(0, 1, WASM_RT_I32);
  uint32_t c = wasm_rt_register_func_type(2, 1, WASM_RT_I32, WASM_RT_F32, WASM_RT_I64);
  CHECK(a != b);
  CHECK_EQ_INT(a, c);
  CHECK(a != 0 && b != 0);

  /* four threads trapping at once */
  pthread_t threads[4];
  int failures[4] = {0};
  for (int i = 0; i < 4; i++)
    CHECK_EQ_INT(pthread_create(&threads[i], NULL, trap_many_times, &failures[i]), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    CHECK_EQ_INT(failures[i], 0);
  }
  CHECK_EQ_INT(tarmac_rt_live_memories(), 0);
  TEST_EXIT();
}
