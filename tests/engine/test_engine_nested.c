/* Nested invocations: a host callback running inside instance A's call
 * invokes instance B on the same thread (the guest nested_caller.wat asks
 * for it with host_call("tarmac", "function", "<target><op>")). B's traps
 * end B's call only; A's waPC state survives; B's deadline is the earlier
 * of its own and A's, and A traps at its next safe point when its own
 * passed during B; a chain of nested calls with hostile recursion at the
 * end traps instead of crashing, on the main thread, a default thread and
 * a small-stack thread. Also per-instance limits (deadline, memory
 * ceiling), given directly and carried by a snapshot. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "engine_fixture.h"
#include "runtime/runtime.h"
#include "test.h"
#include "util/clock.h"

#define MAX_TARGETS 64
#define MAX_MESSAGE 160

/* What the callback saw of each target's call (by target index). */
typedef struct {
  tarmac_module_t *module;
  tarmac_instance_t *targets[MAX_TARGETS];
  tarmac_call_status_t status[MAX_TARGETS];
  int trap[MAX_TARGETS];
  unsigned depth[MAX_TARGETS];
  size_t stack_left[MAX_TARGETS];
  char message[MAX_TARGETS][MAX_MESSAGE];
} nest_t;

static nest_t nest;

static void note_result(unsigned idx, const tarmac_call_result_t *res) {
  nest.status[idx] = res->status;
  nest.trap[idx] = res->trap;
  size_t len = res->len < MAX_MESSAGE - 1 ? res->len : MAX_MESSAGE - 1;
  memcpy(nest.message[idx], res->data, len);
  nest.message[idx][len] = '\0';
}

/* "n<op>": a new instance made now (under the memory budget). */
static tarmac_instance_t *target_of(char which, unsigned *idx,
                                    tarmac_buffer_t *error) {
  if (which == 'n') {
    tarmac_error_t err;
    *idx = MAX_TARGETS - 1;
    tarmac_instance_t *made = tarmac_instance_new(nest.module, &err);
    if (made == NULL)
      tarmac_buffer_append_str(error, err.kind == TARMAC_ERROR_OVER_BUDGET
                                          ? "over budget: "
                                          : "cannot create: ");
    if (made == NULL) tarmac_buffer_append_str(error, err.message);
    return made;
  }
  *idx = (unsigned)(which - '0');
  if (*idx < MAX_TARGETS && nest.targets[*idx]) return nest.targets[*idx];
  tarmac_buffer_append_str(error, "no such target");
  return NULL;
}

static int call_function(void *data, const tarmac_host_call_t *call,
                         tarmac_buffer_t *response, tarmac_buffer_t *error) {
  (void)data;
  unsigned idx = 0;
  tarmac_instance_t *target = call->operation_len
                                  ? target_of(call->operation[0], &idx, error)
                                  : NULL;
  if (target == NULL) return -1;
  nest.depth[idx] = tarmac_instance_depth();
  nest.stack_left[idx] = tarmac_rt_stack_left();
  tarmac_call_result_t res;
  tarmac_call_status_t st = tarmac_instance_invoke(
      target, call->operation + 1, call->operation_len - 1, call->payload,
      call->payload_len, &res);
  note_result(idx, &res);
  int rc = 0;
  if (st == TARMAC_CALL_OK)
    rc = tarmac_buffer_set(response, res.data, res.len);
  else if (tarmac_buffer_append_str(error, "callee failed: ") != 0 ||
           tarmac_buffer_append(error, res.data, res.len) != 0)
    rc = -1;
  if (target != nest.targets[idx]) tarmac_instance_free(target);
  return st == TARMAC_CALL_OK && rc == 0 ? 0 : -1;
}

static tarmac_call_status_t run(tarmac_instance_t *inst, const char *op,
                                const char *payload,
                                tarmac_call_result_t *res) {
  return tarmac_instance_invoke(inst, op, strlen(op), (const uint8_t *)payload,
                                strlen(payload), res);
}

static bool contains(const tarmac_call_result_t *res, const char *text) {
  return memmem(res->data, res->len, text, strlen(text)) != NULL;
}

static tarmac_instance_t *make(const tarmac_limits_t *limits) {
  tarmac_error_t err;
  tarmac_instance_t *inst = tarmac_instance_new_limited(nest.module, limits,
                                                        &err);
  if (inst == NULL) fprintf(stderr, "instance: %s\n", err.message);
  return inst;
}

/* Replaces target idx by a new instance (limits NULL: the engine's). */
static void renew(unsigned idx, const tarmac_limits_t *limits) {
  tarmac_instance_free(nest.targets[idx]);
  nest.targets[idx] = make(limits);
}

static void free_targets(void) {
  for (unsigned i = 0; i < MAX_TARGETS; i++) {
    tarmac_instance_free(nest.targets[i]);
    nest.targets[i] = NULL;
  }
}

/* B answers; A's op and payload, read again after the host call, are
 * A's own; the depth seen inside A's callback is 1, 0 outside. */
static void test_nested_ok(void) {
  renew(0, NULL);
  renew(1, NULL);
  tarmac_call_result_t res;
  CHECK_EQ_INT(run(nest.targets[0], "c1e", "hi", &res), TARMAC_CALL_OK);
  CHECK_BYTES(res.data, res.len, "hi|c1e|hi");
  CHECK_EQ_INT(nest.depth[1], 1);
  CHECK_EQ_INT(tarmac_instance_depth(), 0);
  /* B calls C: B's own waPC state is B's too */
  renew(2, NULL);
  CHECK_EQ_INT(run(nest.targets[0], "c1c2e", "x", &res), TARMAC_CALL_OK);
  CHECK_BYTES(res.data, res.len, "x|c2e|x|c1c2e|x");
  CHECK_EQ_INT(nest.depth[2], 2);
}

/* Each of B's traps ends B's call only: A sees an error and lives on. */
static void test_callee_traps(void) {
  static const struct {
    const char *op;
    int trap;
    const char *text;
  } cases[] = {{"c1u", WASM_RT_TRAP_UNREACHABLE, "unreachable"},
               {"c1o", WASM_RT_TRAP_OOB, "out-of-bounds"},
               {"c1r", WASM_RT_TRAP_EXHAUSTION, "call stack exhausted"}};
  renew(0, NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    renew(1, NULL);
    tarmac_call_result_t res;
    CHECK_EQ_INT(run(nest.targets[0], cases[i].op, "", &res),
                 TARMAC_CALL_GUEST_ERROR);
    CHECK(contains(&res, cases[i].text));
    CHECK_EQ_INT(nest.status[1], TARMAC_CALL_TRAP);
    CHECK_EQ_INT(nest.trap[1], cases[i].trap);
    CHECK(tarmac_instance_alive(nest.targets[0]));
    CHECK(!tarmac_instance_alive(nest.targets[1]));
  }
  renew(1, NULL);
  tarmac_call_result_t res;
  CHECK_EQ_INT(run(nest.targets[0], "c1e", "again", &res), TARMAC_CALL_OK);
  CHECK_BYTES(res.data, res.len, "again|c1e|again");
}

/* A calling itself on the same instance is refused, not run re-entrantly. */
static void test_self_reentry(void) {
  renew(0, NULL);
  tarmac_call_result_t res;
  CHECK_EQ_INT(run(nest.targets[0], "c0e", "", &res), TARMAC_CALL_GUEST_ERROR);
  CHECK_EQ_INT(nest.status[0], TARMAC_CALL_DEAD);
  CHECK(strstr(nest.message[0], "already inside a call") != NULL);
  CHECK(tarmac_instance_alive(nest.targets[0]));
}

/* B's own deadline (100 ms) stops B; A (30 s) goes on. */
static void test_callee_deadline(void) {
  renew(0, NULL);
  renew(1, &(tarmac_limits_t){.timeout_ms = 100});
  uint64_t start = tarmac_clock_ms(CLOCK_MONOTONIC);
  tarmac_call_result_t res;
  CHECK_EQ_INT(run(nest.targets[0], "c1s", "", &res), TARMAC_CALL_GUEST_ERROR);
  uint64_t took = tarmac_clock_ms(CLOCK_MONOTONIC) - start;
  CHECK(took >= 90 && took < 10000);
  CHECK_EQ_INT(nest.trap[1], TARMAC_TRAP_DEADLINE);
  CHECK(contains(&res, "deadline exceeded"));
  CHECK(tarmac_instance_alive(nest.targets[0]));
}

/* A's deadline (150 ms) passes while B (30 s) spins: B traps then, and A
 * traps at its next safe point (its __host_error_len import). */
static void test_caller_deadline(void) {
  renew(0, &(tarmac_limits_t){.timeout_ms = 150});
  renew(1, NULL);
  uint64_t start = tarmac_clock_ms(CLOCK_MONOTONIC);
  tarmac_call_result_t res;
  CHECK_EQ_INT(run(nest.targets[0], "c1s", "", &res), TARMAC_CALL_TRAP);
  uint64_t took = tarmac_clock_ms(CLOCK_MONOTONIC) - start;
  CHECK_EQ_INT(res.trap, TARMAC_TRAP_DEADLINE);
  CHECK_EQ_INT(nest.trap[1], TARMAC_TRAP_DEADLINE);
  CHECK(took >= 140 && took < 10000);
  CHECK(!tarmac_instance_alive(nest.targets[0]));
}

/* A chain 0 -> 1 -> ... -> depth, the last recursing without bound: the
 * last traps (stack exhaustion, or refused for lack of stack), everyone
 * else sees an error and lives. Returns the deepest level reached. */
static unsigned run_chain(unsigned depth, const char *last) {
  char op[3 * MAX_TARGETS + 2] = "";
  for (unsigned i = 1; i <= depth; i++) {
    char step[3] = {'c', (char)('0' + i), '\0'};
    strcat(op, step);
  }
  strcat(op, last);
  for (unsigned i = 0; i <= depth; i++) renew(i, NULL);
  memset(nest.status, 0xff, sizeof nest.status);
  tarmac_call_result_t res;
  tarmac_call_status_t st = run(nest.targets[0], op, "", &res);
  CHECK(st == TARMAC_CALL_GUEST_ERROR);
  CHECK(contains(&res, "call stack exhausted"));
  CHECK(tarmac_instance_alive(nest.targets[0]));
  unsigned reached = 0;
  while (reached < depth && nest.status[reached + 1] != (tarmac_call_status_t)-1)
    reached++;
  CHECK(nest.status[reached] == TARMAC_CALL_TRAP);
  CHECK_EQ_INT(nest.trap[reached], WASM_RT_TRAP_EXHAUSTION);
  return reached;
}

typedef struct {
  unsigned depth;
  unsigned reached;
  size_t per_level; /* native stack one nesting level took */
} chain_run_t;

static void *chain_thread(void *arg) {
  chain_run_t *c = arg;
  c->reached = run_chain(c->depth, "r");
  if (c->reached >= 2)
    c->per_level = (nest.stack_left[1] - nest.stack_left[c->reached]) /
                   (c->reached - 1);
  return NULL;
}

/* On a thread with `stack_bytes` of stack (0: the default, like the HTTP
 * crew's threads). */
static chain_run_t chain_on_thread(unsigned depth, size_t stack_bytes) {
  chain_run_t c = {depth, 0, 0};
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  if (stack_bytes) pthread_attr_setstacksize(&attr, stack_bytes);
  CHECK_EQ_INT(pthread_create(&t, &attr, chain_thread, &c), 0);
  pthread_join(t, NULL);
  pthread_attr_destroy(&attr);
  return c;
}

static void test_chains(void) {
  CHECK_EQ_INT(run_chain(8, "r"), 8); /* the main thread (job mode) */
  chain_run_t deep = chain_on_thread(40, 0);
  CHECK_EQ_INT(deep.reached, 40);
  fprintf(stderr, "native stack per nesting level: %zu bytes\n",
          deep.per_level);
  /* 544 KiB, 32 KiB above TARMAC_ENGINE_NESTED_STACK_RESERVE: the chain
   * (60 levels of at least ~1.4 KiB each) runs short of stack before its
   * end and is refused cleanly at the first level that has too little */
  chain_run_t small = chain_on_thread(60, 544u * 1024u);
  CHECK(small.reached < 60);
  CHECK(strstr(nest.message[small.reached],
               "too little stack left for a nested call") != NULL);
  free_targets();
}

typedef struct {
  tarmac_call_result_t res;
  tarmac_call_status_t status;
  size_t calls_left; /* stack left in the last callback, bytes */
} deep_run_t;

static void *deep_thread(void *arg) {
  deep_run_t *d = arg;
  d->status = run(nest.targets[0], "d1e", "", &d->res);
  d->calls_left = nest.stack_left[1];
  return NULL;
}

/* A hostile caller recursing without bound and calling B at every level
 * (on a thread with the default stack, like the HTTP crew's): B is
 * refused once too little stack is left, then A's own imports refuse and
 * A traps with exhaustion; the process lives on. */
static void test_hostile_deep_caller(void) {
  renew(0, NULL);
  renew(1, NULL);
  deep_run_t d = {0};
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, deep_thread, &d), 0);
  pthread_join(t, NULL);
  CHECK_EQ_INT(d.status, TARMAC_CALL_TRAP);
  CHECK_EQ_INT(d.res.trap, WASM_RT_TRAP_EXHAUSTION);
  CHECK(!tarmac_instance_alive(nest.targets[1])); /* refused: a trap of B's */
  /* the last callback ran just above the import's reserve */
  CHECK(d.calls_left < TARMAC_ENGINE_NESTED_STACK_RESERVE);
}

/* An instance made inside A's call when the process budget is spent
 * fails cleanly; A sees the error. */
static void test_budget_nested(void) {
  renew(0, NULL);
  tarmac_rt_set_memory_budget(tarmac_rt_memory_committed() + 65536);
  tarmac_call_result_t res;
  CHECK_EQ_INT(run(nest.targets[0], "cne", "", &res), TARMAC_CALL_GUEST_ERROR);
  tarmac_rt_set_memory_budget(0);
  CHECK(contains(&res, "over budget"));
  CHECK(tarmac_instance_alive(nest.targets[0]));
  CHECK_EQ_INT(run(nest.targets[0], "cne", "ok", &res), TARMAC_CALL_OK);
}

/* Spins `inst` and checks its own deadline stopped it, not the engine's. */
static void check_deadline(tarmac_instance_t *inst, uint64_t timeout_ms) {
  uint64_t start = tarmac_clock_ms(CLOCK_MONOTONIC);
  tarmac_call_result_t res;
  CHECK_EQ_INT(run(inst, "s", "", &res), TARMAC_CALL_TRAP);
  CHECK_EQ_INT(res.trap, TARMAC_TRAP_DEADLINE);
  uint64_t took = tarmac_clock_ms(CLOCK_MONOTONIC) - start;
  CHECK(took + 10 >= timeout_ms && took < 10000);
}

static void check_grow(tarmac_instance_t *inst, bool allowed) {
  tarmac_call_result_t res;
  CHECK_EQ_INT(run(inst, "g", "", &res),
               allowed ? TARMAC_CALL_OK : TARMAC_CALL_GUEST_ERROR);
}

/* Two instances of one module under different limits, directly and from
 * snapshots; the module loaded twice shares its artifact. */
static void test_limits(engine_fixture_t *f) {
  tarmac_limits_t tight = {.timeout_ms = 50, .memory_limit = 1u << 20};
  tarmac_limits_t loose = {.timeout_ms = 400};
  tarmac_instance_t *a = make(&tight), *b = make(&loose);
  check_grow(a, false);
  check_grow(b, true);
  check_deadline(a, 50);
  check_deadline(b, 400);
  tarmac_instance_free(a);
  tarmac_instance_free(b);
  tarmac_error_t err;
  tarmac_snapshot_t *snap = tarmac_snapshot_new_limited(nest.module, &tight,
                                                        &err);
  CHECK(snap != NULL);
  tarmac_instance_t *c = snap ? tarmac_instance_from_snapshot(snap, &err) : NULL;
  CHECK(c != NULL);
  if (c) check_grow(c, false);
  if (c) check_deadline(c, 50);
  tarmac_instance_free(c);
  tarmac_snapshot_release(snap);
  tarmac_module_t *again = fixture_load(f, "TARMAC_GUEST_DIR", "nested_caller");
  CHECK(strcmp(tarmac_module_artifact(again),
               tarmac_module_artifact(nest.module)) == 0);
  tarmac_module_release(again);
}

int main(void) {
  engine_fixture_t f;
  fixture_open_with(&f, 0, 0);
  CHECK_EQ_INT(tarmac_callbacks_add(f.callbacks, "tarmac", "function", NULL,
                                    call_function, NULL),
               0);
  nest.module = fixture_load(&f, "TARMAC_GUEST_DIR", "nested_caller");
  test_nested_ok();
  test_callee_traps();
  test_self_reentry();
  test_callee_deadline();
  test_caller_deadline();
  test_chains();
  test_hostile_deep_caller();
  test_budget_nested();
  test_limits(&f);
  free_targets();
  tarmac_module_release(nest.module);
  fixture_close(&f);
  TEST_EXIT();
}
