/* Unit tests of src/log: the exact shape of JSON and text lines, escaping
 * of arbitrary bytes, level filtering and parsing, long lines, and lines
 * from several threads never interleaving. Output goes to a temp file. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"
#include "test.h"

static FILE *capture_file;
static char *captured; /* what the logger wrote since capture_start() */
static size_t captured_len;

static void capture_start(tarmac_log_level_t min_level, bool text) {
  int fd = fileno(capture_file);
  CHECK_EQ_INT(ftruncate(fd, 0), 0);
  CHECK_EQ_INT(lseek(fd, 0, SEEK_SET), 0);
  tarmac_log_config_t config = {fd, min_level, text};
  tarmac_log_configure(&config);
}

/* Reads the captured output (NUL-terminated copy in `captured`). */
static void capture_read(void) {
  int fd = fileno(capture_file);
  off_t size = lseek(fd, 0, SEEK_END);
  CHECK(size >= 0);
  free(captured);
  captured = calloc(1, (size_t)size + 1);
  CHECK(captured != NULL);
  captured_len = (size_t)pread(fd, captured, (size_t)size, 0);
  CHECK_EQ_INT(captured_len, size);
}

static size_t count_lines(const char *s, size_t len) {
  size_t lines = 0;
  for (size_t i = 0; i < len; i++) lines += s[i] == '\n';
  return lines;
}

/* "2026-11-26T13:00:00.123Z" */
static bool is_timestamp(const char *s) {
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (size_t i = 0; i < sizeof shape - 1; i++) {
    if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
      return false;
  }
  return true;
}

/* Parses the single captured JSON line; NULL when it is not one. */
static json_t *captured_json(void) {
  capture_read();
  CHECK_EQ_INT(count_lines(captured, captured_len), 1);
  CHECK(captured_len > 0 && captured[captured_len - 1] == '\n');
  json_error_t err;
  json_t *record = json_loadb(captured, captured_len, JSON_ALLOW_NUL, &err);
  if (!record) fprintf(stderr, "bad JSON (%s): %s", err.text, captured);
  CHECK(json_is_object(record));
  return record;
}

static void check_json_string(json_t *record, const char *key,
                              const char *want, size_t want_len) {
  json_t *value = json_object_get(record, key);
  CHECK(json_is_string(value));
  if (!json_is_string(value)) return;
  CHECK_EQ_INT(json_string_length(value), want_len);
  CHECK(memcmp(json_string_value(value), want, want_len) == 0);
}

static void test_defaults(void) {
  tarmac_log_config_t config = tarmac_log_config();
  CHECK_EQ_INT(config.fd, 1);
  CHECK_EQ_INT(config.min_level, TARMAC_LOG_INFO);
  CHECK(!config.text);
  CHECK(tarmac_log_enabled(TARMAC_LOG_INFO));
  CHECK(!tarmac_log_enabled(TARMAC_LOG_DEBUG));
}

static void test_json_shape(void) {
  capture_start(TARMAC_LOG_INFO, false);
  tarmac_log_fields(TARMAC_LOG_INFO, TARMAC_LOG_LITERAL("started"), "addr",
                    "0.0.0.0:8443", "mode", "daemon", (const char *)NULL);
  capture_read();
  /* {"time":"<24 chars>","level":... */
  static const char head[] = "{\"time\":\"";
  static const char tail[] =
      "\",\"level\":\"info\",\"msg\":\"started\",\"addr\":\"0.0.0.0:8443\","
      "\"mode\":\"daemon\"}\n";
  CHECK_EQ_INT(captured_len, strlen(head) + 24 + strlen(tail));
  CHECK(strncmp(captured, head, strlen(head)) == 0);
  CHECK(is_timestamp(captured + strlen(head)));
  CHECK(strcmp(captured + strlen(head) + 24, tail) == 0);

  json_t *record = captured_json();
  check_json_string(record, "level", "info", 4);
  check_json_string(record, "msg", "started", 7);
  check_json_string(record, "addr", "0.0.0.0:8443", 12);
  json_decref(record);

  capture_start(TARMAC_LOG_INFO, false);
  tarmac_log_fields(TARMAC_LOG_ERROR, TARMAC_LOG_LITERAL("x"), "none",
                    (const char *)NULL, (const char *)NULL);
  record = captured_json();
  check_json_string(record, "level", "error", 5);
  CHECK(json_is_null(json_object_get(record, "none")));
  json_decref(record);
}

static void test_json_escaping(void) {
  /* quote, backslash, newline, tab, NUL, 0x01, DEL, valid 2/3/4-byte
   * UTF-8, then invalid: lone 0xff, stray continuation, overlong '/',
   * UTF-16 surrogate, beyond U+10FFFF, and a 3-byte sequence cut short. */
  static const char msg[] =
      "q\"b\\n\nt\tz\0c\x01" "d\x7f|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|"
      "\xff|\x80|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82";
  static const char want[] =
      "q\"b\\n\nt\tz\0c\x01" "d\x7f|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|"
      "\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
      "\xef\xbf\xbd\xef\xbf\xbd";
  capture_start(TARMAC_LOG_INFO, false);
  tarmac_log_fields(TARMAC_LOG_WARN, msg, sizeof msg - 1, "k\"\n", "v\x02\xfe",
                    (const char *)NULL);
  json_t *record = captured_json();
  check_json_string(record, "msg", want, sizeof want - 1);
  check_json_string(record, "k\"\n", "v\x02\xef\xbf\xbd", 5);
  check_json_string(record, "level", "warn", 4);
  json_decref(record);
  /* the escapes themselves, as written */
  CHECK(strstr(captured, "\"msg\":\"q\\\"b\\\\n\\nt\\tz\\u0000c\\u0001d"
                         "\\u007f|") != NULL);
  CHECK(strstr(captured, "|\\ufffd|") != NULL);
}

static void test_text_format(void) {
  capture_start(TARMAC_LOG_TRACE, true);
  tarmac_log_fields(TARMAC_LOG_INFO, TARMAC_LOG_LITERAL("hello world"), "key",
                    "value", "key2", "value with spaces", "empty", "", "q",
                    "say \"hi\"", (const char *)NULL);
  capture_read();
  static const char tail[] =
      " INFO hello world key=value key2=\"value with spaces\" empty=\"\" "
      "q=\"say \\\"hi\\\"\"\n";
  CHECK_EQ_INT(captured_len, 24 + strlen(tail));
  CHECK(is_timestamp(captured));
  CHECK_BYTES(captured + 24, captured_len - 24, tail);

  capture_start(TARMAC_LOG_TRACE, true);
  static const char msg[] = "a\nb\\c\"d\x01\xff\xc3\xa9";
  tarmac_log_fields(TARMAC_LOG_TRACE, msg, sizeof msg - 1, "eq", "a=b",
                    (const char *)NULL);
  capture_read();
  CHECK_EQ_INT(count_lines(captured, captured_len), 1);
  CHECK_BYTES(captured + 24, captured_len - 24,
              " TRACE a\\nb\\\\c\"d\\x01\\xff\xc3\xa9 eq=\"a=b\"\n");
}

static void test_level_filtering(void) {
  capture_start(TARMAC_LOG_WARN, false);
  CHECK(!tarmac_log_enabled(TARMAC_LOG_INFO));
  CHECK(tarmac_log_enabled(TARMAC_LOG_WARN));
  tarmac_log_fields(TARMAC_LOG_DEBUG, TARMAC_LOG_LITERAL("no"),
                    (const char *)NULL);
  tarmac_log_fields(TARMAC_LOG_INFO, TARMAC_LOG_LITERAL("no"),
                    (const char *)NULL);
  tarmac_logf(TARMAC_LOG_INFO, "no %d", 1);
  tarmac_log_fields(TARMAC_LOG_WARN, TARMAC_LOG_LITERAL("yes"),
                    (const char *)NULL);
  tarmac_logf(TARMAC_LOG_ERROR, "yes %d", 2);
  tarmac_log_fields(TARMAC_LOG_OFF, TARMAC_LOG_LITERAL("never"),
                    (const char *)NULL);
  capture_read();
  CHECK_EQ_INT(count_lines(captured, captured_len), 2);
  CHECK(strstr(captured, "\"level\":\"warn\",\"msg\":\"yes\"}\n") != NULL);
  CHECK(strstr(captured, "\"level\":\"error\",\"msg\":\"yes 2\"}\n") != NULL);
  CHECK(strstr(captured, "no") == NULL);

  capture_start(TARMAC_LOG_OFF, false);
  CHECK(!tarmac_log_enabled(TARMAC_LOG_ERROR));
  tarmac_log_fields(TARMAC_LOG_ERROR, TARMAC_LOG_LITERAL("no"),
                    (const char *)NULL);
  tarmac_logf(TARMAC_LOG_ERROR, "no");
  tarmac_log_fields(TARMAC_LOG_OFF, TARMAC_LOG_LITERAL("no"),
                    (const char *)NULL);
  capture_read();
  CHECK_EQ_INT(captured_len, 0);

  capture_start(TARMAC_LOG_TRACE, false);
  tarmac_log_fields((tarmac_log_level_t)99, TARMAC_LOG_LITERAL("no"),
                    (const char *)NULL);
  tarmac_log_fields((tarmac_log_level_t)-1, TARMAC_LOG_LITERAL("no"),
                    (const char *)NULL);
  tarmac_log_fields(TARMAC_LOG_TRACE, TARMAC_LOG_LITERAL("yes"),
                    (const char *)NULL);
  json_t *record = captured_json();
  check_json_string(record, "level", "trace", 5);
  json_decref(record);
}

static void test_level_parse(void) {
  CHECK_EQ_INT(tarmac_log_level_parse("trace", 5), TARMAC_LOG_TRACE);
  CHECK_EQ_INT(tarmac_log_level_parse("Debug", 5), TARMAC_LOG_DEBUG);
  CHECK_EQ_INT(tarmac_log_level_parse("INFO", 4), TARMAC_LOG_INFO);
  CHECK_EQ_INT(tarmac_log_level_parse("warn", 4), TARMAC_LOG_WARN);
  CHECK_EQ_INT(tarmac_log_level_parse("WaRnInG", 7), TARMAC_LOG_WARN);
  CHECK_EQ_INT(tarmac_log_level_parse("error", 5), TARMAC_LOG_ERROR);
  /* length-delimited: only the first len bytes count */
  CHECK_EQ_INT(tarmac_log_level_parse("infox", 4), TARMAC_LOG_INFO);
  CHECK_EQ_INT(tarmac_log_level_parse("info", 3), -1);
  CHECK_EQ_INT(tarmac_log_level_parse("info\0", 5), -1);
  CHECK_EQ_INT(tarmac_log_level_parse("in\0o", 4), -1);
  CHECK_EQ_INT(tarmac_log_level_parse("", 0), -1);
  CHECK_EQ_INT(tarmac_log_level_parse(NULL, 0), -1);
  CHECK_EQ_INT(tarmac_log_level_parse("off", 3), -1);
  CHECK_EQ_INT(tarmac_log_level_parse("fatal", 5), -1);
  CHECK(strcmp(tarmac_log_level_name(TARMAC_LOG_WARN), "warn") == 0);
  CHECK(strcmp(tarmac_log_level_name(TARMAC_LOG_OFF), "off") == 0);
  CHECK(strcmp(tarmac_log_level_name((tarmac_log_level_t)42), "unknown") == 0);
}

static void test_long_lines(void) {
  enum { LONG = 100000 };
  char *msg = malloc(LONG);
  CHECK(msg != NULL);
  if (!msg) return;
  for (size_t i = 0; i < LONG; i++) msg[i] = (char)('a' + i % 26);
  msg[LONG / 2] = '\n';
  capture_start(TARMAC_LOG_INFO, false);
  tarmac_log_fields(TARMAC_LOG_INFO, msg, LONG, "k", "v", (const char *)NULL);
  json_t *record = captured_json();
  check_json_string(record, "msg", msg, LONG);
  check_json_string(record, "k", "v", 1);
  json_decref(record);

  /* printf-style, past the stack buffer */
  msg[LONG - 1] = '\0';
  capture_start(TARMAC_LOG_INFO, false);
  tarmac_logf(TARMAC_LOG_INFO, "%s|%d", msg, 42);
  record = captured_json();
  json_t *got = json_object_get(record, "msg");
  CHECK_EQ_INT(json_string_length(got), LONG - 1 + 3);
  CHECK(strncmp(json_string_value(got), msg, LONG - 1) == 0);
  CHECK(strcmp(json_string_value(got) + LONG - 1, "|42") == 0);
  json_decref(record);
  free(msg);
}

static void test_logf_keeps_errno(void) {
  capture_start(TARMAC_LOG_INFO, true);
  errno = ENOENT;
  tarmac_logf(TARMAC_LOG_INFO, "open: %m");
  CHECK_EQ_INT(errno, ENOENT);
  capture_read();
  CHECK(strstr(captured, " INFO open: No such file or directory\n") != NULL);
}

enum { THREADS = 4, LINES_PER_THREAD = 200 };

static void *log_from_thread(void *arg) {
  char msg[300];
  memset(msg, 'a' + (int)(size_t)arg, sizeof msg);
  for (int i = 0; i < LINES_PER_THREAD; i++)
    tarmac_log_fields(TARMAC_LOG_INFO, msg, sizeof msg, "i", "x",
                      (const char *)NULL);
  return NULL;
}

static void test_threads_do_not_interleave(void) {
  capture_start(TARMAC_LOG_INFO, false);
  pthread_t threads[THREADS];
  for (size_t t = 0; t < THREADS; t++)
    CHECK_EQ_INT(pthread_create(&threads[t], NULL, log_from_thread, (void *)t),
                 0);
  for (size_t t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
  capture_read();
  CHECK_EQ_INT(count_lines(captured, captured_len),
               THREADS * LINES_PER_THREAD);
  size_t good = 0;
  for (char *line = captured, *end; (end = strchr(line, '\n')); line = end + 1) {
    json_t *record = json_loadb(line, (size_t)(end - line), 0, NULL);
    good += json_string_length(json_object_get(record, "msg")) == 300;
    json_decref(record);
  }
  CHECK_EQ_INT(good, THREADS * LINES_PER_THREAD);
}

int main(void) {
  test_defaults();
  capture_file = tmpfile();
  CHECK(capture_file != NULL);
  if (!capture_file) TEST_EXIT();
  test_json_shape();
  test_json_escaping();
  test_text_format();
  test_level_filtering();
  test_level_parse();
  test_long_lines();
  test_logf_keeps_errno();
  test_threads_do_not_interleave();
  tarmac_log_configure(NULL);
  CHECK_EQ_INT(tarmac_log_config().fd, 1);
  fclose(capture_file);
  free(captured);
  TEST_EXIT();
}
