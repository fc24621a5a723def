/* engine/wasm_binary: reads what the engine must know of a module before
 * compiling it — its function types, imports and exports — straight from the
 * binary, with every length checked. Full validation is wasm2c's job. */
#ifndef TARMAC_ENGINE_WASM_BINARY_H
#define TARMAC_ENGINE_WASM_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

enum {
  WASM_EXTERN_FUNC = 0,
  WASM_EXTERN_TABLE = 1,
  WASM_EXTERN_MEMORY = 2,
  WASM_EXTERN_GLOBAL = 3,
  WASM_EXTERN_TAG = 4,
};

typedef struct {
  char *module;
  char *field;
  uint8_t kind;
  uint32_t type_index; /* functions only */
} wasm_import_t;

typedef struct {
  char *name;
  uint8_t kind;
  uint32_t index;
} wasm_export_t;

typedef struct {
  char **signatures; /* per type: "params:results", see host_imports.h */
  uint32_t type_count;
  wasm_import_t *imports;
  uint32_t import_count;
  uint32_t imported_function_count;
  uint32_t *function_types; /* type index per defined function */
  uint32_t function_count;
  wasm_export_t *exports;
  uint32_t export_count;
  bool reference_globals; /* a defined funcref/externref global (or one
                             whose type could not be read) */
} wasm_module_info_t;

/* Parses the sections the engine needs. Returns TARMAC_LOAD_OK, or
 * TARMAC_LOAD_NOT_WASM / TARMAC_LOAD_INVALID with a reason in err (and
 * nothing to free). */
tarmac_load_status_t wasm_module_info_parse(const uint8_t *bytes, size_t len,
                                            wasm_module_info_t *info,
                                            tarmac_error_t *err);
void wasm_module_info_free(wasm_module_info_t *info);

/* The export named `name`, or NULL. */
const wasm_export_t *wasm_module_info_export(const wasm_module_info_t *info,
                                             const char *name);
/* Signature string of function `index` (imports first), or NULL. */
const char *wasm_module_info_function_signature(const wasm_module_info_t *info,
                                                uint32_t index);

#endif
