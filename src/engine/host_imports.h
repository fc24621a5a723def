/* engine/host_imports: the table of functions the host offers to guests.
 * The engine checks every import of a module against these tables before
 * compiling it: an import that is not listed, or whose wasm signature
 * differs, is a load error naming `module.field`. Each import family (wapc,
 * wasi, env) owns its table next to its implementation.
 *
 * Signatures are "params:results" with one letter per value:
 * i = i32, I = i64, f = f32, F = f64. "ii:i" is (i32, i32) -> i32;
 * ":" is () -> (). */
#ifndef TARMAC_ENGINE_HOST_IMPORTS_H
#define TARMAC_ENGINE_HOST_IMPORTS_H

typedef struct {
  const char *module;
  const char *field;
  const char *signature;
} tarmac_host_import_t;

/* Each table ends with an entry whose module is NULL. */
extern const tarmac_host_import_t tarmac_wapc_imports[];
/* Both wasi_snapshot_preview1 and wasi_unstable. */
extern const tarmac_host_import_t tarmac_wasi_imports[];
/* env.abort (AssemblyScript). */
extern const tarmac_host_import_t tarmac_env_imports[];

/* Finds module.field in all tables; NULL when the host has no such import. */
const tarmac_host_import_t *tarmac_host_import_find(const char *module,
                                                    const char *field);

#endif
