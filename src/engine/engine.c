#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "runtime/runtime.h"

static char **copy_string_list(const char *const *list, bool *failed) {
  size_t n = 0;
  while (list && list[n]) n++;
  char **copy = calloc(n + 1, sizeof *copy);
  if (!copy) {
    *failed = true;
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if (!(copy[i] = strdup(list[i]))) *failed = true;
  return copy;
}

static void free_string_list(char **list) {
  for (size_t i = 0; list && list[i]; i++) free(list[i]);
  free(list);
}

tarmac_engine_t *tarmac_engine_new(const tarmac_engine_config_t *config,
                                   tarmac_error_t *err) {
  tarmac_engine_config_t defaults = {0};
  if (!config) config = &defaults;
  tarmac_rt_init();
  tarmac_engine_t *engine = calloc(1, sizeof *engine);
  if (!engine) goto oom;
  engine->failures_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
  engine->cache_dir = tarmac_cache_dir_prepare(config->cache_dir, err);
  const char *cc = config->cc ? config->cc : getenv("CC");
  const char *wasm2c = config->wasm2c ? config->wasm2c : getenv("TARMAC_WASM2C");
  if (!engine->cache_dir ||
      tarmac_toolchain_init(&engine->toolchain, cc, wasm2c, engine->cache_dir,
                            err) != 0) {
    tarmac_engine_free(engine);
    return NULL;
  }
  engine->memory_limit = config->memory_limit ? config->memory_limit
                                              : TARMAC_RT_DEFAULT_MEMORY_LIMIT;
  engine->timeout_ns =
      (uint64_t)(config->timeout_ms ? config->timeout_ms
                                    : TARMAC_ENGINE_DEFAULT_TIMEOUT_MS) *
      1000000u;
  engine->callbacks = config->callbacks;
  bool failed = false;
  engine->wasi_args = copy_string_list(config->wasi_args, &failed);
  engine->wasi_environ = copy_string_list(config->wasi_environ, &failed);
  if (failed) goto oom;
  return engine;
oom:
  snprintf(err->message, sizeof err->message, "out of memory");
  tarmac_engine_free(engine);
  return NULL;
}

void tarmac_engine_free(tarmac_engine_t *engine) {
  if (!engine) return;
  free(engine->cache_dir);
  tarmac_toolchain_free(&engine->toolchain);
  while (engine->failures) {
    tarmac_load_failure_t *next = engine->failures->next;
    free(engine->failures->message);
    free(engine->failures);
    engine->failures = next;
  }
  pthread_mutex_destroy(&engine->failures_lock);
  free_string_list(engine->wasi_args);
  free_string_list(engine->wasi_environ);
  free(engine);
}

const char *tarmac_engine_cache_dir(const tarmac_engine_t *engine) {
  return engine->cache_dir;
}

bool tarmac_engine_recall_failure(tarmac_engine_t *engine, const char *key,
                                  tarmac_load_status_t *status,
                                  tarmac_error_t *err) {
  bool found = false;
  pthread_mutex_lock(&engine->failures_lock);
  for (tarmac_load_failure_t *f = engine->failures; f && !found; f = f->next)
    if (strcmp(f->key, key) == 0) {
      *status = f->status;
      snprintf(err->message, sizeof err->message, "%s", f->message);
      found = true;
    }
  pthread_mutex_unlock(&engine->failures_lock);
  return found;
}

void tarmac_engine_remember_failure(tarmac_engine_t *engine, const char *key,
                                    tarmac_load_status_t status,
                                    const tarmac_error_t *err) {
  tarmac_load_failure_t *f = calloc(1, sizeof *f);
  if (!f || !(f->message = strdup(err->message))) {
    free(f);
    return;
  }
  snprintf(f->key, sizeof f->key, "%s", key);
  f->status = status;
  pthread_mutex_lock(&engine->failures_lock);
  f->next = engine->failures;
  engine->failures = f;
  pthread_mutex_unlock(&engine->failures_lock);
}
