/* Unit tests of src/util/buffer: growth, empty appends, set, printf-style
 * appends past the first allocation, size overflow, clear, trim, free and
 * reuse. */
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "util/buffer.h"

static void test_empty_buffer(void) {
  tarmac_buffer_t buf = TARMAC_BUFFER_INIT;
  CHECK(buf.data == NULL);
  CHECK_EQ_INT(tarmac_buffer_reserve(&buf, 0), 0);
  CHECK_EQ_INT(tarmac_buffer_append(&buf, NULL, 0), 0);
  CHECK_EQ_INT(tarmac_buffer_append_str(&buf, ""), 0);
  CHECK_EQ_INT(buf.len, 0);
  CHECK_EQ_INT(tarmac_buffer_set(&buf, NULL, 0), 0);
  CHECK_EQ_INT(buf.len, 0);
  tarmac_buffer_free(&buf);
  tarmac_buffer_free(&buf); /* freeing twice is harmless */
  CHECK(buf.data == NULL);
}

static void test_append_grows(void) {
  tarmac_buffer_t buf = TARMAC_BUFFER_INIT;
  char expect[1000];
  for (int i = 0; i < 1000; i++) {
    char c = (char)('a' + i % 26);
    expect[i] = c;
    CHECK_EQ_INT(tarmac_buffer_append(&buf, &c, 1), 0);
  }
  CHECK_EQ_INT(buf.len, 1000);
  CHECK(buf.cap >= 1000);
  CHECK(memcmp(buf.data, expect, 1000) == 0);
  /* a reserve within capacity keeps the storage */
  uint8_t *data = buf.data;
  CHECK_EQ_INT(tarmac_buffer_reserve(&buf, buf.cap - buf.len), 0);
  CHECK(buf.data == data);
  /* one large append well past doubling */
  static char big[100000];
  memset(big, 'z', sizeof big);
  CHECK_EQ_INT(tarmac_buffer_append(&buf, big, sizeof big), 0);
  CHECK_EQ_INT(buf.len, 1000 + sizeof big);
  CHECK(memcmp(buf.data, expect, 1000) == 0);
  CHECK_EQ_INT(buf.data[buf.len - 1], 'z');
  tarmac_buffer_free(&buf);
}

static void test_overflow_is_refused(void) {
  tarmac_buffer_t buf = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_buffer_append_str(&buf, "abc"), 0);
  size_t cap = buf.cap;
  /* len + extra would wrap around: refused without touching the buffer */
  CHECK_EQ_INT(tarmac_buffer_reserve(&buf, SIZE_MAX), -1);
  CHECK_EQ_INT(tarmac_buffer_reserve(&buf, SIZE_MAX - 2), -1);
  CHECK_EQ_INT(buf.len, 3);
  CHECK_EQ_INT(buf.cap, cap);
  CHECK_BYTES(buf.data, buf.len, "abc");
  tarmac_buffer_free(&buf);
}

static void test_set(void) {
  tarmac_buffer_t buf = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_buffer_set(&buf, "hello world", 11), 0);
  CHECK_BYTES(buf.data, buf.len, "hello world");
  CHECK_EQ_INT(tarmac_buffer_set(&buf, "hi", 2), 0);
  CHECK_BYTES(buf.data, buf.len, "hi");
  char longer[300];
  memset(longer, 'q', sizeof longer);
  CHECK_EQ_INT(tarmac_buffer_set(&buf, longer, sizeof longer), 0);
  CHECK_EQ_INT(buf.len, sizeof longer);
  CHECK(memcmp(buf.data, longer, sizeof longer) == 0);
  CHECK_EQ_INT(tarmac_buffer_set(&buf, "", 0), 0);
  CHECK_EQ_INT(buf.len, 0);
  tarmac_buffer_free(&buf);
}

static void test_appendf(void) {
  tarmac_buffer_t buf = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_buffer_appendf(&buf, "%s", ""), 0);
  CHECK_EQ_INT(buf.len, 0);
  CHECK_EQ_INT(tarmac_buffer_appendf(&buf, "%d-%s", 42, "x"), 0);
  CHECK_BYTES(buf.data, buf.len, "42-x");
  /* longer than the first allocation, after existing content */
  CHECK_EQ_INT(tarmac_buffer_appendf(&buf, "|%0200d|", 7), 0);
  CHECK_EQ_INT(buf.len, 4 + 202);
  CHECK(memcmp(buf.data, "42-x|000", 8) == 0);
  CHECK(memcmp(buf.data + buf.len - 3, "07|", 3) == 0);
  /* an embedded NUL from %c counts as a byte */
  CHECK_EQ_INT(tarmac_buffer_appendf(&buf, "%c", 0), 0);
  CHECK_EQ_INT(buf.len, 4 + 202 + 1);
  CHECK_EQ_INT(buf.data[buf.len - 1], 0);
  tarmac_buffer_free(&buf);
}

static void test_clear_and_trim(void) {
  tarmac_buffer_t buf = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_buffer_append_str(&buf, "some bytes"), 0);
  size_t cap = buf.cap;
  tarmac_buffer_clear(&buf);
  CHECK_EQ_INT(buf.len, 0);
  CHECK_EQ_INT(buf.cap, cap);
  CHECK(buf.data != NULL);
  /* trim keeping at least the capacity: storage stays, content goes */
  CHECK_EQ_INT(tarmac_buffer_append_str(&buf, "again"), 0);
  tarmac_buffer_trim(&buf, cap);
  CHECK_EQ_INT(buf.len, 0);
  CHECK_EQ_INT(buf.cap, cap);
  /* trim below the capacity: storage freed */
  CHECK_EQ_INT(tarmac_buffer_append_str(&buf, "again"), 0);
  tarmac_buffer_trim(&buf, cap - 1);
  CHECK(buf.data == NULL);
  CHECK_EQ_INT(buf.len, 0);
  CHECK_EQ_INT(buf.cap, 0);
  /* reusable after trim and free */
  CHECK_EQ_INT(tarmac_buffer_append_str(&buf, "reused"), 0);
  CHECK_BYTES(buf.data, buf.len, "reused");
  tarmac_buffer_free(&buf);
  CHECK_EQ_INT(tarmac_buffer_append_str(&buf, "x"), 0);
  CHECK_BYTES(buf.data, buf.len, "x");
  tarmac_buffer_free(&buf);
}

int main(void) {
  test_empty_buffer();
  test_append_grows();
  test_overflow_is_refused();
  test_set();
  test_appendf();
  test_clear_and_trim();
  TEST_EXIT();
}
