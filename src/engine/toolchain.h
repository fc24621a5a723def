/* engine/toolchain: turns module bytes into a native shared object by
 * running wasm2c and the C compiler (no shell; argument vectors only), with
 * a generated glue file (engine/glue.h) that exports the module descriptor.
 * Also names the toolchain's identity for cache keys. wasm2c must be the
 * version the runtime is built for (TARMAC_WASM2C_REQUIRED_VERSION); its
 * `--version` answer is noted in the cache per wasm2c binary, so only a new
 * or changed wasm2c is ever run at start-up. */
#ifndef TARMAC_ENGINE_TOOLCHAIN_H
#define TARMAC_ENGINE_TOOLCHAIN_H

#include <stdbool.h>

#include "engine/engine.h"
#include "engine/wasm_binary.h"

/* The runtime (imports called through tables, the glue's assertions) is
 * written against this wasm2c's output. */
#define TARMAC_WASM2C_REQUIRED_VERSION "1.0.32"

typedef struct {
  char **cc_argv;     /* the C compiler command (CC split on blanks); owned */
  char *wasm2c;       /* wasm2c program, resolved path; owned */
  char *identity;     /* compiler and wasm2c (path, size, mtime, inode),
                         wasm2c's version, flags, libraries; owned */
} tarmac_toolchain_t;

/* Resolves the programs and checks wasm2c's version (noted in cache_dir,
 * which must exist). A missing compiler is not an error here (compiling
 * reports it); a missing or wrong wasm2c is. 0, or -1 with err set. */
int tarmac_toolchain_init(tarmac_toolchain_t *tc, const char *cc,
                          const char *wasm2c, const char *cache_dir,
                          tarmac_error_t *err);
void tarmac_toolchain_free(tarmac_toolchain_t *tc);

/* One compilation; every field is borrowed. */
typedef struct {
  const uint8_t *bytes;
  size_t len;
  const wasm_module_info_t *info;
  const char *cache_key;
  bool wapc;               /* fill the descriptor's waPC fields */
  const char *work_dir;    /* existing, empty, owned by the caller */
  const char *output_path; /* the shared object to write */
} tarmac_compile_job_t;

/* Compiles job->bytes into a shared object at job->output_path. On failure
 * `recordable` says whether the failure is the module's own under this
 * toolchain (a tool ran and refused it), so it may be remembered under the
 * cache key, rather than an accident of the moment (a tool missing or
 * killed, an I/O error). */
tarmac_load_status_t tarmac_toolchain_compile(const tarmac_toolchain_t *tc,
                                              const tarmac_compile_job_t *job,
                                              bool *recordable,
                                              tarmac_error_t *err);

#endif
