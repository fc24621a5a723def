/* spec_harness: the fixed C half of the WebAssembly spec-test runner. It is
 * linked into every driver that tests/conformance/run_spec.py generates from
 * a .wast file, together with the wasm2c translations of that file's modules
 * and Tarmac's runtime. It owns:
 *  - the "spectest" host module the spec tests import from (print functions,
 *    global_i32/i64/f32/f64, a 10..20 funcref table, a 1..2 page memory);
 *  - value representation and comparison for assertion results (exact bits,
 *    nan:canonical, nan:arithmetic, reference null/non-null/identity);
 *  - mapping of the spec's trap texts to runtime trap kinds;
 *  - the result protocol the Python side reads: one line per command,
 *    "PASS <id> <line> <command>" or "FAIL <id> <line> <command>: <why>",
 *    where id is the command's index in wast2json's command list. */
#ifndef TARMAC_TESTS_CONFORMANCE_SPEC_HARNESS_H
#define TARMAC_TESTS_CONFORMANCE_SPEC_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <wasm-rt.h>

#include "runtime/runtime.h"

/* The spectest module's instance (wasm2c headers only forward-declare it). */
struct Z_spectest_instance_t {
  wasm_rt_memory_t memory;
  wasm_rt_funcref_table_t table;
  uint32_t global_i32;
  uint64_t global_i64;
  float global_f32;
  double global_f64;
};

/* Allocates the spectest memory and table; 0 on success, -1 (message on
 * stderr) when the runtime refused. */
int spectest_instantiate(struct Z_spectest_instance_t *spectest);
void spectest_free(struct Z_spectest_instance_t *spectest);

/* The spectest exports, named as wasm2c names imports. */
void Z_spectestZ_print(struct Z_spectest_instance_t *spectest);
void Z_spectestZ_print_i32(struct Z_spectest_instance_t *spectest, uint32_t);
void Z_spectestZ_print_i64(struct Z_spectest_instance_t *spectest, uint64_t);
void Z_spectestZ_print_f32(struct Z_spectest_instance_t *spectest, float);
void Z_spectestZ_print_f64(struct Z_spectest_instance_t *spectest, double);
void Z_spectestZ_print_i32_f32(struct Z_spectest_instance_t *spectest,
                               uint32_t, float);
void Z_spectestZ_print_f64_f64(struct Z_spectest_instance_t *spectest,
                               double, double);
uint32_t *Z_spectestZ_global_i32(struct Z_spectest_instance_t *spectest);
uint64_t *Z_spectestZ_global_i64(struct Z_spectest_instance_t *spectest);
float *Z_spectestZ_global_f32(struct Z_spectest_instance_t *spectest);
double *Z_spectestZ_global_f64(struct Z_spectest_instance_t *spectest);
wasm_rt_memory_t *Z_spectestZ_memory(struct Z_spectest_instance_t *spectest);
wasm_rt_funcref_table_t *Z_spectestZ_table(
    struct Z_spectest_instance_t *spectest);

enum spec_type {
  SPEC_I32,
  SPEC_I64,
  SPEC_F32,
  SPEC_F64,
  SPEC_FUNCREF,
  SPEC_EXTERNREF,
};

enum spec_expect {
  SPEC_EXACT,          /* same bits / same reference */
  SPEC_NAN_CANONICAL,  /* canonical NaN of either sign */
  SPEC_NAN_ARITHMETIC, /* NaN with the quiet bit set, any payload */
  SPEC_NON_NULL,       /* any non-null reference */
};

/* A value: numbers as their bit pattern, references as a pointer (the
 * funcref's function, or the externref itself). */
struct spec_value {
  enum spec_type type;
  enum spec_expect expect;
  uint64_t bits;
  const void *ref;
};

/* Host reference number n (spec "ref.extern n") as an externref; never
 * NULL, never dereferenced. A constant expression. */
#define SPEC_EXTERNREF_VALUE(n) ((void *)(uintptr_t)((n) + 1u))

static inline float spec_f32(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline double spec_f64(uint64_t bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

static inline struct spec_value spec_got_i32(uint32_t v) {
  return (struct spec_value){SPEC_I32, SPEC_EXACT, v, NULL};
}
static inline struct spec_value spec_got_i64(uint64_t v) {
  return (struct spec_value){SPEC_I64, SPEC_EXACT, v, NULL};
}
static inline struct spec_value spec_got_f32(float v) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  return (struct spec_value){SPEC_F32, SPEC_EXACT, bits, NULL};
}
static inline struct spec_value spec_got_f64(double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return (struct spec_value){SPEC_F64, SPEC_EXACT, bits, NULL};
}
static inline struct spec_value spec_got_funcref(wasm_rt_funcref_t v) {
  return (struct spec_value){SPEC_FUNCREF, SPEC_EXACT, 0,
                             (const void *)(uintptr_t)v.func};
}
static inline struct spec_value spec_got_externref(wasm_rt_externref_t v) {
  return (struct spec_value){SPEC_EXTERNREF, SPEC_EXACT, 0, v};
}

/* One command of the .wast file. */
struct spec_command {
  unsigned id;      /* index in wast2json's command list */
  unsigned line;    /* line in the .wast file */
  const char *type; /* "assert_return", "module", ... */
};

/* Counts of the commands a driver reported. */
struct spec_tally {
  unsigned passed;
  unsigned failed;
};

/* Most results (or arguments) of one call the harness holds. */
#define SPEC_MAX_VALUES 32

/* State shared by a driver and spec_run_actions(): the tally, the
 * arguments of the call being made and the values it returned. */
struct spec_run {
  struct spec_tally tally;
  const struct spec_value *args;
  struct spec_value got[SPEC_MAX_VALUES];
};

/* A generated function calling one export: reads run.args, fills run.got.
 * Runs under trap protection; its argument is the driver. `live` says
 * whether the export's module instance is usable. */
struct spec_caller {
  tarmac_rt_body_fn call;
  const bool *live;
};

/* One invoke/get command: assert_return (trap NULL; nexpected values) or
 * assert_trap/assert_exhaustion (trap = the spec's text); a plain action is
 * an assert_return with no values. */
struct spec_action {
  struct spec_command command;
  unsigned caller;
  const char *trap;
  unsigned nexpected;
  const struct spec_value *args;
  const struct spec_value *expected;
};

/* Runs and reports actions[0..n) in order; callers[] indexed by
 * spec_action.caller, each called with `driver`. */
void spec_run_actions(struct spec_run *run, void *driver,
                      const struct spec_caller *callers,
                      const struct spec_action *actions, size_t n);

/* Prints one result line and counts it. `why` may be NULL when ok. */
void spec_report(struct spec_tally *tally, const struct spec_command *command,
                 bool ok, const char *why);

/* Reports an assert_return / action outcome: `trap` from
 * tarmac_rt_run_protected, then n got values against n expected ones. */
void spec_check_return(struct spec_tally *tally,
                       const struct spec_command *command, int trap,
                       const struct spec_value *expected,
                       const struct spec_value *got, size_t n);

/* Reports an assert_trap / assert_exhaustion / assert_uninstantiable
 * outcome: the trap must be the kind the spec text names. */
void spec_check_trap(struct spec_tally *tally,
                     const struct spec_command *command, int trap,
                     const char *text);

/* The runtime trap kind for a spec trap text, or -1 for an unknown text. */
int spec_trap_for_text(const char *text);

/* Whether a memory/table of current size `size` (pages/elements) satisfies
 * an import's minimum (the maximum is checked by the generator, which knows
 * the declared limits). */
static inline bool spec_size_fits(uint64_t size, uint64_t import_min) {
  return size >= import_min;
}

/* Called by generated import forwarders when their binding names no module
 * the generator knew of: a generator bug, so the driver aborts loudly. */
WASM_RT_NO_RETURN void spec_bad_binding(const char *module, const char *name);

#endif
