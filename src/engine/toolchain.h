/* engine/toolchain: turns module bytes into a native shared object by
 * running wasm2c and the C compiler (no shell; argument vectors only), with
 * a generated glue file that exports the module descriptor. Also names the
 * toolchain's identity for cache keys without running anything. */
#ifndef TARMAC_ENGINE_TOOLCHAIN_H
#define TARMAC_ENGINE_TOOLCHAIN_H

#include "engine/engine.h"
#include "engine/wasm_binary.h"

typedef struct {
  char **cc_argv;     /* the C compiler command (CC split on blanks) */
  char *wasm2c;       /* wasm2c program */
  char *identity;     /* resolved paths, sizes and times, and flags */
} tarmac_toolchain_t;

/* Resolves the programs; never fails for a missing program (compilation
 * reports it). -1 only when out of memory. */
int tarmac_toolchain_init(tarmac_toolchain_t *tc, const char *cc,
                          const char *wasm2c);
void tarmac_toolchain_free(tarmac_toolchain_t *tc);

/* Compiles `bytes` into a shared object at output_path, using work_dir
 * (existing, empty, owned by the caller) for intermediate files. */
tarmac_load_status_t tarmac_toolchain_compile(const tarmac_toolchain_t *tc,
                                              const uint8_t *bytes, size_t len,
                                              const wasm_module_info_t *info,
                                              const char *cache_key,
                                              const char *work_dir,
                                              const char *output_path,
                                              tarmac_error_t *err);

#endif
