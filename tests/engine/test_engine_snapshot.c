/* Snapshots: restoring an instance resets its memory (including pages grown
 * since, which must fault again), globals, tables and dropped segments;
 * instances made from one snapshot are independent; funcrefs and imports
 * called through a table reach the right instance; a mostly-zero memory
 * snapshots cheaply; the process memory budget counts instances, images
 * and restores; everything freed leaves no memories and no descriptors. */
#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>

#include "engine/instance_state.h"
#include "engine_fixture.h"
#include "runtime/memory_image.h"
#include "runtime/runtime.h"
#include "test.h"

#define TRAPPED (-2)

/* Runs operation `op`; the 4-byte answer, TRAPPED, or -1. */
static long call(tarmac_instance_t *inst, const char *op) {
  tarmac_call_result_t r;
  tarmac_call_status_t st = tarmac_instance_invoke(inst, op, strlen(op),
                                                   (const uint8_t *)"", 0, &r);
  if (st == TARMAC_CALL_TRAP) return TRAPPED;
  if (st != TARMAC_CALL_OK || r.len != 4) return -1;
  uint32_t v;
  memcpy(&v, r.data, 4);
  return v;
}

/* "s": answers what the previous "s" stored, into out (NUL-terminated). */
static void store(tarmac_instance_t *inst, const char *payload, char *out,
                  size_t size) {
  tarmac_call_result_t r;
  out[0] = '\0';
  if (tarmac_instance_invoke(inst, "s", 1, (const uint8_t *)payload,
                             strlen(payload), &r) == TARMAC_CALL_OK)
    snprintf(out, size, "%.*s", (int)r.len, (const char *)r.data);
}

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  while (d && readdir(d)) n++;
  if (d) closedir(d);
  return n;
}

static tarmac_instance_t *fresh(tarmac_snapshot_t *snap) {
  tarmac_error_t err;
  tarmac_instance_t *inst = tarmac_instance_from_snapshot(snap, &err);
  if (!inst) fprintf(stderr, "from snapshot: %s\n", err.message);
  CHECK(inst != NULL);
  return inst;
}

/* Loads test guest `name` (*module: the caller's) and snapshots it. */
static tarmac_snapshot_t *load_snapshot(engine_fixture_t *f, const char *name,
                                        tarmac_module_t **module,
                                        tarmac_error_t *err) {
  *module = fixture_load(f, "TARMAC_GUEST_DIR", name);
  return tarmac_snapshot_new(*module, err);
}

static void test_globals_memory_segments(tarmac_snapshot_t *snap) {
  tarmac_instance_t *inst = fresh(snap);
  if (!inst) return;
  CHECK_EQ_INT(call(inst, "c"), 1);
  CHECK_EQ_INT(call(inst, "c"), 2);
  CHECK_EQ_INT(call(inst, "w"), 1);
  CHECK_EQ_INT(call(inst, "m"), 'X');
  CHECK_EQ_INT(call(inst, "d"), 1);
  char prev[64];
  store(inst, "one", prev, sizeof prev);
  CHECK_BYTES(prev, strlen(prev), "");
  store(inst, "two", prev, sizeof prev);
  CHECK_BYTES(prev, strlen(prev), "one");
  CHECK(tarmac_instance_restore(inst));
  CHECK_EQ_INT(call(inst, "c"), 1);   /* global and funcref reset */
  CHECK_EQ_INT(call(inst, "m"), 's'); /* data segment bytes back */
  CHECK_EQ_INT(call(inst, "i"), 'p'); /* passive segment no longer dropped */
  store(inst, "three", prev, sizeof prev);
  CHECK_BYTES(prev, strlen(prev), ""); /* nothing of "two" survives */
  CHECK_EQ_INT(call(inst, "l"), 1);    /* import through the table */
  CHECK(tarmac_instance_restore(inst));
  CHECK_EQ_INT(call(inst, "d"), 1);
  CHECK_EQ_INT(call(inst, "i"), TRAPPED); /* dropped within one request */
  CHECK(!tarmac_instance_restore(inst));  /* dead: the owner replaces it */
  tarmac_instance_free(inst);
}

static void test_grown_memory_and_tables(tarmac_snapshot_t *snap) {
  tarmac_instance_t *inst = fresh(snap);
  if (!inst) return;
  uint64_t committed = tarmac_rt_memory_committed();
  CHECK_EQ_INT(call(inst, "g"), 3);
  CHECK_EQ_INT(call(inst, "h"), 0);
  CHECK_EQ_INT(tarmac_rt_memory_committed(), committed + 2 * 65536);
  CHECK_EQ_INT(call(inst, "t"), 7);
  CHECK_EQ_INT(call(inst, "c"), TRAPPED); /* slot 0 nulled */
  CHECK(!tarmac_instance_restore(inst));
  tarmac_instance_free(inst);

  inst = fresh(snap);
  if (!inst) return;
  CHECK_EQ_INT(call(inst, "g"), 3);
  CHECK_EQ_INT(call(inst, "t"), 7);
  CHECK(tarmac_instance_restore(inst));
  CHECK_EQ_INT(tarmac_rt_memory_committed(), committed); /* refunded */
  CHECK_EQ_INT(call(inst, "p"), 1);
  CHECK_EQ_INT(call(inst, "z"), 2);
  CHECK_EQ_INT(call(inst, "c"), 1);
  CHECK_EQ_INT(call(inst, "h"), TRAPPED); /* grown page faults again */
  tarmac_instance_free(inst);
}

static void test_independent(tarmac_snapshot_t *snap) {
  tarmac_instance_t *a = fresh(snap), *b = fresh(snap);
  if (a && b) {
    CHECK_EQ_INT(call(a, "c"), 1);
    CHECK_EQ_INT(call(a, "c"), 2);
    CHECK_EQ_INT(call(a, "w"), 1);
    CHECK_EQ_INT(call(b, "c"), 1); /* b's funcref reads b's global */
    CHECK_EQ_INT(call(b, "m"), 's');
    CHECK_EQ_INT(call(b, "l"), 1);
  }
  tarmac_instance_free(a);
  tarmac_instance_free(b);
}

typedef struct {
  tarmac_instance_t *inst;
  sem_t go, done;
} secret_thread_t;

static void *store_secret(void *arg) {
  secret_thread_t *t = arg;
  char prev[64];
  while (sem_wait(&t->go) != 0) continue;
  store(t->inst, "secret", prev, sizeof prev);
  sem_post(&t->done);
  return NULL;
}

/* Restore skips reading the page map when its thread saw no page fault
 * since the last restore; a request run on another thread in between must
 * still be found (its faults are not this thread's). The thread exists
 * before the first restore, so this one does no fault-prone work between
 * the two restores. */
static void test_other_thread(tarmac_snapshot_t *snap) {
  secret_thread_t t = {.inst = fresh(snap)};
  if (!t.inst) return;
  pthread_t thread;
  CHECK(sem_init(&t.go, 0, 0) == 0 && sem_init(&t.done, 0, 0) == 0);
  CHECK(pthread_create(&thread, NULL, store_secret, &t) == 0);
  CHECK_EQ_INT(call(t.inst, "c"), 1);
  CHECK(tarmac_instance_restore(t.inst));
  sem_post(&t.go);
  while (sem_wait(&t.done) != 0) continue;
  CHECK(tarmac_instance_restore(t.inst));
  /* the bytes themselves, not the guest's view (its length global is
   * restored either way) */
  CHECK(t.inst->memory->data[8192] == 0 && t.inst->memory->data[4096] == 0);
  pthread_join(thread, NULL);
  sem_destroy(&t.go);
  sem_destroy(&t.done);
  tarmac_instance_free(t.inst);
}

static void test_budget(tarmac_snapshot_t *snap) {
  tarmac_instance_t *inst = fresh(snap);
  if (!inst) return;
  /* room for what is committed now and one more page */
  tarmac_rt_set_memory_budget(tarmac_rt_memory_committed() + 65536);
  CHECK_EQ_INT(call(inst, "g"), 1); /* grow by 2 refused: size stays 1 */
  tarmac_error_t err;
  tarmac_instance_t *other = tarmac_instance_from_snapshot(snap, &err);
  CHECK(other != NULL); /* one page fits */
  tarmac_instance_t *third = tarmac_instance_from_snapshot(snap, &err);
  CHECK(third == NULL);
  CHECK(third == NULL && err.kind == TARMAC_ERROR_OVER_BUDGET);
  tarmac_instance_free(other);
  third = tarmac_instance_from_snapshot(snap, &err); /* room again */
  CHECK(third != NULL);
  tarmac_instance_free(third);
  tarmac_rt_set_memory_budget(0);
  tarmac_instance_free(inst);
}

static void test_big_memory(engine_fixture_t *f) {
  uint64_t before = tarmac_rt_memory_committed();
  tarmac_module_t *module;
  tarmac_error_t err;
  tarmac_snapshot_t *snap = load_snapshot(f, "big_memory", &module, &err);
  CHECK(snap != NULL);
  /* the image holds the one non-zero page, not 128 MiB */
  CHECK(tarmac_rt_memory_committed() - before <= 65536);
  tarmac_instance_t *inst = snap ? fresh(snap) : NULL;
  tarmac_call_result_t r;
  CHECK(inst && tarmac_instance_invoke(inst, "x", 1, NULL, 0, &r) ==
                    TARMAC_CALL_OK && r.len == 3 &&
        memcmp(r.data, "big", 3) == 0);
  CHECK(inst && tarmac_instance_restore(inst));
  tarmac_instance_free(inst);
  tarmac_snapshot_release(snap);
  CHECK_EQ_INT(tarmac_rt_memory_committed(), before);
  tarmac_module_release(module);
}

typedef struct {
  wasm_rt_memory_t *mem;
  const tarmac_rt_image_t *image;
} map_args_t;

static void map_image(void *arg) {
  map_args_t *a = arg;
  tarmac_rt_memory_from_image(a->mem, a->image, 1000);
}

/* Restore by copying back few dirty pages, and by dropping many (or those
 * of a large image): the bytes are the image's either way. */
static void test_image_restore(uint32_t pages, uint32_t dirty_every) {
  wasm_rt_memory_t source = {0}, mem = {0};
  wasm_rt_allocate_memory(&source, pages, 1000); /* outside a guest: ok */
  for (uint32_t i = 0; i < source.size; i += 4096) source.data[i] = 'A';
  char err[256];
  tarmac_rt_image_t *image = tarmac_rt_image_new(&source, err, sizeof err);
  wasm_rt_free_memory(&source);
  CHECK(image != NULL);
  if (!image) return;
  map_args_t args = {&mem, image};
  CHECK_EQ_INT(tarmac_rt_run_protected(map_image, &args), WASM_RT_TRAP_NONE);
  for (int round = 0; round < 2 && mem.data; round++) {
    for (uint32_t i = 0; i < mem.size; i += 4096 * dirty_every)
      mem.data[i] = mem.data[i + 1] = 'B';
    CHECK_EQ_INT(tarmac_rt_memory_restore(&mem, image, NULL, true), 0);
    int wrong = 0;
    for (uint32_t i = 0; i < mem.size; i += 4096)
      wrong += mem.data[i] != 'A' || mem.data[i + 1] != 0;
    CHECK_EQ_INT(wrong, 0);
  }
  wasm_rt_free_memory(&mem);
  tarmac_rt_image_free(image);
}

static void test_refused(engine_fixture_t *f) {
  tarmac_module_t *module;
  tarmac_error_t err;
  tarmac_snapshot_t *snap = load_snapshot(f, "funcref_global", &module, &err);
  CHECK(snap == NULL && err.kind == TARMAC_ERROR_NO_SNAPSHOT);
  tarmac_module_release(module);
}

/* One restore, so what the runtime opens once per process (its page map
 * reader) is open before the descriptors are counted. */
static void warm_up(engine_fixture_t *f) {
  tarmac_module_t *module;
  tarmac_error_t err;
  tarmac_snapshot_t *snap = load_snapshot(f, "snapshot_state", &module, &err);
  tarmac_instance_t *inst = snap ? fresh(snap) : NULL;
  CHECK(inst && call(inst, "w") == 1 && tarmac_instance_restore(inst));
  tarmac_instance_free(inst);
  tarmac_snapshot_release(snap);
  tarmac_module_release(module);
}

int main(void) {
  engine_fixture_t f;
  fixture_open(&f, 0);
  warm_up(&f);
  int fds = open_fds();
  tarmac_module_t *module;
  tarmac_error_t err;
  tarmac_snapshot_t *snap = load_snapshot(&f, "snapshot_state", &module, &err);
  if (!snap) fprintf(stderr, "snapshot: %s\n", err.message);
  CHECK(snap != NULL);
  if (snap) {
    test_globals_memory_segments(snap);
    test_grown_memory_and_tables(snap);
    test_independent(snap);
    test_other_thread(snap);
    test_budget(snap);
  }
  tarmac_snapshot_release(snap);
  tarmac_module_release(module);
  test_big_memory(&f);
  test_image_restore(2, 8);   /* 4 of 32 pages: copied back */
  test_image_restore(8, 1);   /* all 128 pages: dropped */
  test_image_restore(100, 50); /* 6.25 MiB: too large to scan, dropped */
  test_refused(&f);
  CHECK_EQ_INT(tarmac_rt_live_memories(), 0);
  CHECK_EQ_INT(tarmac_rt_memory_committed(), 0);
  CHECK_EQ_INT(open_fds(), fds); /* every image's memfd closed */
  fixture_close(&f);
  TEST_EXIT();
}
