/* 20,000 instance create/destroy cycles (with an invocation each, and a
 * trap every 100th) leave the process's virtual and resident size flat:
 * memory reservations, tables and host state are released completely. */
#include <stdio.h>
#include <string.h>

#include "engine_fixture.h"
#include "runtime/runtime.h"
#include "test.h"

#define CYCLES 20000
#define WARMUP 1000

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1 /* ASan's quarantine holds freed memory; LSan checks */
#else
#define UNDER_ASAN 0
#endif

static long status_kib(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long value = -1;
  size_t n = strlen(field);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') {
      sscanf(line + n + 1, "%ld", &value);
      break;
    }
  if (f) fclose(f);
  return value;
}

static int cycle(tarmac_module_t *module, int i) {
  tarmac_error_t err;
  tarmac_instance_t *inst = tarmac_instance_new(module, &err);
  if (!inst) return -1;
  const char *op = i % 100 == 0 ? "oob_store" : "respond";
  tarmac_call_result_t r;
  tarmac_call_status_t st = tarmac_instance_invoke(
      inst, op, strlen(op), (const uint8_t *)"payload", 7, &r);
  tarmac_instance_free(inst);
  return st == (i % 100 == 0 ? TARMAC_CALL_TRAP : TARMAC_CALL_OK) ? 0 : -1;
}

int main(void) {
  engine_fixture_t f;
  fixture_open(&f, 0);
  tarmac_module_t *module = fixture_load(&f, "TARMAC_GUEST_DIR", "wapc_ops");
  int failures = 0;
  for (int i = 0; i < WARMUP; i++) failures += cycle(module, i) != 0;
  long vm_before = status_kib("VmSize"), rss_before = status_kib("VmRSS");
  for (int i = WARMUP; i < CYCLES; i++) failures += cycle(module, i) != 0;
  long vm_after = status_kib("VmSize"), rss_after = status_kib("VmRSS");
  printf("after %d cycles: VmSize %ld -> %ld KiB, VmRSS %ld -> %ld KiB\n",
         CYCLES, vm_before, vm_after, rss_before, rss_after);
  CHECK_EQ_INT(failures, 0);
  CHECK_EQ_INT(tarmac_rt_live_memories(), 0);
  if (!UNDER_ASAN) {
    CHECK(vm_after - vm_before <= 1024);  /* flat: within 1 MiB */
    CHECK(rss_after - rss_before <= 1024);
  }
  tarmac_module_release(module);
  fixture_close(&f);
  TEST_EXIT();
}
