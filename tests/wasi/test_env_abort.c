/* env.abort (AssemblyScript): the trap detail built from UTF-16 strings
 * (surrogate pairs, lone surrogates, long strings bounded), null and bad
 * pointers, and a module without memory. */
#include "wasi_test.h"

#define ABORT_FN ((void *)Z_envZ_abort)

/* Writes an AssemblyScript string (u32 byte length, then UTF-16LE units) so
 * that the string starts at `at`. */
static void poke_as_string(wasi_fixture_t *f, uint32_t at,
                           const uint16_t *units, uint32_t count) {
  poke_u32(f, at - 4, count * 2);
  for (uint32_t i = 0; i < count; i++) {
    f->memory.data[at + 2 * i] = (uint8_t)units[i];
    f->memory.data[at + 2 * i + 1] = (uint8_t)(units[i] >> 8);
  }
}

static void poke_ascii(wasi_fixture_t *f, uint32_t at, const char *s) {
  uint16_t units[64];
  uint32_t n = (uint32_t)strlen(s);
  for (uint32_t i = 0; i < n; i++) units[i] = (uint8_t)s[i];
  poke_as_string(f, at, units, n);
}

static int abort_with(wasi_fixture_t *f, uint32_t msg, uint32_t file,
                      uint32_t line, uint32_t column) {
  uint32_t r;
  return CALL(f, ABORT_FN, "iiii:", &r, msg, file, line, column);
}

static void test_message(wasi_fixture_t *f) {
  /* "héllo 😀" : é is U+00E9, 😀 is U+1F600 = D83D DE00 */
  static const uint16_t msg[] = {'h', 0xE9, 'l', 'l', 'o', ' ', 0xD83D, 0xDE00};
  poke_as_string(f, 100, msg, 8);
  poke_ascii(f, 300, "assembly/index.ts");
  CHECK_EQ_INT(abort_with(f, 100, 300, 12, 5), TARMAC_TRAP_ABORT);
  CHECK_EQ_INT(strcmp(tarmac_rt_trap_detail(),
                      "h\xC3\xA9llo \xF0\x9F\x98\x80 at assembly/index.ts:12:5"),
               0);
}

static void test_lone_surrogates(wasi_fixture_t *f) {
  static const uint16_t msg[] = {0xDC00, 'x', 0xD800};
  poke_as_string(f, 100, msg, 3);
  CHECK_EQ_INT(abort_with(f, 100, 0, 1, 2), TARMAC_TRAP_ABORT);
  CHECK_EQ_INT(strcmp(tarmac_rt_trap_detail(),
                      "\xEF\xBF\xBDx\xEF\xBF\xBD at null:1:2"),
               0);
}

static void test_bad_pointers(wasi_fixture_t *f) {
  poke_ascii(f, 300, "f.ts");
  CHECK_EQ_INT(abort_with(f, 0, 300, 1, 1), TARMAC_TRAP_ABORT);
  CHECK_EQ_INT(strcmp(tarmac_rt_trap_detail(), "null at f.ts:1:1"), 0);
  CHECK_EQ_INT(abort_with(f, 2, 300, 1, 1), TARMAC_TRAP_ABORT);
  CHECK_EQ_INT(strcmp(tarmac_rt_trap_detail(),
                      "<unreadable string> at f.ts:1:1"),
               0);
  CHECK_EQ_INT(abort_with(f, f->memory.size + 8, 300, 4294967295u, 0),
               TARMAC_TRAP_ABORT);
  CHECK_EQ_INT(strcmp(tarmac_rt_trap_detail(),
                      "<unreadable string> at f.ts:4294967295:0"),
               0);
  /* a string claiming more bytes than memory has, near its end */
  uint32_t at = f->memory.size - 10;
  poke_u32(f, at - 4, 0xFFFFFFF0u);
  CHECK_EQ_INT(abort_with(f, at, 300, 1, 1), TARMAC_TRAP_ABORT);
  CHECK(strstr(tarmac_rt_trap_detail(), "<unreadable string>") != NULL);
}

/* A huge length is bounded: the detail holds a prefix of the message. */
static void test_long_message(wasi_fixture_t *f) {
  poke_u32(f, 1000 - 4, 0xFFFFFFF0u);
  memset(f->memory.data + 1000, 0, 20000);
  for (uint32_t i = 0; i < 10000; i++) f->memory.data[1000 + 2 * i] = 'z';
  poke_ascii(f, 300, "f.ts");
  CHECK_EQ_INT(abort_with(f, 1000, 300, 7, 8), TARMAC_TRAP_ABORT);
  const char *detail = tarmac_rt_trap_detail();
  CHECK(strlen(detail) <= 255);
  CHECK(strspn(detail, "z") >= 100);
  CHECK(strstr(detail, " at f.ts:7:8") != NULL);
}

static void test_no_memory(wasi_fixture_t *f) {
  f->instance.memory = NULL;
  CHECK_EQ_INT(abort_with(f, 100, 300, 3, 4), TARMAC_TRAP_ABORT);
  CHECK_EQ_INT(strcmp(tarmac_rt_trap_detail(),
                      "<unreadable string> at <unreadable string>:3:4"),
               0);
  f->instance.memory = &f->memory;
}

int main(void) {
  wasi_fixture_t f;
  fixture_init(&f, 1);
  test_message(&f);
  test_lone_surrogates(&f);
  test_bad_pointers(&f);
  test_long_message(&f);
  test_no_memory(&f);
  fixture_free(&f);
  TEST_EXIT();
}
