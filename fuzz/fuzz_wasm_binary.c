/* Fuzz target: the module reader (src/engine/wasm_binary.c).
 * Properties: a refusal carries a message of the documented form; an
 * accepted module satisfies every invariant the engine relies on (each
 * signature well formed, each type index within the types, each function
 * export resolvable to a signature, export names distinct), and freeing it
 * releases everything (LeakSanitizer). */
#include "engine/wasm_binary.h"
#include "fuzz.h"

static void check_signature(const char *sig) {
  FUZZ_REQUIRE(sig != NULL, "a NULL signature");
  const char *colon = strchr(sig, ':');
  FUZZ_REQUIRE(colon != NULL && strchr(colon + 1, ':') == NULL,
               "signature \"%s\" has not exactly one ':'", sig);
  FUZZ_REQUIRE(strspn(sig, "iIfFVrx:") == strlen(sig),
               "signature \"%s\" has an unknown letter", sig);
}

static void check_accepted(const wasm_module_info_t *info) {
  for (uint32_t i = 0; i < info->type_count; i++)
    check_signature(info->signatures[i]);
  uint32_t imported = 0;
  for (uint32_t i = 0; i < info->import_count; i++) {
    const wasm_import_t *imp = &info->imports[i];
    FUZZ_REQUIRE(imp->module && imp->field, "import %u lacks a name", i);
    if (imp->kind != WASM_EXTERN_FUNC) continue;
    imported++;
    FUZZ_REQUIRE(imp->type_index < info->type_count,
                 "import %u has type %u of %u", i, imp->type_index,
                 info->type_count);
  }
  FUZZ_REQUIRE(imported == info->imported_function_count,
               "%u function imports counted as %u", imported,
               info->imported_function_count);
  for (uint32_t i = 0; i < info->function_count; i++)
    FUZZ_REQUIRE(info->function_types[i] < info->type_count,
                 "function %u has type %u of %u", i, info->function_types[i],
                 info->type_count);
  for (uint32_t i = 0; i < imported + info->function_count; i++)
    check_signature(wasm_module_info_function_signature(info, i));
  for (uint32_t i = 0; i < info->export_count; i++) {
    const wasm_export_t *exp = &info->exports[i];
    FUZZ_REQUIRE(wasm_module_info_export(info, exp->name) == exp,
                 "export \"%s\" is not found as itself (duplicate?)",
                 exp->name);
    FUZZ_REQUIRE(exp->kind <= WASM_EXTERN_TAG, "export kind %u", exp->kind);
    if (exp->kind == WASM_EXTERN_FUNC)
      check_signature(wasm_module_info_function_signature(info, exp->index));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wasm_module_info_t info;
  tarmac_error_t err = {0};
  tarmac_load_status_t st = wasm_module_info_parse(data, size, &info, &err);
  if (st == TARMAC_LOAD_OK) {
    check_accepted(&info);
    wasm_module_info_free(&info);
    return 0;
  }
  FUZZ_REQUIRE(st == TARMAC_LOAD_NOT_WASM || st == TARMAC_LOAD_INVALID,
               "status %d", (int)st);
  const char *prefix =
      st == TARMAC_LOAD_NOT_WASM ? "not a wasm file (" : "invalid module: ";
  FUZZ_REQUIRE(strncmp(err.message, prefix, strlen(prefix)) == 0 &&
                   strlen(err.message) > strlen(prefix),
               "message \"%s\"", err.message);
  return 0;
}
