/* engine/module_abi: the contract between the host and a compiled module.
 * Every artifact exports one `tarmac_module_descriptor` built by a glue file
 * the engine generates next to wasm2c's output (engine/glue.c); the host
 * reaches the module only through it. The structs' text is compiled into the
 * glue from the same macros, so both sides always agree;
 * TARMAC_MODULE_ABI_VERSION (part of the cache key) changes whenever the
 * structs or the runtime ABI do. */
#ifndef TARMAC_ENGINE_MODULE_ABI_H
#define TARMAC_ENGINE_MODULE_ABI_H

#include <stddef.h>
#include <stdint.h>

#include <wasm-rt.h>

/* 3: import-module field offsets (snapshots); 4: bulk memory in pieces */
#define TARMAC_MODULE_ABI_VERSION 4u
#define TARMAC_MODULE_DESCRIPTOR_SYMBOL "tarmac_module_descriptor"

/* One export. `function` is wasm2c's function for it, to be cast to its
 * real type: for a function export `R f(void *guest, params...)`, for a
 * memory, table or global the accessor `T *f(void *guest)`. */
#define TARMAC_MODULE_EXPORT_FIELDS                                        \
  const char *name;                                                        \
  uint8_t kind; /* WASM_EXTERN_* (engine/wasm_binary.h) */                 \
  void (*function)(void);

/* `imports[i]` given to instantiate is the instance pointer that the
 * functions of import module `import_modules[i]` receive (wasm2c's order).
 * The waPC fields (memory ... wapc_init) are NULL for a module loaded
 * without the waPC checks (tarmac_module_load_unchecked).
 * Snapshots (engine/snapshot.c) relocate an instance struct copied from
 * another: `import_instance_offsets[i]` is the offset of the field holding
 * import module i's instance pointer (SIZE_MAX when wasm2c keeps none), and
 * `reference_globals` says a defined global holds a reference, which
 * cannot be relocated (such a module gets no shared snapshot). */
#define TARMAC_MODULE_DESCRIPTOR_FIELDS                                    \
  uint32_t abi_version;                                                    \
  const char *cache_key;                                                   \
  size_t instance_size;                                                    \
  void (*init_module)(void);                                               \
  uint32_t import_module_count;                                            \
  const char *const *import_modules;                                       \
  void (*instantiate)(void *guest, void *const *imports);                  \
  void (*free_instance)(void *guest);                                      \
  uint32_t export_count;                                                   \
  const tarmac_module_export_t *exports;                                   \
  wasm_rt_memory_t *(*memory)(void *guest);                                \
  uint32_t (*guest_call)(void *guest, uint32_t op_len,                     \
                         uint32_t payload_len);                            \
  void (*start)(void *guest);                                              \
  void (*initialize)(void *guest);                                         \
  void (*wapc_init)(void *guest);                                          \
  const size_t *import_instance_offsets;                                   \
  uint32_t reference_globals;

typedef struct {
  TARMAC_MODULE_EXPORT_FIELDS
} tarmac_module_export_t;

typedef struct {
  TARMAC_MODULE_DESCRIPTOR_FIELDS
} tarmac_module_descriptor_t;

#define TARMAC_ABI_STRINGIFY_(...) #__VA_ARGS__
#define TARMAC_ABI_STRINGIFY(...) TARMAC_ABI_STRINGIFY_(__VA_ARGS__)
/* The struct definitions as C source, for the generated glue. */
#define TARMAC_MODULE_DESCRIPTOR_SOURCE                                    \
  "typedef struct {" TARMAC_ABI_STRINGIFY(TARMAC_MODULE_EXPORT_FIELDS)     \
  "} tarmac_module_export_t;\n"                                            \
  "typedef struct {" TARMAC_ABI_STRINGIFY(TARMAC_MODULE_DESCRIPTOR_FIELDS) \
  "} tarmac_module_descriptor_t;\n"

#endif
