#include "engine/glue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/module_abi.h"
#include "util/buffer.h"
#include "util/fdio.h"

/* wasm2c 1.0.32's name mangling: bytes outside [A-Za-z0-9_], and 'Z'
 * itself, become 'Z' and two upper-case hex digits. */
static int append_mangled(tarmac_buffer_t *out, const char *name) {
  int rc = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p && rc == 0;
       p++) {
    bool plain = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Y') ||
                  (*p >= '0' && *p <= '9') || *p == '_');
    rc = plain ? tarmac_buffer_append(out, p, 1)
               : tarmac_buffer_appendf(out, "Z%02X", *p);
  }
  return rc;
}

/* A C string literal of arbitrary bytes (octal escapes). */
static int append_c_string(tarmac_buffer_t *out, const char *text) {
  int rc = tarmac_buffer_append(out, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)text; *p && rc == 0;
       p++)
    rc = (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != '?')
             ? tarmac_buffer_append(out, p, 1)
             : tarmac_buffer_appendf(out, "\\%03o", *p);
  return rc == 0 ? tarmac_buffer_append(out, "\"", 1) : rc;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct import module names in wasm2c's order (sorted bytewise, as
 * its std::set keeps them). Returns a malloc'ed array (names borrowed from
 * info) and the count, or NULL when out of memory. */
static const char **import_modules(const wasm_module_info_t *info,
                                   uint32_t *count) {
  const char **names = malloc((info->import_count + 1) * sizeof *names);
  if (!names) return NULL;
  uint32_t n = 0;
  for (uint32_t i = 0; i < info->import_count; i++) {
    bool seen = false;
    for (uint32_t j = 0; j < n && !seen; j++)
      seen = strcmp(names[j], info->imports[i].module) == 0;
    if (!seen) names[n++] = info->imports[i].module;
  }
  qsort(names, n, sizeof *names, by_name);
  *count = n;
  return names;
}

static bool imports_function_from(const wasm_module_info_t *info,
                                  const char *module) {
  for (uint32_t i = 0; i < info->import_count; i++)
    if (info->imports[i].kind == WASM_EXTERN_FUNC &&
        strcmp(info->imports[i].module, module) == 0)
      return true;
  return false;
}

/* Where each import module's instance pointer lives in the instance struct
 * (snapshots rewrite these fields), from the compiler, not guessed. */
static int write_import_offsets(tarmac_buffer_t *src,
                                const wasm_module_info_t *info,
                                const char **names, uint32_t n) {
  int rc = tarmac_buffer_append_str(
      src, "static const size_t glue_import_offsets[] = {");
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    if (!imports_function_from(info, names[i])) {
      rc = tarmac_buffer_append_str(src, "(size_t)-1, ");
      continue;
    }
    rc = tarmac_buffer_append_str(src,
                                  "__builtin_offsetof(Z_m_instance_t, Z_");
    if (rc == 0) rc = append_mangled(src, names[i]);
    if (rc == 0) rc = tarmac_buffer_append_str(src, "_instance), ");
  }
  if (rc == 0) rc = tarmac_buffer_append_str(src, "0};\n");
  return rc;
}

/* The instantiate adapter, with assertions that Z_m_instantiate takes the
 * import modules in this order and that each module imported from has the
 * pointer field an indirectly called import receives the address of. */
static int write_instantiate(tarmac_buffer_t *src,
                             const wasm_module_info_t *info) {
  uint32_t n = 0;
  const char **names = import_modules(info, &n);
  if (!names) return -1;
  int rc = tarmac_buffer_append_str(src, "static const char *const "
                                         "glue_import_modules[] = {");
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    rc = append_c_string(src, names[i]);
    if (rc == 0) rc = tarmac_buffer_append_str(src, ", ");
  }
  if (rc == 0) rc = tarmac_buffer_append_str(
      src, "NULL};\n_Static_assert(__builtin_types_compatible_p("
           "__typeof__(&Z_m_instantiate), void (*)(Z_m_instance_t *");
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    rc = tarmac_buffer_append_str(src, ", struct Z_");
    if (rc == 0) rc = append_mangled(src, names[i]);
    if (rc == 0) rc = tarmac_buffer_append_str(src, "_instance_t *");
  }
  if (rc == 0) rc = tarmac_buffer_append_str(
      src, ")), \"wasm2c 1.0.32 passes import modules sorted by name\");\n");
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    if (!imports_function_from(info, names[i])) continue;
    rc = tarmac_buffer_append_str(
        src, "_Static_assert(__builtin_types_compatible_p(__typeof__(("
             "(Z_m_instance_t *)0)->Z_");
    if (rc == 0) rc = append_mangled(src, names[i]);
    if (rc == 0) rc = tarmac_buffer_append_str(src, "_instance), struct Z_");
    if (rc == 0) rc = append_mangled(src, names[i]);
    if (rc == 0) rc = tarmac_buffer_append_str(
        src, "_instance_t *), \"wasm2c 1.0.32 keeps a pointer per imported "
             "module (tables pass its address to imports)\");\n");
  }
  if (rc == 0) rc = write_import_offsets(src, info, names, n);
  if (rc == 0) rc = tarmac_buffer_append_str(
      src, "static void glue_instantiate(void *g, void *const *imports) {\n"
           "  (void)imports;\n  Z_m_instantiate(g");
  for (uint32_t i = 0; i < n && rc == 0; i++)
    rc = tarmac_buffer_appendf(src, ", imports[%u]", i);
  if (rc == 0) rc = tarmac_buffer_append_str(src, ");\n}\n");
  free(names);
  return rc;
}

static int write_exports(tarmac_buffer_t *src, const wasm_module_info_t *info) {
  int rc = tarmac_buffer_append_str(
      src, "static const tarmac_module_export_t glue_exports[] = {\n");
  for (uint32_t i = 0; i < info->export_count && rc == 0; i++) {
    const wasm_export_t *exp = &info->exports[i];
    if (exp->kind == WASM_EXTERN_TAG) continue; /* no accessor in 1.0.32 */
    rc = tarmac_buffer_append_str(src, "  {");
    if (rc == 0) rc = append_c_string(src, exp->name);
    if (rc == 0) rc = tarmac_buffer_appendf(src, ", %u, (void (*)(void))Z_mZ_",
                                            exp->kind);
    if (rc == 0) rc = append_mangled(src, exp->name);
    if (rc == 0) rc = tarmac_buffer_append_str(src, "},\n");
  }
  if (rc == 0) rc = tarmac_buffer_append_str(src, "  {NULL, 0, NULL}};\n");
  return rc;
}

static bool exports_function(const wasm_module_info_t *info, const char *name) {
  const wasm_export_t *exp = wasm_module_info_export(info, name);
  return exp && exp->kind == WASM_EXTERN_FUNC;
}

/* Typed adapters for the waPC exports; the assertions make a changed
 * prototype a compile error (the glue is compiled with -w). */
static int write_wapc(tarmac_buffer_t *src, const wasm_module_info_t *info) {
  static const char *const optional[] = {"_start", "_initialize", "wapc_init"};
  int rc = tarmac_buffer_append_str(
      src,
      "_Static_assert(__builtin_types_compatible_p(__typeof__("
      "&Z_mZ___guest_call), u32 (*)(Z_m_instance_t *, u32, u32)), "
      "\"__guest_call's C type\");\n"
      "_Static_assert(__builtin_types_compatible_p(__typeof__(&Z_mZ_memory), "
      "wasm_rt_memory_t *(*)(Z_m_instance_t *)), \"memory's C type\");\n"
      "static wasm_rt_memory_t *glue_memory(void *g) {"
      " return Z_mZ_memory(g); }\n"
      "static uint32_t glue_call(void *g, uint32_t a, uint32_t b) {"
      " return Z_mZ___guest_call(g, a, b); }\n");
  for (int i = 0; i < 3 && rc == 0; i++)
    if (exports_function(info, optional[i]))
      rc = tarmac_buffer_appendf(
          src,
          "_Static_assert(__builtin_types_compatible_p(__typeof__(&Z_mZ_%s), "
          "void (*)(Z_m_instance_t *)), \"%s's C type\");\n"
          "static void glue%s(void *g) { Z_mZ_%s(g); }\n",
          optional[i], optional[i], optional[i], optional[i]);
  return rc;
}

static int write_descriptor(tarmac_buffer_t *src,
                            const wasm_module_info_t *info,
                            const char *cache_key, bool wapc) {
  int rc = tarmac_buffer_appendf(
      src,
      "__attribute__((visibility(\"default\")))\n"
      "const tarmac_module_descriptor_t tarmac_module_descriptor = {\n"
      "  .abi_version = %uu, .cache_key = \"%s\",\n"
      "  .instance_size = sizeof(Z_m_instance_t),\n"
      "  .init_module = Z_m_init_module,\n"
      "  .import_module_count = sizeof glue_import_modules / sizeof(char *)"
      " - 1,\n  .import_modules = glue_import_modules,\n"
      "  .instantiate = glue_instantiate, .free_instance = glue_free,\n"
      "  .export_count = sizeof glue_exports / sizeof glue_exports[0] - 1,\n"
      "  .exports = glue_exports,\n"
      "  .import_instance_offsets = glue_import_offsets,\n"
      "  .reference_globals = %uu,\n",
      TARMAC_MODULE_ABI_VERSION, cache_key, info->reference_globals ? 1u : 0u);
  if (wapc && rc == 0)
    rc = tarmac_buffer_append_str(
        src, "  .memory = glue_memory, .guest_call = glue_call,\n");
  static const char *const optional[] = {"_start", "_initialize", "wapc_init"};
  static const char *const fields[] = {"start", "initialize", "wapc_init"};
  for (int i = 0; i < 3 && rc == 0 && wapc; i++)
    if (exports_function(info, optional[i]))
      rc = tarmac_buffer_appendf(src, "  .%s = glue%s,\n", fields[i],
                                 optional[i]);
  if (rc == 0) rc = tarmac_buffer_append_str(src, "};\n");
  return rc;
}

/* memory.fill and memory.copy are memset and memmove on up to 4 GiB, host
 * code a deadline cannot stop at any instruction (runtime/deadline.h). The
 * module gets its own versions that work in 1 MiB pieces with a safe point
 * between them, so a guest looping on them stops within a piece. */
static const char bulk_memory_source[] =
    "#include <string.h>\n"
    "void tarmac_rt_deadline_check(void);\n"
    "#define GLUE_PIECE ((size_t)1 << 20)\n"
    "static inline void *glue_memset(void *d, int c, size_t n) {\n"
    "  for (size_t at = 0; at < n; at += GLUE_PIECE) {\n"
    "    memset((char *)d + at, c, n - at < GLUE_PIECE ? n - at : GLUE_PIECE);\n"
    "    tarmac_rt_deadline_check();\n"
    "  }\n"
    "  return d;\n"
    "}\n"
    "static inline void *glue_memmove(void *d, const void *s, size_t n) {\n"
    "  char *to = d;\n  const char *from = s;\n"
    "  size_t piece = n < GLUE_PIECE ? n : GLUE_PIECE;\n"
    "  for (size_t done = 0; done < n; done += piece) {\n"
    "    size_t k = n - done < piece ? n - done : piece;\n"
    "    /* overlapping forwards: copy from the end */\n"
    "    size_t at = to > from ? n - done - k : done;\n"
    "    memmove(to + at, from + at, k);\n"
    "    tarmac_rt_deadline_check();\n"
    "  }\n"
    "  return d;\n"
    "}\n"
    "#define memset glue_memset\n"
    "#define memmove glue_memmove\n";

int tarmac_glue_write(const char *path, const wasm_module_info_t *info,
                      const char *cache_key, bool wapc) {
  tarmac_buffer_t src = TARMAC_BUFFER_INIT;
  /* one translation unit with wasm2c's output: one compiler run */
  int rc = tarmac_buffer_appendf(&src, "%s#include \"module.c\"\n%s",
                                 bulk_memory_source,
                                 TARMAC_MODULE_DESCRIPTOR_SOURCE);
  if (rc == 0) rc = write_instantiate(&src, info);
  if (rc == 0) rc = tarmac_buffer_append_str(
      &src, "static void glue_free(void *g) { Z_m_free(g); }\n");
  if (rc == 0) rc = write_exports(&src, info);
  if (rc == 0 && wapc) rc = write_wapc(&src, info);
  if (rc == 0) rc = write_descriptor(&src, info, cache_key, wapc);
  if (rc != 0) errno = ENOMEM;
  if (rc == 0) rc = tarmac_write_file(path, src.data, src.len);
  tarmac_buffer_free(&src);
  return rc;
}
