/* Deadlines through the engine with real guests (timeout 150 ms): the
 * runaway routes of tests/http/http_guest.c (a loop, a loop at the bottom
 * of a deep recursion, memory.grow in a loop, a WASI sleep for a day), a
 * guest looping on memory.fill (its time is spent in host memset), and a
 * start-up that never ends. Each is stopped with TARMAC_TRAP_DEADLINE, its
 * instance is dead, and the same thread then runs a normal call; memory
 * reservations are all given back. Unbounded recursion is a stack
 * exhaustion trap of its own. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "engine_fixture.h"
#include "runtime/runtime.h"
#include "test.h"

#define TIMEOUT_MS 150u
#define SLACK_MS 1000.0 /* a loaded 2-core machine; the stop takes < 1 ms */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Invokes request:handler with an envelope naming `path`. */
static tarmac_call_status_t call_path(tarmac_instance_t *inst,
                                      const char *path,
                                      tarmac_call_result_t *result) {
  char envelope[256];
  snprintf(envelope, sizeof envelope, "{\"HTTP_PATH\":\"%s\"}", path);
  static const char op[] = "request:handler";
  return tarmac_instance_invoke(inst, op, sizeof op - 1,
                                (const uint8_t *)envelope, strlen(envelope),
                                &result[0]);
}

static void check_stopped(tarmac_module_t *module, const char *path,
                          int want_trap) {
  tarmac_error_t err;
  tarmac_instance_t *inst = tarmac_instance_new(module, &err);
  CHECK(inst != NULL);
  if (!inst) return;
  tarmac_call_result_t result;
  double start = now_ms();
  CHECK_EQ_INT(call_path(inst, path, &result), TARMAC_CALL_TRAP);
  double elapsed = now_ms() - start;
  CHECK_EQ_INT(result.trap, want_trap);
  CHECK(!tarmac_instance_alive(inst));
  if (want_trap == TARMAC_TRAP_DEADLINE) {
    CHECK(elapsed >= TIMEOUT_MS - 10 && elapsed < TIMEOUT_MS + SLACK_MS);
    printf("%-16s stopped after %.1f ms (deadline %u ms)\n", path, elapsed,
           TIMEOUT_MS);
  }
  tarmac_instance_free(inst);
  /* the thread goes on: a normal call right after */
  inst = tarmac_instance_new(module, &err);
  CHECK(inst != NULL);
  if (!inst) return;
  CHECK_EQ_INT(call_path(inst, "/echo", &result), TARMAC_CALL_OK);
  CHECK(result.len > 0 && memmem(result.data, result.len, "/echo", 5));
  tarmac_instance_free(inst);
}

static void test_runaway_routes(engine_fixture_t *f) {
  tarmac_module_t *module = fixture_load(f, "HTTP_GUEST_DIR", "http_guest");
  size_t memories = tarmac_rt_live_memories();
  static const char *const stopped[] = {"/runaway/spin", "/runaway/deep",
                                        "/runaway/grow", "/runaway/sleep"};
  for (size_t i = 0; i < sizeof stopped / sizeof stopped[0]; i++)
    check_stopped(module, stopped[i], TARMAC_TRAP_DEADLINE);
  check_stopped(module, "/runaway/recurse", WASM_RT_TRAP_EXHAUSTION);
  CHECK_EQ_INT(tarmac_rt_live_memories(), memories);
  tarmac_module_release(module);
}

static void test_bulk_memory_loop(engine_fixture_t *f) {
  tarmac_module_t *module = fixture_load(f, "TARMAC_GUEST_DIR", "fill_forever");
  tarmac_error_t err;
  tarmac_instance_t *inst = tarmac_instance_new(module, &err);
  CHECK(inst != NULL);
  if (inst) {
    tarmac_call_result_t result;
    double start = now_ms();
    CHECK_EQ_INT(tarmac_instance_invoke(inst, "x", 1, NULL, 0, &result),
                 TARMAC_CALL_TRAP);
    CHECK_EQ_INT(result.trap, TARMAC_TRAP_DEADLINE);
    printf("memory.fill loop stopped after %.1f ms\n", now_ms() - start);
    CHECK(now_ms() - start < TIMEOUT_MS + SLACK_MS);
    tarmac_instance_free(inst);
  }
  tarmac_module_release(module);
}

static void test_startup_deadline(engine_fixture_t *f) {
  tarmac_module_t *module = fixture_load(f, "TARMAC_GUEST_DIR", "spin_init");
  tarmac_error_t err;
  double start = now_ms();
  tarmac_instance_t *inst = tarmac_instance_new(module, &err);
  double elapsed = now_ms() - start;
  CHECK(inst == NULL);
  CHECK_EQ_INT(err.trap, TARMAC_TRAP_DEADLINE);
  CHECK(strstr(err.message, "wapc_init") &&
        strstr(err.message, "deadline exceeded"));
  CHECK(elapsed >= TIMEOUT_MS - 10 && elapsed < TIMEOUT_MS + SLACK_MS);
  tarmac_instance_free(inst);
  tarmac_module_release(module);
}

int main(void) {
  engine_fixture_t f;
  fixture_open_with(&f, 4u << 20, TIMEOUT_MS); /* 4 MiB: /runaway/grow
                                                  reaches it at once */
  test_runaway_routes(&f);
  test_bulk_memory_loop(&f);
  test_startup_deadline(&f);
  fixture_close(&f);
  TEST_EXIT();
}
