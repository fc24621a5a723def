/* engine/engine_internal: the engine's and a module's private state, shared
 * by the engine's own files (engine.c, module.c, instance.c). */
#ifndef TARMAC_ENGINE_ENGINE_INTERNAL_H
#define TARMAC_ENGINE_ENGINE_INTERNAL_H

#include <stdatomic.h>

#include "engine/engine.h"
#include "engine/module_abi.h"
#include "engine/toolchain.h"

struct tarmac_engine {
  char *cache_dir;
  tarmac_toolchain_t toolchain;
  uint64_t memory_limit;
  const tarmac_callbacks_t *callbacks;
  char **wasi_args;    /* NULL-terminated, owned */
  char **wasi_environ; /* NULL-terminated, owned */
};

struct tarmac_module {
  atomic_int references;
  tarmac_engine_t *engine; /* outlives its modules */
  char *name;
  char *artifact_path;
  void *library; /* dlopen handle */
  const tarmac_module_descriptor_t *descriptor;
};

#endif
