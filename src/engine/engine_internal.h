/* engine/engine_internal: the engine's and a module's private state, shared
 * by the engine's own files (engine.c, module.c, instance.c). */
#ifndef TARMAC_ENGINE_ENGINE_INTERNAL_H
#define TARMAC_ENGINE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/cache.h"
#include "engine/engine.h"
#include "engine/guest_code.h"
#include "engine/module_abi.h"
#include "engine/toolchain.h"

/* A module that failed to compile or load, by cache key, so this process
 * does not try it again (the toolchain is fixed for the engine's life). */
typedef struct tarmac_load_failure {
  struct tarmac_load_failure *next;
  char key[TARMAC_CACHE_KEY_HEX + 1];
  tarmac_load_status_t status;
  char *message; /* owned */
} tarmac_load_failure_t;

struct tarmac_engine {
  char *cache_dir;
  tarmac_toolchain_t toolchain;
  uint64_t memory_limit;
  uint64_t timeout_ns; /* every protected guest entry's deadline */
  const tarmac_callbacks_t *callbacks;
  char **wasi_args;    /* NULL-terminated, owned */
  char **wasi_environ; /* NULL-terminated, owned */
  pthread_mutex_t failures_lock; /* guards failures */
  tarmac_load_failure_t *failures; /* owned list */
};

struct tarmac_module {
  atomic_int references;
  tarmac_engine_t *engine; /* outlives its modules */
  char *name;
  char *artifact_path;
  void *library; /* dlopen handle */
  int artifact_fd; /* the artifact, open while library is loaded */
  const tarmac_module_descriptor_t *descriptor;
  tarmac_guest_code_t code; /* registered while library is loaded */
};

/* A new instance of module with its host side set up and its wasm2c state
 * zeroed (not instantiated); NULL with err set when out of memory. */
tarmac_instance_t *tarmac_instance_alloc(tarmac_module_t *module,
                                         tarmac_error_t *err);
/* Gives an instance `limits` (NULL or 0 fields: the engine's). Before it
 * first runs. */
void tarmac_instance_set_limits(tarmac_instance_t *inst,
                                const tarmac_limits_t *limits);
/* Runs body(arg) protected under the instance's memory ceiling; returns the
 * trap (WASM_RT_TRAP_NONE when none). */
int tarmac_instance_run_limited(tarmac_instance_t *inst,
                                void (*body)(void *), void *arg);

/* The failure remembered for `key`: true with *status and err filled in. */
bool tarmac_engine_recall_failure(tarmac_engine_t *engine, const char *key,
                                  tarmac_load_status_t *status,
                                  tarmac_error_t *err);
/* Remembers a failure for `key` (best effort: nothing when out of memory). */
void tarmac_engine_remember_failure(tarmac_engine_t *engine, const char *key,
                                    tarmac_load_status_t status,
                                    const tarmac_error_t *err);

#endif
