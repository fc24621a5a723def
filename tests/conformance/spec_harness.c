/* spec_harness: see spec_harness.h. */
#include "spec_harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>


/* spectest's limits, as the reference interpreter defines them. */
#define SPECTEST_MEMORY_PAGES 1u
#define SPECTEST_MEMORY_MAX_PAGES 2u
#define SPECTEST_TABLE_SIZE 10u
#define SPECTEST_TABLE_MAX 20u

/* Runs under trap protection: the runtime traps when it cannot allocate. */
static void spectest_allocate(void *arg) {
  struct Z_spectest_instance_t *spectest = arg;
  wasm_rt_allocate_memory(&spectest->memory, SPECTEST_MEMORY_PAGES,
                          SPECTEST_MEMORY_MAX_PAGES);
  wasm_rt_allocate_funcref_table(&spectest->table, SPECTEST_TABLE_SIZE,
                                 SPECTEST_TABLE_MAX);
}

int spectest_instantiate(struct Z_spectest_instance_t *spectest) {
  memset(spectest, 0, sizeof *spectest);
  spectest->global_i32 = 666;
  spectest->global_i64 = 666;
  spectest->global_f32 = 666.6f;
  spectest->global_f64 = 666.6;
  int trap = tarmac_rt_run_protected(spectest_allocate, spectest);
  if (trap != WASM_RT_TRAP_NONE) {
    fprintf(stderr, "spectest: allocating its memory and table trapped: %s\n",
            tarmac_rt_trap_name(trap));
    return -1;
  }
  return 0;
}

void spectest_free(struct Z_spectest_instance_t *spectest) {
  if (spectest->memory.data)
    wasm_rt_free_memory(&spectest->memory);
  if (spectest->table.data)
    wasm_rt_free_funcref_table(&spectest->table);
}

void Z_spectestZ_print(struct Z_spectest_instance_t *spectest) {
  (void)spectest;
  printf("spectest print\n");
}

void Z_spectestZ_print_i32(struct Z_spectest_instance_t *spectest,
                           uint32_t v) {
  (void)spectest;
  printf("spectest print_i32: %" PRIu32 "\n", v);
}

void Z_spectestZ_print_i64(struct Z_spectest_instance_t *spectest,
                           uint64_t v) {
  (void)spectest;
  printf("spectest print_i64: %" PRIu64 "\n", v);
}

void Z_spectestZ_print_f32(struct Z_spectest_instance_t *spectest, float v) {
  (void)spectest;
  printf("spectest print_f32: %g\n", (double)v);
}

void Z_spectestZ_print_f64(struct Z_spectest_instance_t *spectest, double v) {
  (void)spectest;
  printf("spectest print_f64: %g\n", v);
}

void Z_spectestZ_print_i32_f32(struct Z_spectest_instance_t *spectest,
                               uint32_t i, float f) {
  (void)spectest;
  printf("spectest print_i32_f32: %" PRIu32 " %g\n", i, (double)f);
}

void Z_spectestZ_print_f64_f64(struct Z_spectest_instance_t *spectest,
                               double a, double b) {
  (void)spectest;
  printf("spectest print_f64_f64: %g %g\n", a, b);
}

uint32_t *Z_spectestZ_global_i32(struct Z_spectest_instance_t *spectest) {
  return &spectest->global_i32;
}

uint64_t *Z_spectestZ_global_i64(struct Z_spectest_instance_t *spectest) {
  return &spectest->global_i64;
}

float *Z_spectestZ_global_f32(struct Z_spectest_instance_t *spectest) {
  return &spectest->global_f32;
}

double *Z_spectestZ_global_f64(struct Z_spectest_instance_t *spectest) {
  return &spectest->global_f64;
}

wasm_rt_memory_t *Z_spectestZ_memory(struct Z_spectest_instance_t *spectest) {
  return &spectest->memory;
}

wasm_rt_funcref_table_t *Z_spectestZ_table(
    struct Z_spectest_instance_t *spectest) {
  return &spectest->table;
}

void spec_report(struct spec_tally *tally, const struct spec_command *command,
                 bool ok, const char *why) {
  if (ok) {
    tally->passed++;
    printf("PASS %u %u %s\n", command->id, command->line, command->type);
  } else {
    tally->failed++;
    printf("FAIL %u %u %s: %s\n", command->id, command->line, command->type,
           why ? why : "failed");
  }
  fflush(stdout);
}

static const char *spec_type_name(enum spec_type type) {
  switch (type) {
  case SPEC_I32: return "i32";
  case SPEC_I64: return "i64";
  case SPEC_F32: return "f32";
  case SPEC_F64: return "f64";
  case SPEC_FUNCREF: return "funcref";
  case SPEC_EXTERNREF: return "externref";
  }
  return "?";
}

static bool spec_is_nan(enum spec_type type, uint64_t bits, bool canonical) {
  uint64_t magnitude, quiet_nan;
  if (type == SPEC_F32) {
    magnitude = bits & 0x7fffffffu;
    quiet_nan = 0x7fc00000u;
  } else {
    magnitude = bits & 0x7fffffffffffffffu;
    quiet_nan = 0x7ff8000000000000u;
  }
  return canonical ? magnitude == quiet_nan
                   : (magnitude & quiet_nan) == quiet_nan;
}

static bool spec_value_matches(const struct spec_value *expected,
                               const struct spec_value *got) {
  if (expected->type != got->type)
    return false;
  switch (expected->expect) {
  case SPEC_EXACT:
    return expected->bits == got->bits && expected->ref == got->ref;
  case SPEC_NAN_CANONICAL:
    return spec_is_nan(got->type, got->bits, true);
  case SPEC_NAN_ARITHMETIC:
    return spec_is_nan(got->type, got->bits, false);
  case SPEC_NON_NULL:
    return got->ref != NULL;
  }
  return false;
}

static void spec_describe(char *out, size_t size,
                          const struct spec_value *v) {
  const char *name = spec_type_name(v->type);
  if (v->expect == SPEC_NAN_CANONICAL)
    snprintf(out, size, "%s:nan:canonical", name);
  else if (v->expect == SPEC_NAN_ARITHMETIC)
    snprintf(out, size, "%s:nan:arithmetic", name);
  else if (v->expect == SPEC_NON_NULL)
    snprintf(out, size, "%s:non-null", name);
  else if (v->type == SPEC_FUNCREF || v->type == SPEC_EXTERNREF)
    snprintf(out, size, "%s:%p", name, v->ref);
  else
    snprintf(out, size, "%s:0x%" PRIx64, name, v->bits);
}

void spec_check_return(struct spec_tally *tally,
                       const struct spec_command *command, int trap,
                       const struct spec_value *expected,
                       const struct spec_value *got, size_t n) {
  char why[256];
  if (trap != WASM_RT_TRAP_NONE) {
    snprintf(why, sizeof why, "unexpected trap: %s",
             tarmac_rt_trap_name(trap));
    spec_report(tally, command, false, why);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (!spec_value_matches(&expected[i], &got[i])) {
      char want[64], have[64];
      spec_describe(want, sizeof want, &expected[i]);
      spec_describe(have, sizeof have, &got[i]);
      snprintf(why, sizeof why, "result %zu: expected %s, got %s", i, want,
               have);
      spec_report(tally, command, false, why);
      return;
    }
  }
  spec_report(tally, command, true, NULL);
}

int spec_trap_for_text(const char *text) {
  static const struct {
    const char *prefix;
    int trap;
  } kinds[] = {
      {"out of bounds memory access", WASM_RT_TRAP_OOB},
      {"out of bounds table access", WASM_RT_TRAP_OOB},
      {"undefined element", WASM_RT_TRAP_CALL_INDIRECT},
      {"uninitialized element", WASM_RT_TRAP_CALL_INDIRECT},
      {"indirect call type mismatch", WASM_RT_TRAP_CALL_INDIRECT},
      {"integer divide by zero", WASM_RT_TRAP_DIV_BY_ZERO},
      {"integer overflow", WASM_RT_TRAP_INT_OVERFLOW},
      {"invalid conversion to integer", WASM_RT_TRAP_INVALID_CONVERSION},
      {"unreachable", WASM_RT_TRAP_UNREACHABLE},
      {"call stack exhausted", WASM_RT_TRAP_EXHAUSTION},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    if (strncmp(text, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
      return kinds[i].trap;
  }
  return -1;
}

void spec_check_trap(struct spec_tally *tally,
                     const struct spec_command *command, int trap,
                     const char *text) {
  char why[256];
  int want = spec_trap_for_text(text);
  if (want < 0) {
    snprintf(why, sizeof why, "runner knows no trap kind for \"%s\"", text);
    spec_report(tally, command, false, why);
    return;
  }
  if (trap == want) {
    spec_report(tally, command, true, NULL);
    return;
  }
  if (trap == WASM_RT_TRAP_NONE)
    snprintf(why, sizeof why, "expected trap \"%s\", returned normally",
             text);
  else
    snprintf(why, sizeof why, "expected trap \"%s\", got \"%s\"", text,
             tarmac_rt_trap_name(trap));
  spec_report(tally, command, false, why);
}

void spec_run_actions(struct spec_run *run, void *driver,
                      const struct spec_caller *callers,
                      const struct spec_action *actions, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const struct spec_action *action = &actions[i];
    const struct spec_caller *caller = &callers[action->caller];
    if (!*caller->live) {
      spec_report(&run->tally, &action->command, false,
                  "module not instantiated");
      continue;
    }
    run->args = action->args;
    int trap = tarmac_rt_run_protected(caller->call, driver);
    if (action->trap)
      spec_check_trap(&run->tally, &action->command, trap, action->trap);
    else
      spec_check_return(&run->tally, &action->command, trap,
                        action->expected, run->got, action->nexpected);
  }
}

void spec_bad_binding(const char *module, const char *name) {
  fprintf(stderr, "spec driver: import %s.%s bound to no known module\n",
          module, name);
  abort();
}
