/* Checked access to a guest's memory for the WASI imports. */
#include "engine/instance_state.h"
#include "runtime/runtime.h"
#include "wasi/wasi_host.h"

#include <stdio.h>

uint8_t *wasi_guest_range(struct tarmac_instance *instance, uint32_t ptr,
                          uint32_t len, const char *what) {
  if (!instance->memory) {
    char detail[128];
    snprintf(detail, sizeof detail,
             "%s: the module exports no memory to pass data in", what);
    tarmac_rt_trap_detail_set(TARMAC_TRAP_HOST_FAULT, detail);
  }
  return tarmac_rt_guest_range(instance->memory, ptr, len, what);
}

uint8_t *wasi_guest_array(struct tarmac_instance *instance, uint32_t ptr,
                          uint32_t count, uint32_t size, const char *what) {
  uint64_t bytes = (uint64_t)count * size;
  if (bytes > UINT32_MAX) {
    char detail[160];
    snprintf(detail, sizeof detail,
             "%s: %u elements of %u bytes exceed the 4 GiB address space",
             what, count, size);
    tarmac_rt_trap_detail_set(WASM_RT_TRAP_OOB, detail);
  }
  return wasi_guest_range(instance, ptr, (uint32_t)bytes, what);
}

void wasi_guest_store_u32(struct tarmac_instance *instance, uint32_t ptr,
                          uint32_t value, const char *what) {
  wasi_put_u32(wasi_guest_range(instance, ptr, 4, what), value);
}

void wasi_guest_store_u64(struct tarmac_instance *instance, uint32_t ptr,
                          uint64_t value, const char *what) {
  wasi_put_u64(wasi_guest_range(instance, ptr, 8, what), value);
}

uint64_t wasi_iovecs_check(struct tarmac_instance *instance, uint32_t iovs,
                           uint32_t count, const char *what) {
  const uint8_t *array =
      wasi_guest_array(instance, iovs, count, WASI_CIOVEC_SIZE, what);
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *iov = array + (size_t)i * WASI_CIOVEC_SIZE;
    uint32_t len = wasi_load_u32(iov + 4);
    wasi_guest_range(instance, wasi_load_u32(iov), len, what);
    total += len;
  }
  return total;
}
