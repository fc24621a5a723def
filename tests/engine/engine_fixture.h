/* engine_fixture: shared set-up for engine tests — an engine on the test
 * cache with the logging callbacks, and loading a built test guest. */
#ifndef TARMAC_TESTS_ENGINE_FIXTURE_H
#define TARMAC_TESTS_ENGINE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "callbacks/registry.h"
#include "engine/engine.h"
#include "log/log.h"

typedef struct {
  tarmac_callbacks_t *callbacks;
  tarmac_engine_t *engine;
} engine_fixture_t;

/* An engine with the given memory ceiling and timeout (0: defaults). */
static inline void fixture_open_with(engine_fixture_t *f,
                                     uint64_t memory_limit,
                                     uint32_t timeout_ms) {
  tarmac_log_config_t log = {.fd = 2, .min_level = TARMAC_LOG_WARN, .text = true};
  tarmac_log_configure(&log);
  f->callbacks = tarmac_callbacks_new();
  if (!f->callbacks || tarmac_callbacks_add_logging(f->callbacks) != 0) abort();
  tarmac_engine_config_t config = {.callbacks = f->callbacks,
                                   .memory_limit = memory_limit,
                                   .timeout_ms = timeout_ms};
  tarmac_error_t err;
  f->engine = tarmac_engine_new(&config, &err);
  if (!f->engine) {
    fprintf(stderr, "engine: %s\n", err.message);
    abort();
  }
}

static inline void fixture_open(engine_fixture_t *f, uint64_t memory_limit) {
  fixture_open_with(f, memory_limit, 0);
}

/* Loads $TARMAC_GUEST_DIR/<name>.wasm (or an absolute path); aborts on error. */
static inline tarmac_module_t *fixture_load(engine_fixture_t *f,
                                            const char *dir_env,
                                            const char *name) {
  const char *dir = getenv(dir_env);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.wasm", dir ? dir : ".", name);
  tarmac_module_t *module;
  tarmac_error_t err;
  if (tarmac_module_load(f->engine, path, NULL, &module, &err) != TARMAC_LOAD_OK) {
    fprintf(stderr, "load %s: %s\n", path, err.message);
    abort();
  }
  return module;
}

static inline void fixture_close(engine_fixture_t *f) {
  tarmac_engine_free(f->engine);
  tarmac_callbacks_free(f->callbacks);
}

#endif
