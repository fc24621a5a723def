/* reader_check FILE...: runs the module reader (engine/wasm_binary) on each
 * file and prints "ACCEPT <file>" or "REJECT <file>: <message>". Used by
 * spec_modules_test.py. */
#include <stdio.h>
#include <stdlib.h>

#include "engine/wasm_binary.h"

static int check(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return perror(path), -1;
  size_t cap = 1 << 16, len = 0;
  uint8_t *bytes = malloc(cap);
  size_t n;
  while (bytes && (n = fread(bytes + len, 1, cap - len, f)) > 0)
    if ((len += n) == cap) {
      uint8_t *grown = realloc(bytes, cap *= 2);
      if (!grown) free(bytes);
      bytes = grown;
    }
  fclose(f);
  if (!bytes) return fprintf(stderr, "%s: out of memory\n", path), -1;
  wasm_module_info_t info;
  tarmac_error_t err = {0};
  if (wasm_module_info_parse(bytes, len, &info, &err) == TARMAC_LOAD_OK) {
    wasm_module_info_free(&info);
    printf("ACCEPT %s\n", path);
  } else {
    printf("REJECT %s: %s\n", path, err.message);
  }
  free(bytes);
  return 0;
}

int main(int argc, char **argv) {
  int status = 0;
  for (int i = 1; i < argc; i++)
    if (check(argv[i]) != 0) status = 1;
  return status;
}
