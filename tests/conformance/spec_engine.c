/* spec_engine: see spec_engine.h. */
#include "spec_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_harness.h"

#define MAX_IMPORT_MODULES 64

tarmac_engine_t *spec_engine_open(const char *cache_dir) {
  tarmac_engine_config_t config = {.cache_dir = cache_dir};
  tarmac_error_t err;
  tarmac_engine_t *engine = tarmac_engine_new(&config, &err);
  if (!engine) fprintf(stderr, "spec driver: engine: %s\n", err.message);
  return engine;
}

int spec_read_file(const char *path, uint8_t **bytes, size_t *len) {
  FILE *f = fopen(path, "rb");
  long size = -1;
  if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  *bytes = size >= 0 ? malloc((size_t)size + 1) : NULL;
  int ok = *bytes && fseek(f, 0, SEEK_SET) == 0 &&
           fread(*bytes, 1, (size_t)size, f) == (size_t)size;
  if (f) fclose(f);
  if (!ok) {
    free(*bytes);
    return -1;
  }
  *len = (size_t)size;
  return 0;
}

int spec_module_load(tarmac_engine_t *engine, struct spec_module *m,
                     const char *path) {
  uint8_t *bytes;
  size_t len;
  memset(m, 0, sizeof *m);
  if (spec_read_file(path, &bytes, &len) != 0) {
    fprintf(stderr, "spec driver: cannot read %s\n", path);
    return -1;
  }
  tarmac_error_t err;
  tarmac_load_status_t st =
      tarmac_module_load_unchecked(engine, bytes, len, path, &m->module, &err);
  free(bytes);
  if (st != TARMAC_LOAD_OK) {
    fprintf(stderr, "spec driver: cannot load %s: %s\n", path, err.message);
    return -1;
  }
  m->d = tarmac_module_descriptor(m->module);
  m->instance = calloc(1, m->d->instance_size ? m->d->instance_size : 1);
  if (!m->instance) {
    fprintf(stderr, "spec driver: out of memory\n");
    spec_module_release(m);
    return -1;
  }
  return 0;
}

void spec_module_release(struct spec_module *m) {
  free(m->instance);
  tarmac_module_release(m->module);
  memset(m, 0, sizeof *m);
}

void (*spec_export(const struct spec_module *m, const char *name))(void) {
  for (uint32_t i = 0; i < m->d->export_count; i++)
    if (strcmp(m->d->exports[i].name, name) == 0)
      return m->d->exports[i].function;
  return NULL;
}

void spec_module_instantiate(struct spec_module *m,
                             spec_import_resolver resolve, void *driver) {
  void *imports[MAX_IMPORT_MODULES];
  if (m->d->import_module_count > MAX_IMPORT_MODULES)
    spec_bad_binding("(too many import modules)", "");
  for (uint32_t i = 0; i < m->d->import_module_count; i++) {
    imports[i] = resolve(m->d->import_modules[i], driver);
    if (!imports[i]) spec_bad_binding(m->d->import_modules[i], "(module)");
  }
  m->d->instantiate(m->instance, imports);
}

void (*spec_forward(const struct spec_module *target, const char *module,
                    const char *field))(void) {
  void (*function)(void) = spec_export(target, field);
  if (!function) spec_bad_binding(module, field);
  return function;
}
