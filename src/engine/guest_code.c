/* Guest code ranges of a loaded module (see guest_code.h). */
#include "engine/guest_code.h"

#include <link.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/deadline.h"

typedef struct {
  uintptr_t symbol;
  tarmac_guest_code_t *out;
  bool found, failed;
} search_t;

static bool object_contains(const struct dl_phdr_info *info, uintptr_t addr) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && addr >= start && addr - start < ph->p_memsz)
      return true;
  }
  return false;
}

static int visit_object(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  search_t *s = arg;
  if (!object_contains(info, s->symbol)) return 0;
  s->found = true;
  for (int i = 0; i < info->dlpi_phnum && !s->failed; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uintptr_t start = info->dlpi_addr + ph->p_vaddr;
    int id = s->out->count < TARMAC_GUEST_CODE_MAX_RANGES
                 ? tarmac_rt_code_register(start, start + ph->p_memsz)
                 : -1;
    if (id < 0)
      s->failed = true;
    else
      s->out->ids[s->out->count++] = id;
  }
  return 1; /* stop: the object was found */
}

int tarmac_guest_code_register(const void *symbol, tarmac_guest_code_t *out) {
  out->count = 0;
  search_t s = {.symbol = (uintptr_t)symbol, .out = out};
  dl_iterate_phdr(visit_object, &s);
  if (s.found && !s.failed && out->count > 0) return 0;
  tarmac_guest_code_unregister(out);
  return -1;
}

void tarmac_guest_code_unregister(tarmac_guest_code_t *code) {
  for (int i = 0; i < code->count; i++) tarmac_rt_code_unregister(code->ids[i]);
  code->count = 0;
}
