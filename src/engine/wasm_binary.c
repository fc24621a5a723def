/* Module reader: the engine's own look at a module before wasm2c and the C
 * compiler see it. The module is hostile input, so the reader enforces the
 * structure the rest of the engine relies on: each known section at most
 * once and in the spec's order, every count and length within its section,
 * every index it reads within its index space. */
#include "engine/wasm_binary.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

/* 32-bit memories hold at most 2^16 pages of 64 KiB. */
#define WASM_MAX_MEMORY_PAGES 65536u

enum { KIND_COUNT = 5 }; /* WASM_EXTERN_FUNC .. WASM_EXTERN_TAG */

typedef struct {
  const uint8_t *at, *end;
  bool failed;
  char failure[256]; /* the first problem found */
} reader_t;

/* What the parse learns beyond info: sizes of the index spaces and the
 * counts that must agree between sections. */
typedef struct {
  wasm_module_info_t *info;
  uint32_t imported[KIND_COUNT]; /* by WASM_EXTERN_* kind */
  uint32_t defined[KIND_COUNT];  /* functions: the function section */
  unsigned last_rank;            /* of the last known section read */
  uint8_t last_id;
  bool has_code, has_data_count, has_data;
  uint32_t code_count, data_count, data_segments;
} module_state_t;

static bool fail(reader_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool fail(reader_t *r, const char *fmt, ...) {
  if (r->failed) return false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->failure, sizeof r->failure, fmt, ap);
  va_end(ap);
  r->failed = true;
  return false;
}

static size_t remaining(const reader_t *r) { return (size_t)(r->end - r->at); }

static bool read_byte(reader_t *r, uint8_t *out) {
  *out = 0; /* defined even on failure */
  if (r->at >= r->end) return fail(r, "unexpected end");
  *out = *r->at++;
  return true;
}

/* Unsigned LEB128 of at most 5 bytes whose value fits in 32 bits. */
static bool read_u32(reader_t *r, uint32_t *out) {
  uint64_t value = 0;
  *out = 0;
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

/* A vector's element count: every element takes at least one byte, so a
 * count beyond the bytes left is a lie (and would size an allocation). */
static bool read_count(reader_t *r, const char *what, uint32_t *count) {
  if (!read_u32(r, count)) return false;
  if (*count > remaining(r))
    return fail(r, "%u %s declared but only %zu bytes follow", *count, what,
                remaining(r));
  return true;
}

/* A name as the spec has it: length, then UTF-8 (left in place). */
static bool read_name_bytes(reader_t *r, const uint8_t **bytes,
                            uint32_t *len) {
  if (!read_u32(r, len)) return false;
  if (remaining(r) < *len) return fail(r, "a name runs past the end");
  if (!tarmac_utf8_valid(r->at, *len)) return fail(r, "a name is not UTF-8");
  *bytes = r->at;
  r->at += *len;
  return true;
}

/* An import or export name, copied as a C string: valid wasm names may
 * hold U+0000, which the engine's lookups by C string cannot represent. */
static bool read_name(reader_t *r, char **out) {
  const uint8_t *bytes;
  uint32_t len;
  if (!read_name_bytes(r, &bytes, &len)) return false;
  if (memchr(bytes, '\0', len)) return fail(r, "a name contains a NUL byte");
  char *name = malloc((size_t)len + 1);
  if (!name) return fail(r, "out of memory");
  memcpy(name, bytes, len);
  name[len] = '\0';
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

/* A vector of value types, checked and left in place (*types, *count). */
static bool read_value_types(reader_t *r, const uint8_t **types,
                             uint32_t *count) {
  if (!read_count(r, "value types", count)) return false;
  for (uint32_t i = 0; i < *count; i++)
    if (!value_type_letter(r->at[i]))
      return fail(r, "unknown value type 0x%02x", r->at[i]);
  *types = r->at;
  r->at += *count;
  return true;
}

/* One function type as "params:results" (see host_imports.h), allocated
 * to its exact size. */
static bool read_func_type(reader_t *r, char **out) {
  uint8_t form;
  const uint8_t *params = NULL, *results = NULL; /* set on success; -O3 */
  uint32_t np = 0, nr = 0;                        /* cannot tell */
  if (!read_byte(r, &form)) return false;
  if (form != 0x60)
    return fail(r, "type form 0x%02x is not a function type (0x60)", form);
  if (!read_value_types(r, &params, &np) ||
      !read_value_types(r, &results, &nr))
    return false;
  char *sig = malloc((size_t)np + nr + 2), *w = sig;
  if (!sig) return fail(r, "out of memory");
  for (uint32_t i = 0; i < np; i++) *w++ = value_type_letter(params[i]);
  *w++ = ':';
  for (uint32_t i = 0; i < nr; i++) *w++ = value_type_letter(results[i]);
  *w = '\0';
  *out = sig;
  return true;
}

static bool read_type_section(reader_t *r, module_state_t *m) {
  wasm_module_info_t *info = m->info;
  uint32_t count;
  if (!read_count(r, "types", &count)) return false;
  info->signatures = calloc(count ? count : 1, sizeof *info->signatures);
  if (!info->signatures) return fail(r, "out of memory");
  for (uint32_t i = 0; i < count; i++) {
    if (!read_func_type(r, &info->signatures[i])) return false;
    info->type_count = i + 1;
  }
  return true;
}

static bool check_type_index(reader_t *r, const module_state_t *m,
                             const char *what, uint32_t index) {
  if (index < m->info->type_count) return true;
  return fail(r, "%s refers to type %u but the module has %u types", what,
              index, m->info->type_count);
}

/* Limits of a table (ceiling UINT32_MAX) or memory (ceiling in pages).
 * Only flags 0 and 1: shared and 64-bit memories are not supported. */
static bool read_limits(reader_t *r, const char *what, uint32_t ceiling) {
  uint8_t flags;
  uint32_t min, max = 0;
  if (!read_byte(r, &flags)) return false;
  if (flags > 1)
    return fail(r, "%s limits flags 0x%02x are not supported (shared or "
                "64-bit)", what, flags);
  if (!read_u32(r, &min) || ((flags & 1) && !read_u32(r, &max)))
    return false;
  if (min > ceiling || max > ceiling)
    return fail(r, "%s size is larger than %u", what, ceiling);
  if ((flags & 1) && min > max)
    return fail(r, "%s minimum %u is larger than its maximum %u", what, min,
                max);
  return true;
}

static bool read_table_type(reader_t *r) {
  uint8_t type;
  if (!read_byte(r, &type)) return false;
  if (type != 0x70 && type != 0x6f)
    return fail(r, "table element type 0x%02x is not a reference type", type);
  return read_limits(r, "table", UINT32_MAX);
}

static bool read_global_type(reader_t *r) {
  uint8_t type, mut;
  if (!read_byte(r, &type) || !read_byte(r, &mut)) return false;
  if (!value_type_letter(type))
    return fail(r, "unknown global type 0x%02x", type);
  if (mut > 1) return fail(r, "global mutability 0x%02x is not 0 or 1", mut);
  return true;
}

/* Exception-handling tags: attribute 0 and a type without results. */
static bool read_tag_type(reader_t *r, const module_state_t *m) {
  uint8_t attribute;
  uint32_t type;
  if (!read_byte(r, &attribute) || !read_u32(r, &type)) return false;
  if (attribute != 0)
    return fail(r, "tag attribute 0x%02x is not 0", attribute);
  if (!check_type_index(r, m, "a tag", type)) return false;
  const char *sig = m->info->signatures[type];
  if (sig[strlen(sig) - 1] != ':') return fail(r, "a tag type has results");
  return true;
}

static bool read_import(reader_t *r, module_state_t *m, wasm_import_t *imp) {
  if (!read_name(r, &imp->module) || !read_name(r, &imp->field) ||
      !read_byte(r, &imp->kind))
    return false;
  bool ok;
  switch (imp->kind) {
    case WASM_EXTERN_FUNC:
      ok = read_u32(r, &imp->type_index) &&
           check_type_index(r, m, "a function import", imp->type_index);
      break;
    case WASM_EXTERN_TABLE: ok = read_table_type(r); break;
    case WASM_EXTERN_MEMORY:
      ok = read_limits(r, "memory", WASM_MAX_MEMORY_PAGES);
      break;
    case WASM_EXTERN_GLOBAL: ok = read_global_type(r); break;
    case WASM_EXTERN_TAG: ok = read_tag_type(r, m); break;
    default: return fail(r, "unknown import kind 0x%02x", imp->kind);
  }
  if (ok) m->imported[imp->kind]++;
  return ok;
}

static bool read_import_section(reader_t *r, module_state_t *m) {
  wasm_module_info_t *info = m->info;
  uint32_t count;
  if (!read_count(r, "imports", &count)) return false;
  info->imports = calloc(count ? count : 1, sizeof *info->imports);
  if (!info->imports) return fail(r, "out of memory");
  for (uint32_t i = 0; i < count; i++) {
    info->import_count = i + 1;
    if (!read_import(r, m, &info->imports[i])) return false;
  }
  info->imported_function_count = m->imported[WASM_EXTERN_FUNC];
  return true;
}

static bool read_function_section(reader_t *r, module_state_t *m) {
  wasm_module_info_t *info = m->info;
  uint32_t count;
  if (!read_count(r, "functions", &count)) return false;
  info->function_types = calloc(count ? count : 1, sizeof(uint32_t));
  if (!info->function_types) return fail(r, "out of memory");
  for (uint32_t i = 0; i < count; i++)
    if (!read_u32(r, &info->function_types[i]) ||
        !check_type_index(r, m, "a function", info->function_types[i]))
      return false;
  info->function_count = count;
  m->defined[WASM_EXTERN_FUNC] = count;
  return true;
}

/* Table, memory and tag sections: a vector of types, counted. */
static bool read_type_vector(reader_t *r, module_state_t *m, uint8_t kind) {
  uint32_t count;
  if (!read_count(r, "entries", &count)) return false;
  for (uint32_t i = 0; i < count; i++) {
    bool ok = kind == WASM_EXTERN_TABLE    ? read_table_type(r)
              : kind == WASM_EXTERN_MEMORY ? read_limits(r, "memory",
                                                         WASM_MAX_MEMORY_PAGES)
                                           : read_tag_type(r, m);
    if (!ok) return false;
  }
  m->defined[kind] = count;
  return true;
}

static const char *kind_name(uint8_t kind) {
  static const char *const names[KIND_COUNT] = {"function", "table", "memory",
                                                "global", "tag"};
  return kind < KIND_COUNT ? names[kind] : "unknown";
}

static bool check_index(reader_t *r, const module_state_t *m, uint8_t kind,
                        uint32_t index, const char *what) {
  uint64_t size = (uint64_t)m->imported[kind] + m->defined[kind];
  if (index < size) return true;
  return fail(r, "%s refers to %s %u but the module has %llu %ss", what,
              kind_name(kind), index, (unsigned long long)size,
              kind_name(kind));
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Export names must be distinct (the engine looks exports up by name). */
static bool check_export_names(reader_t *r, const wasm_module_info_t *info) {
  if (info->export_count < 2) return true;
  char **names = malloc(info->export_count * sizeof *names);
  if (!names) return fail(r, "out of memory");
  for (uint32_t i = 0; i < info->export_count; i++)
    names[i] = info->exports[i].name;
  qsort(names, info->export_count, sizeof *names, compare_names);
  for (uint32_t i = 1; i < info->export_count; i++)
    if (strcmp(names[i - 1], names[i]) == 0) {
      fail(r, "the name \"%.64s\" is exported twice", names[i]);
      break;
    }
  free(names);
  return !r->failed;
}

static bool read_export_section(reader_t *r, module_state_t *m) {
  wasm_module_info_t *info = m->info;
  uint32_t count;
  if (!read_count(r, "exports", &count)) return false;
  info->exports = calloc(count ? count : 1, sizeof *info->exports);
  if (!info->exports) return fail(r, "out of memory");
  for (uint32_t i = 0; i < count; i++) {
    wasm_export_t *exp = &info->exports[i];
    info->export_count = i + 1;
    if (!read_name(r, &exp->name) || !read_byte(r, &exp->kind) ||
        !read_u32(r, &exp->index))
      return false;
    if (exp->kind >= KIND_COUNT)
      return fail(r, "export \"%.64s\" has unknown kind 0x%02x", exp->name,
                  exp->kind);
    char what[96];
    snprintf(what, sizeof what, "export \"%.64s\"", exp->name);
    if (!check_index(r, m, exp->kind, exp->index, what)) return false;
  }
  return check_export_names(r, info);
}

static bool read_start_section(reader_t *r, module_state_t *m) {
  uint32_t index;
  if (!read_u32(r, &index) ||
      !check_index(r, m, WASM_EXTERN_FUNC, index, "the start function"))
    return false;
  const char *sig = wasm_module_info_function_signature(m->info, index);
  if (!sig || strcmp(sig, ":") != 0)
    return fail(r, "the start function must take and return nothing");
  return true;
}

/* Code: one body per function; bodies are skipped (wasm2c reads them),
 * but each must lie within the section. */
static bool read_code_section(reader_t *r, module_state_t *m) {
  if (!read_count(r, "function bodies", &m->code_count)) return false;
  for (uint32_t i = 0; i < m->code_count; i++) {
    uint32_t size;
    if (!read_u32(r, &size)) return false;
    if (size == 0 || size > remaining(r))
      return fail(r, "function body %u has a bad size (%u)", i, size);
    r->at += size;
  }
  m->has_code = true;
  return true;
}

/* The section id's place in the spec's order (custom sections: 0, anywhere;
 * tag (13) sits between memory and global, datacount (12) between element
 * and code), or -1 for an unknown id. */
static int section_rank(uint8_t id) {
  static const int8_t rank[14] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6};
  return id < 14 ? rank[id] : -1;
}

static const char *section_name(uint8_t id) {
  static const char *const names[14] = {
      "custom", "type",  "import", "function", "table", "memory", "global",
      "export", "start", "element", "code",    "data",  "datacount", "tag"};
  return id < 14 ? names[id] : "unknown";
}

/* Skips an unsigned or signed LEB128 of at most 10 bytes. */
static bool skip_leb(reader_t *r) {
  for (int i = 0; i < 10; i++) {
    uint8_t b;
    if (!read_byte(r, &b)) return false;
    if (!(b & 0x80)) return true;
  }
  return false;
}

static bool skip_bytes(reader_t *r, size_t n) {
  if (remaining(r) < n) return false;
  r->at += n;
  return true;
}

/* Skips a constant expression through its `end`; false on an instruction
 * this reader does not know (the caller then assumes the worst). */
static bool skip_const_expr(reader_t *r) {
  uint8_t op;
  uint32_t sub;
  while (read_byte(r, &op)) {
    bool ok = true;
    switch (op) {
      case 0x0b: return true; /* end */
      case 0x41: case 0x42: case 0x23: case 0xd2: ok = skip_leb(r); break;
      case 0x43: ok = skip_bytes(r, 4); break;
      case 0x44: ok = skip_bytes(r, 8); break;
      case 0xd0: ok = skip_bytes(r, 1); break; /* ref.null t */
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break;
      case 0xfd: /* v128.const */
        ok = read_u32(r, &sub) && sub == 12 && skip_bytes(r, 16);
        break;
      default: return false;
    }
    if (!ok) return false;
  }
  return false;
}

/* Whether a defined global holds a reference (its value may name the
 * instance, which a snapshot cannot relocate without knowing where the
 * global lives). Scans a copy of the reader, so it never fails the parse:
 * anything it cannot read counts as a reference global. */
static bool has_reference_globals(reader_t section, uint32_t count) {
  reader_t *r = &section;
  for (uint32_t i = 0; i < count; i++) {
    uint8_t type, mut;
    if (!read_byte(r, &type) || !read_byte(r, &mut)) return true;
    if (type == 0x70 || type == 0x6f) return true;
    if (!skip_const_expr(r)) return true;
  }
  return false;
}

/* Reads one section's content; false with r->failure set. Sections read
 * in full must be consumed exactly; global, element and data sections are
 * only counted (their expressions are wasm2c's to validate). */
static bool read_section(reader_t *r, uint8_t id, module_state_t *m) {
  const uint8_t *name;
  uint32_t name_len;
  bool whole = true, ok;
  switch (id) {
    case 0: ok = read_name_bytes(r, &name, &name_len); whole = false; break;
    case 1: ok = read_type_section(r, m); break;
    case 2: ok = read_import_section(r, m); break;
    case 3: ok = read_function_section(r, m); break;
    case 4: ok = read_type_vector(r, m, WASM_EXTERN_TABLE); break;
    case 5: ok = read_type_vector(r, m, WASM_EXTERN_MEMORY); break;
    case 6:
      ok = read_count(r, "globals", &m->defined[WASM_EXTERN_GLOBAL]);
      if (ok)
        m->info->reference_globals =
            has_reference_globals(*r, m->defined[WASM_EXTERN_GLOBAL]);
      whole = false;
      break;
    case 7: ok = read_export_section(r, m); break;
    case 8: ok = read_start_section(r, m); break;
    case 10: ok = read_code_section(r, m); break;
    case 11:
      ok = read_count(r, "data segments", &m->data_segments);
      m->has_data = true;
      whole = false;
      break;
    case 12: ok = m->has_data_count = read_u32(r, &m->data_count); break;
    case 13: ok = read_type_vector(r, m, WASM_EXTERN_TAG); break;
    default: ok = true; whole = false; break; /* element: wasm2c's */
  }
  if (ok && whole && r->at != r->end)
    return fail(r, "%zu bytes left over at its end", remaining(r));
  return ok;
}
/* Known sections come at most once, in the spec's order. */
static bool check_order(reader_t *r, uint8_t id, module_state_t *m) {
  int rank = section_rank(id);
  if (rank < 0) return fail(r, "unknown section id %u", id);
  if (rank == 0) return true;
  if ((unsigned)rank == m->last_rank)
    return fail(r, "the %s section appears more than once", section_name(id));
  if ((unsigned)rank < m->last_rank)
    return fail(r, "the %s section comes after the %s section (the order is "
                "type, import, function, table, memory, tag, global, export, "
                "start, element, datacount, code, data)",
                section_name(id), section_name(m->last_id));
  m->last_rank = (unsigned)rank;
  m->last_id = id;
  return true;
}

/* Counts that must agree across sections, checked once all are read. */
static bool check_counts(reader_t *r, const module_state_t *m) {
  uint32_t bodies = m->has_code ? m->code_count : 0;
  if (m->info->function_count != bodies)
    return fail(r, "the function section declares %u functions but the code "
                "section has %u bodies", m->info->function_count, bodies);
  uint32_t segments = m->has_data ? m->data_segments : 0;
  if (m->has_data_count && m->data_count != segments)
    return fail(r, "the datacount section says %u data segments but the data "
                "section has %u", m->data_count, segments);
  return true;
}

static bool read_sections(reader_t *r, module_state_t *m) {
  while (r->at < r->end) {
    uint8_t id;
    uint32_t size;
    if (!read_byte(r, &id) || !read_u32(r, &size) || !check_order(r, id, m))
      return false;
    if (remaining(r) < size)
      return fail(r, "the %s section (%u bytes) runs past the end of the "
                  "module", section_name(id), size);
    reader_t section = {.at = r->at, .end = r->at + size};
    if (!read_section(&section, id, m))
      return fail(r, "%s section: %s", section_name(id), section.failure);
    r->at += size;
  }
  return check_counts(r, m);
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
  reader_t r = {.at = bytes + 8, .end = bytes + len};
  module_state_t m = {.info = info};
  if (!read_sections(&r, &m)) {
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
