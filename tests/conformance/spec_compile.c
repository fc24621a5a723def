/* spec_compile: compiles spec-test modules into an engine cache before a
 * driver that loads them is generated, so the runner knows which modules
 * wasm2c or the compiler refuse (run_spec.py judges those). Usage:
 *   spec_compile CACHE_DIR MODULE.wasm...
 * prints one line per module, in order: "OK" or "FAIL <status> <message>"
 * (status: tarmac_load_status_t; newlines in the message become '|').
 * Exit status 0, or 2 when the engine cannot be created. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_testing.h"
#include "log/log.h"
#include "spec_engine.h"

static void report(const char *path, tarmac_engine_t *engine) {
  uint8_t *bytes;
  size_t len;
  tarmac_error_t err;
  tarmac_load_status_t st = TARMAC_LOAD_IO;
  if (spec_read_file(path, &bytes, &len) == 0) {
    st = tarmac_module_compile_unchecked(engine, bytes, len, &err);
    free(bytes);
  } else {
    snprintf(err.message, sizeof err.message, "cannot read %s", path);
  }
  if (st == TARMAC_LOAD_OK) {
    puts("OK");
    return;
  }
  for (char *p = err.message; *p; p++)
    if (*p == '\n') *p = '|';
  printf("FAIL %d %s\n", (int)st, err.message);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: spec_compile CACHE_DIR MODULE.wasm...\n");
    return 64;
  }
  tarmac_log_config_t log = {.fd = 2, .min_level = TARMAC_LOG_WARN, .text = true};
  tarmac_log_configure(&log);
  tarmac_engine_config_t config = {.cache_dir = argv[1]};
  tarmac_error_t err;
  tarmac_engine_t *engine = tarmac_engine_new(&config, &err);
  if (!engine) {
    fprintf(stderr, "spec_compile: %s\n", err.message);
    return 2;
  }
  for (int i = 2; i < argc; i++) report(argv[i], engine);
  tarmac_engine_free(engine);
  return 0;
}
