#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static char *default_cache_dir(void) {
  const char *dir = getenv("TARMAC_CACHE_DIR");
  if (dir && *dir) return strdup(dir);
  char path[4096];
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  if (xdg && *xdg)
    snprintf(path, sizeof path, "%s/tarmac", xdg);
  else if (home && *home)
    snprintf(path, sizeof path, "%s/.cache/tarmac", home);
  else
    snprintf(path, sizeof path, "/tmp/tarmac-cache-%u", (unsigned)getuid());
  return strdup(path);
}

/* mkdir -p, mode 0700 for what it creates. */
static int make_directories(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
  return 0;
}

tarmac_engine_t *tarmac_engine_new(const tarmac_engine_config_t *config,
                                   tarmac_error_t *err) {
  tarmac_engine_config_t defaults = {0};
  if (!config) config = &defaults;
  tarmac_rt_init();
  tarmac_engine_t *engine = calloc(1, sizeof *engine);
  if (!engine) goto oom;
  engine->cache_dir = config->cache_dir ? strdup(config->cache_dir)
                                        : default_cache_dir();
  if (!engine->cache_dir) goto oom;
  if (strlen(engine->cache_dir) > 3000) { /* leaves room for file names */
    snprintf(err->message, sizeof err->message,
             "the cache directory path is longer than 3000 bytes");
    tarmac_engine_free(engine);
    return NULL;
  }
  const char *cc = config->cc ? config->cc : getenv("CC");
  const char *wasm2c = config->wasm2c ? config->wasm2c : getenv("TARMAC_WASM2C");
  if (tarmac_toolchain_init(&engine->toolchain, cc, wasm2c) != 0) goto oom;
  engine->memory_limit = config->memory_limit ? config->memory_limit
                                              : TARMAC_RT_DEFAULT_MEMORY_LIMIT;
  engine->callbacks = config->callbacks;
  bool failed = false;
  engine->wasi_args = copy_string_list(config->wasi_args, &failed);
  engine->wasi_environ = copy_string_list(config->wasi_environ, &failed);
  if (failed) goto oom;
  if (make_directories(engine->cache_dir) != 0) {
    snprintf(err->message, sizeof err->message,
             "cannot create the cache directory %s: %s", engine->cache_dir,
             strerror(errno));
    tarmac_engine_free(engine);
    return NULL;
  }
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
  free_string_list(engine->wasi_args);
  free_string_list(engine->wasi_environ);
  free(engine);
}

const char *tarmac_engine_cache_dir(const tarmac_engine_t *engine) {
  return engine->cache_dir;
}
