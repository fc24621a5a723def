#include "engine/wasm_binary.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const uint8_t *at, *end;
  const char *failure; /* first problem found */
} reader_t;

static bool fail(reader_t *r, const char *why) {
  if (!r->failure) r->failure = why;
  return false;
}

static bool read_byte(reader_t *r, uint8_t *out) {
  if (r->at >= r->end) return fail(r, "unexpected end of module");
  *out = *r->at++;
  return true;
}

static bool read_u32(reader_t *r, uint32_t *out) {
  uint64_t value = 0;
  for (unsigned shift = 0; shift < 35; shift += 7) {
    uint8_t b;
    if (!read_byte(r, &b)) return false;
    value |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (value > UINT32_MAX) return fail(r, "integer too large");
      *out = (uint32_t)value;
      return true;
    }
  }
  return fail(r, "integer representation too long");
}

static bool read_name(reader_t *r, char **out) {
  uint32_t len;
  if (!read_u32(r, &len)) return false;
  if ((size_t)(r->end - r->at) < len) return fail(r, "name runs past the end");
  if (memchr(r->at, '\0', len)) return fail(r, "name contains a NUL byte");
  char *name = malloc((size_t)len + 1);
  if (!name) return fail(r, "out of memory");
  memcpy(name, r->at, len);
  name[len] = '\0';
  r->at += len;
  *out = name;
  return true;
}

static char value_type_letter(uint8_t type) {
  switch (type) {
    case 0x7f: return 'i';
    case 0x7e: return 'I';
    case 0x7d: return 'f';
    case 0x7c: return 'F';
    case 0x7b: return 'V';
    case 0x70: return 'r';
    case 0x6f: return 'x';
    default: return 0;
  }
}

/* Reads a result/param vector into sig at *pos (sig has room). */
static bool read_value_types(reader_t *r, char *sig, size_t *pos, size_t cap) {
  uint32_t count;
  if (!read_u32(r, &count)) return false;
  if (count > (size_t)(r->end - r->at)) return fail(r, "type list too long");
  for (uint32_t i = 0; i < count; i++) {
    uint8_t type;
    if (!read_byte(r, &type)) return false;
    char letter = value_type_letter(type);
    if (!letter) return fail(r, "unknown value type");
    if (*pos + 1 >= cap) return fail(r, "function type too long");
    sig[(*pos)++] = letter;
  }
  return true;
}

static bool read_type_section(reader_t *r, wasm_module_info_t *info) {
  uint32_t count;
  if (!read_u32(r, &count)) return false;
  if (count > (size_t)(r->end - r->at)) return fail(r, "too many types");
  info->signatures = calloc(count ? count : 1, sizeof *info->signatures);
  if (!info->signatures) return fail(r, "out of memory");
  for (uint32_t i = 0; i < count; i++) {
    uint8_t form;
    if (!read_byte(r, &form)) return false;
    if (form != 0x60) return fail(r, "unsupported type form");
    size_t cap = (size_t)(r->end - r->at) * 2 + 2, pos = 0;
    char *sig = malloc(cap);
    if (!sig) return fail(r, "out of memory");
    info->signatures[i] = sig;
    info->type_count = i + 1;
    if (!read_value_types(r, sig, &pos, cap)) return false;
    sig[pos++] = ':';
    if (!read_value_types(r, sig, &pos, cap)) return false;
    sig[pos] = '\0';
  }
  return true;
}

static bool skip_limits(reader_t *r) {
  uint8_t flags;
  uint32_t value;
  if (!read_byte(r, &flags) || !read_u32(r, &value)) return false;
  if (flags & 1) return read_u32(r, &value);
  return true;
}

static bool read_import(reader_t *r, wasm_module_info_t *info,
                        wasm_import_t *imp) {
  uint8_t byte;
  if (!read_name(r, &imp->module) || !read_name(r, &imp->field) ||
      !read_byte(r, &imp->kind))
    return false;
  switch (imp->kind) {
    case WASM_EXTERN_FUNC:
      if (!read_u32(r, &imp->type_index)) return false;
      if (imp->type_index >= info->type_count)
        return fail(r, "import refers to an unknown type");
      info->imported_function_count++;
      return true;
    case WASM_EXTERN_TABLE:
      return read_byte(r, &byte) && skip_limits(r);
    case WASM_EXTERN_MEMORY:
      return skip_limits(r);
    case WASM_EXTERN_GLOBAL:
      return read_byte(r, &byte) && read_byte(r, &byte);
    case WASM_EXTERN_TAG:
      return read_byte(r, &byte) && read_u32(r, &imp->type_index);
    default:
      return fail(r, "unknown import kind");
  }
}

static bool read_import_section(reader_t *r, wasm_module_info_t *info) {
  uint32_t count;
  if (!read_u32(r, &count)) return false;
  if (count > (size_t)(r->end - r->at)) return fail(r, "too many imports");
  info->imports = calloc(count ? count : 1, sizeof *info->imports);
  if (!info->imports) return fail(r, "out of memory");
  for (uint32_t i = 0; i < count; i++) {
    info->import_count = i + 1;
    if (!read_import(r, info, &info->imports[i])) return false;
  }
  return true;
}

static bool read_function_section(reader_t *r, wasm_module_info_t *info) {
  uint32_t count;
  if (!read_u32(r, &count)) return false;
  if (count > (size_t)(r->end - r->at)) return fail(r, "too many functions");
  info->function_types = calloc(count ? count : 1, sizeof(uint32_t));
  if (!info->function_types) return fail(r, "out of memory");
  for (uint32_t i = 0; i < count; i++) {
    if (!read_u32(r, &info->function_types[i])) return false;
    if (info->function_types[i] >= info->type_count)
      return fail(r, "function refers to an unknown type");
  }
  info->function_count = count;
  return true;
}

static bool read_export_section(reader_t *r, wasm_module_info_t *info) {
  uint32_t count;
  if (!read_u32(r, &count)) return false;
  if (count > (size_t)(r->end - r->at)) return fail(r, "too many exports");
  info->exports = calloc(count ? count : 1, sizeof *info->exports);
  if (!info->exports) return fail(r, "out of memory");
  for (uint32_t i = 0; i < count; i++) {
    wasm_export_t *exp = &info->exports[i];
    info->export_count = i + 1;
    if (!read_name(r, &exp->name) || !read_byte(r, &exp->kind) ||
        !read_u32(r, &exp->index))
      return false;
  }
  return true;
}

static bool read_section(reader_t *r, uint8_t id, wasm_module_info_t *info) {
  switch (id) {
    case 1: return read_type_section(r, info);
    case 2: return read_import_section(r, info);
    case 3: return read_function_section(r, info);
    case 7: return read_export_section(r, info);
    default: return true; /* not needed here */
  }
}

static bool read_sections(reader_t *r, wasm_module_info_t *info) {
  while (r->at < r->end) {
    uint8_t id;
    uint32_t size;
    if (!read_byte(r, &id) || !read_u32(r, &size)) return false;
    if ((size_t)(r->end - r->at) < size)
      return fail(r, "section runs past the end of the module");
    reader_t section = {r->at, r->at + size, NULL};
    if (!read_section(&section, id, info)) return fail(r, section.failure);
    r->at += size;
  }
  return true;
}

tarmac_load_status_t wasm_module_info_parse(const uint8_t *bytes, size_t len,
                                            wasm_module_info_t *info,
                                            tarmac_error_t *err) {
  static const uint8_t header[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  memset(info, 0, sizeof *info);
  if (len < 4 || memcmp(bytes, header, 4) != 0) {
    snprintf(err->message, sizeof err->message,
             "not a wasm file (no \\0asm magic number)");
    return TARMAC_LOAD_NOT_WASM;
  }
  if (len < 8 || memcmp(bytes + 4, header + 4, 4) != 0) {
    snprintf(err->message, sizeof err->message,
             "not a wasm file (unsupported binary version)");
    return TARMAC_LOAD_NOT_WASM;
  }
  reader_t r = {bytes + 8, bytes + len, NULL};
  if (!read_sections(&r, info)) {
    snprintf(err->message, sizeof err->message, "invalid module: %s",
             r.failure);
    wasm_module_info_free(info);
    return TARMAC_LOAD_INVALID;
  }
  return TARMAC_LOAD_OK;
}

void wasm_module_info_free(wasm_module_info_t *info) {
  for (uint32_t i = 0; i < info->type_count; i++) free(info->signatures[i]);
  free(info->signatures);
  for (uint32_t i = 0; i < info->import_count; i++) {
    free(info->imports[i].module);
    free(info->imports[i].field);
  }
  free(info->imports);
  free(info->function_types);
  for (uint32_t i = 0; i < info->export_count; i++) free(info->exports[i].name);
  free(info->exports);
  memset(info, 0, sizeof *info);
}

const wasm_export_t *wasm_module_info_export(const wasm_module_info_t *info,
                                             const char *name) {
  for (uint32_t i = 0; i < info->export_count; i++)
    if (strcmp(info->exports[i].name, name) == 0) return &info->exports[i];
  return NULL;
}

const char *wasm_module_info_function_signature(const wasm_module_info_t *info,
                                                uint32_t index) {
  uint32_t type;
  if (index < info->imported_function_count) {
    uint32_t seen = 0;
    for (uint32_t i = 0; i < info->import_count; i++) {
      if (info->imports[i].kind != WASM_EXTERN_FUNC) continue;
      if (seen++ == index) return info->signatures[info->imports[i].type_index];
    }
    return NULL;
  }
  index -= info->imported_function_count;
  if (index >= info->function_count) return NULL;
  type = info->function_types[index];
  return type < info->type_count ? info->signatures[type] : NULL;
}
