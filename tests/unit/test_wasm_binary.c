/* Unit tests of src/engine/wasm_binary: hand-made binaries, each breaking
 * one structural rule the reader enforces (section order and uniqueness,
 * counts and lengths, indices against their index spaces), next to valid
 * modules using every section kind in the spec's order. */
#include <stdint.h>
#include <string.h>

#include "engine/wasm_binary.h"
#include "test.h"

typedef struct {
  uint8_t b[1024];
  size_t n;
} mod_t;

static void put(mod_t *m, const uint8_t *bytes, size_t n) {
  if (m->n + n > sizeof m->b) abort();
  memcpy(m->b + m->n, bytes, n);
  m->n += n;
}

#define PUT(m, ...)                              \
  do {                                           \
    static const uint8_t x_[] = {__VA_ARGS__};   \
    put((m), x_, sizeof x_);                     \
  } while (0)

/* A section: id, LEB size (contents here stay under 128 bytes), content. */
#define SECTION(m, id, ...)                         \
  do {                                              \
    static const uint8_t c_[] = {__VA_ARGS__};      \
    uint8_t h_[2] = {(id), (uint8_t)sizeof c_};     \
    put((m), h_, 2);                                \
    put((m), c_, sizeof c_);                        \
  } while (0)

static mod_t header(void) {
  mod_t m = {.n = 0};
  PUT(&m, 0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00);
  return m;
}

/* Parses m; checks the status and, on failure, that the message holds
 * `text`. */
static void expect(const mod_t *m, tarmac_load_status_t want,
                   const char *text, int line) {
  wasm_module_info_t info;
  tarmac_error_t err = {0};
  tarmac_load_status_t got = wasm_module_info_parse(m->b, m->n, &info, &err);
  if (got == TARMAC_LOAD_OK) wasm_module_info_free(&info);
  bool ok = got == want && (!text || strstr(err.message, text) != NULL);
  CHECK(ok);
  if (!ok)
    fprintf(stderr, "  line %d: status %d (want %d), message \"%s\" (want "
            "\"%s\")\n", line, (int)got, (int)want, err.message,
            text ? text : "");
}

#define EXPECT_OK(m) expect((m), TARMAC_LOAD_OK, NULL, __LINE__)
#define EXPECT_INVALID(m, text) \
  expect((m), TARMAC_LOAD_INVALID, (text), __LINE__)

/* The 50-byte module: a second type section with fewer types, then
 * an import of type 1 (wapc.__console_log), which only the first section
 * had. The old reader kept the first count with the second array: a read
 * past the array, then a NULL signature (tarmac call died of SIGSEGV). */
static const uint8_t fifty_bytes[50] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,       /* header */
    0x01, 0x07, 0x02, 0x60, 0x00, 0x00, 0x60, 0x00, 0x00, /* 2 types */
    0x01, 0x01, 0x00,                                     /* 0 types */
    0x02, 0x16, 0x01, 0x04, 'w', 'a', 'p', 'c', 0x0d, '_', '_', 'c', 'o',
    'n', 's', 'o', 'l', 'e', '_', 'l', 'o', 'g', 0x00, 0x01, /* type 1 */
    0x00, 0x04, 0x03, 'p', 'a', 'd'};                     /* custom */

static void test_repeated_type_section(void) {
  mod_t m = {.n = sizeof fifty_bytes};
  memcpy(m.b, fifty_bytes, sizeof fifty_bytes);
  EXPECT_INVALID(&m, "the type section appears more than once");
}

static void test_repeated_sections(void) {
  static const uint8_t ids[] = {2, 3, 4, 5, 6, 7, 10, 11, 12, 13};
  for (size_t i = 0; i < sizeof ids; i++) {
    mod_t m = header();
    uint8_t twice[] = {ids[i], 1, 0, ids[i], 1, 0};
    put(&m, twice, sizeof twice);
    EXPECT_INVALID(&m, "appears more than once");
  }
  mod_t start = header();
  SECTION(&start, 1, 0x01, 0x60, 0x00, 0x00);
  SECTION(&start, 3, 0x01, 0x00);
  SECTION(&start, 8, 0x00);
  SECTION(&start, 8, 0x00);
  EXPECT_INVALID(&start, "the start section appears more than once");
}

/* Every section kind once, in the spec's order, custom sections between. */
static mod_t full_module(void) {
  mod_t m = header();
  SECTION(&m, 0, 0x01, 'x', 0xff);
  SECTION(&m, 1, 0x02, 0x60, 0x00, 0x00, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f);
  SECTION(&m, 2, 0x01, 0x01, 'm', 0x01, 'f', 0x00, 0x01);
  SECTION(&m, 3, 0x02, 0x00, 0x01);
  SECTION(&m, 4, 0x01, 0x70, 0x00, 0x01);
  SECTION(&m, 5, 0x01, 0x01, 0x01, 0x02);
  SECTION(&m, 13, 0x01, 0x00, 0x00);
  SECTION(&m, 6, 0x01, 0x7f, 0x00, 0x41, 0x00, 0x0b);
  SECTION(&m, 7, 0x03, 0x04, 'c', 'a', 'l', 'l', 0x00, 0x02, 0x06, 'm',
          'e', 'm', 'o', 'r', 'y', 0x02, 0x00, 0x01, 't', 0x04, 0x00);
  SECTION(&m, 8, 0x01);
  SECTION(&m, 9, 0x00);
  SECTION(&m, 12, 0x01);
  SECTION(&m, 0, 0x01, 'y');
  SECTION(&m, 10, 0x02, 0x02, 0x00, 0x0b, 0x04, 0x00, 0x41, 0x01, 0x0b);
  SECTION(&m, 11, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x00);
  return m;
}

static void test_full_module(void) {
  mod_t m = full_module();
  wasm_module_info_t info;
  tarmac_error_t err = {0};
  CHECK_EQ_INT(wasm_module_info_parse(m.b, m.n, &info, &err), TARMAC_LOAD_OK);
  if (err.message[0]) fprintf(stderr, "  %s\n", err.message);
  CHECK_EQ_INT(info.type_count, 2);
  CHECK(strcmp(info.signatures[1], "ii:i") == 0);
  CHECK_EQ_INT(info.imported_function_count, 1);
  CHECK_EQ_INT(info.function_count, 2);
  const wasm_export_t *call = wasm_module_info_export(&info, "call");
  CHECK(call && call->kind == WASM_EXTERN_FUNC && call->index == 2);
  CHECK(call && strcmp(wasm_module_info_function_signature(&info, call->index),
                       "ii:i") == 0);
  CHECK(wasm_module_info_function_signature(&info, 3) == NULL);
  if (info.type_count) wasm_module_info_free(&info);
}

static void test_section_order(void) {
  mod_t m = header();
  SECTION(&m, 2, 0x00);
  SECTION(&m, 1, 0x00);
  EXPECT_INVALID(&m, "the type section comes after the import section");
  mod_t tag = header();
  SECTION(&tag, 6, 0x00);
  SECTION(&tag, 13, 0x00);
  EXPECT_INVALID(&tag, "the tag section comes after the global section");
  mod_t count = header();
  SECTION(&count, 10, 0x00);
  SECTION(&count, 12, 0x00);
  EXPECT_INVALID(&count, "the datacount section comes after the code");
  mod_t data = header();
  SECTION(&data, 11, 0x00);
  SECTION(&data, 10, 0x00);
  EXPECT_INVALID(&data, "the code section comes after the data section");
  mod_t unknown = header();
  SECTION(&unknown, 14, 0x00);
  EXPECT_INVALID(&unknown, "unknown section id 14");
}

static void test_bad_indices(void) {
  mod_t imp = header();
  SECTION(&imp, 1, 0x01, 0x60, 0x00, 0x00);
  SECTION(&imp, 2, 0x01, 0x01, 'm', 0x01, 'f', 0x00, 0x01);
  EXPECT_INVALID(&imp, "import section: a function import refers to type 1 "
                       "but the module has 1 types");
  mod_t fn = header();
  SECTION(&fn, 3, 0x01, 0x00);
  EXPECT_INVALID(&fn, "function section: a function refers to type 0");
  mod_t exp = header();
  SECTION(&exp, 7, 0x01, 0x01, 'f', 0x00, 0x00);
  EXPECT_INVALID(&exp, "export \"f\" refers to function 0 but the module has "
                       "0 functions");
  mod_t mem = header();
  SECTION(&mem, 7, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00);
  EXPECT_INVALID(&mem, "refers to memory 0 but the module has 0 memorys");
  mod_t kind = header();
  SECTION(&kind, 7, 0x01, 0x01, 'k', 0x05, 0x00);
  EXPECT_INVALID(&kind, "export \"k\" has unknown kind 0x05");
  mod_t start = header();
  SECTION(&start, 8, 0x00);
  EXPECT_INVALID(&start, "start section: the start function refers to "
                         "function 0");
  mod_t tag = header();
  SECTION(&tag, 13, 0x01, 0x00, 0x00);
  EXPECT_INVALID(&tag, "tag section: a tag refers to type 0");
}

static void test_counts_and_lengths(void) {
  mod_t bodies = header();
  SECTION(&bodies, 1, 0x01, 0x60, 0x00, 0x00);
  SECTION(&bodies, 3, 0x02, 0x00, 0x00);
  SECTION(&bodies, 10, 0x01, 0x02, 0x00, 0x0b);
  EXPECT_INVALID(&bodies, "declares 2 functions but the code section has 1");
  mod_t none = header();
  SECTION(&none, 1, 0x01, 0x60, 0x00, 0x00);
  SECTION(&none, 3, 0x01, 0x00);
  EXPECT_INVALID(&none, "code section has 0 bodies");
  mod_t body = header();
  SECTION(&body, 10, 0x01, 0x05, 0x00, 0x0b);
  EXPECT_INVALID(&body, "function body 0 has a bad size (5)");
  mod_t data = header();
  SECTION(&data, 12, 0x02);
  SECTION(&data, 11, 0x00);
  EXPECT_INVALID(&data, "the datacount section says 2 data segments");
  mod_t many = header();
  SECTION(&many, 1, 0x7f, 0x60, 0x00, 0x00);
  EXPECT_INVALID(&many, "type section: 127 types declared but only 3 bytes");
  mod_t past = header();
  PUT(&past, 0x01, 0x10, 0x00);
  EXPECT_INVALID(&past, "the type section (16 bytes) runs past the end");
  mod_t left = header();
  SECTION(&left, 1, 0x00, 0x00);
  EXPECT_INVALID(&left, "type section: 1 bytes left over at its end");
  mod_t leb = header();
  SECTION(&leb, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
  EXPECT_INVALID(&leb, "type section: integer representation too long");
  mod_t big = header();
  SECTION(&big, 1, 0xff, 0xff, 0xff, 0xff, 0x7f);
  EXPECT_INVALID(&big, "type section: integer too large");
  mod_t size = header();
  PUT(&size, 0x00, 0xff, 0xff, 0xff, 0xff, 0x1f);
  EXPECT_INVALID(&size, "integer too large");
  mod_t end = header();
  SECTION(&end, 1, 0x01, 0x60, 0x02, 0x7f);
  EXPECT_INVALID(&end, "type section: 2 value types declared but only 1");
}

static void test_types_and_limits(void) {
  mod_t form = header();
  SECTION(&form, 1, 0x01, 0x5f, 0x00, 0x00);
  EXPECT_INVALID(&form, "type form 0x5f is not a function type");
  mod_t value = header();
  SECTION(&value, 1, 0x01, 0x60, 0x01, 0x40, 0x00);
  EXPECT_INVALID(&value, "unknown value type 0x40");
  mod_t minmax = header();
  SECTION(&minmax, 5, 0x01, 0x01, 0x02, 0x01);
  EXPECT_INVALID(&minmax, "memory minimum 2 is larger than its maximum 1");
  mod_t pages = header();
  SECTION(&pages, 5, 0x01, 0x00, 0x81, 0x80, 0x04);
  EXPECT_INVALID(&pages, "memory size is larger than 65536");
  mod_t shared = header();
  SECTION(&shared, 5, 0x01, 0x03, 0x01, 0x01);
  EXPECT_INVALID(&shared, "memory limits flags 0x03 are not supported");
  mod_t table = header();
  SECTION(&table, 4, 0x01, 0x7f, 0x00, 0x00);
  EXPECT_INVALID(&table, "table element type 0x7f is not a reference type");
  mod_t global = header();
  SECTION(&global, 2, 0x01, 0x01, 'm', 0x01, 'g', 0x03, 0x7f, 0x02);
  EXPECT_INVALID(&global, "global mutability 0x02 is not 0 or 1");
  mod_t tag = header();
  SECTION(&tag, 1, 0x01, 0x60, 0x00, 0x01, 0x7f);
  SECTION(&tag, 13, 0x01, 0x00, 0x00);
  EXPECT_INVALID(&tag, "a tag type has results");
}

static void test_names(void) {
  mod_t utf8 = header();
  SECTION(&utf8, 2, 0x01, 0x01, 0xc0, 0x01, 'f', 0x02, 0x00, 0x01);
  EXPECT_INVALID(&utf8, "import section: a name is not UTF-8");
  mod_t nul = header();
  SECTION(&nul, 2, 0x01, 0x01, 0x00, 0x01, 'f', 0x02, 0x00, 0x01);
  EXPECT_INVALID(&nul, "a name contains a NUL byte");
  mod_t twice = header();
  SECTION(&twice, 5, 0x01, 0x00, 0x01);
  SECTION(&twice, 7, 0x02, 0x01, 'm', 0x02, 0x00, 0x01, 'm', 0x02, 0x00);
  EXPECT_INVALID(&twice, "the name \"m\" is exported twice");
  mod_t nul_custom = header(); /* U+0000 is fine where no C string holds it */
  SECTION(&nul_custom, 0, 0x03, 'a', 0x00, 'b', 0x01);
  EXPECT_OK(&nul_custom);
  mod_t custom = header();
  SECTION(&custom, 0, 0x05, 'a');
  EXPECT_INVALID(&custom, "custom section: a name runs past the end");
  mod_t start = header();
  SECTION(&start, 1, 0x01, 0x60, 0x01, 0x7f, 0x00);
  SECTION(&start, 3, 0x01, 0x00);
  SECTION(&start, 8, 0x00);
  SECTION(&start, 10, 0x01, 0x02, 0x00, 0x0b);
  EXPECT_INVALID(&start, "the start function must take and return nothing");
}

int main(void) {
  test_repeated_type_section();
  test_repeated_sections();
  test_full_module();
  test_section_order();
  test_bad_indices();
  test_counts_and_lengths();
  test_types_and_limits();
  test_names();
  TEST_EXIT();
}
