/* engine/glue: writes the C file that is compiled in place of wasm2c's
 * output (module.c, made with "-n m"): it includes that file, so the module
 * is one translation unit, and defines the module's descriptor
 * (engine/module_abi.h).
 * It also turns what the host assumes about wasm2c 1.0.32's output into
 * static assertions, so a translator that lays things out differently
 * fails to compile instead of running wrong: the parameter order of
 * Z_m_instantiate, the instance-pointer field per imported module that
 * tables hand to imports called indirectly (engine/instance_state.h), and
 * the types of the waPC exports. */
#ifndef TARMAC_ENGINE_GLUE_H
#define TARMAC_ENGINE_GLUE_H

#include <stdbool.h>

#include "engine/wasm_binary.h"

/* Writes the glue for `info` to `path`. `wapc` fills the descriptor's waPC
 * fields (the module was checked to be a waPC guest). 0, or -1 with errno. */
int tarmac_glue_write(const char *path, const wasm_module_info_t *info,
                      const char *cache_key, bool wapc);

#endif
