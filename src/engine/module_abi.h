/* engine/module_abi: the contract between the host and a compiled module.
 * Every artifact exports one `tarmac_module_descriptor` built by a glue file
 * the engine generates next to wasm2c's output; the host reaches the module
 * only through it. The struct's text is compiled into the glue from the same
 * macro, so both sides always agree; TARMAC_MODULE_ABI_VERSION (part of the
 * cache key) changes whenever the struct or the runtime ABI does. */
#ifndef TARMAC_ENGINE_MODULE_ABI_H
#define TARMAC_ENGINE_MODULE_ABI_H

#include <stddef.h>
#include <stdint.h>

#include <wasm-rt.h>

#define TARMAC_MODULE_ABI_VERSION 1u
#define TARMAC_MODULE_DESCRIPTOR_SYMBOL "tarmac_module_descriptor"

#define TARMAC_MODULE_DESCRIPTOR_FIELDS                                    \
  uint32_t abi_version;                                                    \
  const char *cache_key;                                                   \
  size_t instance_size;                                                    \
  void (*init_module)(void);                                               \
  void (*instantiate)(void *guest, void *host);                            \
  void (*free_instance)(void *guest);                                      \
  wasm_rt_memory_t *(*memory)(void *guest);                                \
  uint32_t (*guest_call)(void *guest, uint32_t op_len,                     \
                         uint32_t payload_len);                            \
  void (*start)(void *guest);                                              \
  void (*initialize)(void *guest);                                         \
  void (*wapc_init)(void *guest);

typedef struct {
  TARMAC_MODULE_DESCRIPTOR_FIELDS
} tarmac_module_descriptor_t;

#define TARMAC_ABI_STRINGIFY_(...) #__VA_ARGS__
#define TARMAC_ABI_STRINGIFY(...) TARMAC_ABI_STRINGIFY_(__VA_ARGS__)
/* The struct definition as C source, for the generated glue. */
#define TARMAC_MODULE_DESCRIPTOR_SOURCE \
  "typedef struct {" TARMAC_ABI_STRINGIFY(TARMAC_MODULE_DESCRIPTOR_FIELDS) \
  "} tarmac_module_descriptor_t;\n"

#endif
