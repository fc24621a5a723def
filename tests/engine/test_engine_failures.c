/* A module that failed to compile is not compiled again by the same engine,
 * even when its failure record in the cache is gone (a read-only or
 * cleaned cache): the engine remembers the failure by cache key. A new
 * engine, with the record gone, tries again. The compiler is a script that
 * logs each run and fails. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "log/log.h"
#include "test.h"
#include "util/fdio.h"

static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  int lines = 0, c;
  while (f && (c = fgetc(f)) != EOF) lines += c == '\n';
  if (f) fclose(f);
  return lines;
}

/* Removes the files of `dir` whose names end with `suffix` (all when ""). */
static int remove_files(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int removed = 0;
  char path[4096];
  while (d && (e = readdir(d))) {
    size_t n = strlen(e->d_name), s = strlen(suffix);
    if (e->d_name[0] == '.' || n < s || strcmp(e->d_name + n - s, suffix) != 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    removed += unlink(path) == 0;
  }
  if (d) closedir(d);
  return removed;
}

static tarmac_load_status_t load(const char *cache, const char *cc,
                                 const char *module, tarmac_error_t *err) {
  tarmac_engine_config_t config = {.cache_dir = cache, .cc = cc};
  tarmac_engine_t *engine = tarmac_engine_new(&config, err);
  if (!engine) return TARMAC_LOAD_IO;
  tarmac_module_t *m = NULL;
  tarmac_load_status_t first = tarmac_module_load(engine, module, NULL, &m, err);
  CHECK_EQ_INT(first, TARMAC_LOAD_TOOLCHAIN);
  CHECK_EQ_INT(remove_files(cache, ".failed"), 1);
  tarmac_error_t again;
  CHECK_EQ_INT(tarmac_module_load(engine, module, NULL, &m, &again), first);
  CHECK(strcmp(again.message, err->message) == 0);
  tarmac_engine_free(engine);
  return first;
}

int main(void) {
  tarmac_log_config_t log = {.fd = 2, .min_level = TARMAC_LOG_WARN, .text = true};
  tarmac_log_configure(&log);
  char top[] = "/tmp/tarmac-failures-XXXXXX", cache[4200], cc[4200],
       cc_log[4200], module[4096], script[8600];
  if (!mkdtemp(top)) return 2;
  snprintf(cache, sizeof cache, "%s/cache", top);
  snprintf(cc, sizeof cc, "%s/failing-cc", top);
  snprintf(cc_log, sizeof cc_log, "%s/cc.log", top);
  const char *guests = getenv("TARMAC_GUEST_DIR");
  snprintf(module, sizeof module, "%s/wapc_ops.wasm", guests ? guests : ".");
  int n = snprintf(script, sizeof script,
                   "#!/bin/sh\necho run >> '%s'\necho 'no, on purpose' >&2\n"
                   "exit 1\n", cc_log);
  CHECK(tarmac_write_file(cc, script, (size_t)n) == 0 && chmod(cc, 0700) == 0);

  tarmac_error_t err;
  CHECK_EQ_INT(load(cache, cc, module, &err), TARMAC_LOAD_TOOLCHAIN);
  CHECK(strstr(err.message, "no, on purpose") != NULL);
  CHECK_EQ_INT(count_lines(cc_log), 1); /* the second load compiled nothing */
  CHECK_EQ_INT(load(cache, cc, module, &err), TARMAC_LOAD_TOOLCHAIN);
  CHECK_EQ_INT(count_lines(cc_log), 2); /* a new engine tries once more */

  remove_files(cache, "");
  rmdir(cache);
  remove_files(top, "");
  rmdir(top);
  TEST_EXIT();
}
