/* log: builds each record in a stack buffer (moved to the heap only when a
 * line outgrows it) and writes it with one write(2). Escaping:
 *   JSON: '"' '\' and \b \f \n \r \t get their short escapes, other control
 *         bytes and DEL become \u00XX, and every byte that is not part of a
 *         valid UTF-8 sequence becomes \ufffd (U+FFFD), so the line is
 *         always valid JSON.
 *   text: the message keeps '"' as is; '\', \n \r \t get backslash escapes,
 *         other control bytes, DEL and invalid UTF-8 bytes become \xHH.
 *         Field values with a space, '"', '=', '\', a control byte or
 *         nothing at all are double-quoted (with '"' escaped as \"). */
#include "log/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Logging configuration is process-wide by design (see log.h). The level
 * lives apart from log_config: it is the one part that changes while other
 * threads log. */
atomic_int tarmac_log_min_level_ = TARMAC_LOG_INFO;
static tarmac_log_config_t log_config = {1, TARMAC_LOG_INFO, false};

static const char *const level_names[] = {"trace", "debug", "info",
                                          "warn",  "error", "off"};
static const char *const level_labels[] = {"TRACE", "DEBUG", "INFO",
                                           "WARN",  "ERROR", "OFF"};

void tarmac_log_configure(const tarmac_log_config_t *config) {
  static const tarmac_log_config_t defaults = {1, TARMAC_LOG_INFO, false};
  log_config = config ? *config : defaults;
  tarmac_log_set_level(log_config.min_level);
}

tarmac_log_config_t tarmac_log_config(void) {
  tarmac_log_config_t now = log_config;
  now.min_level = (tarmac_log_level_t)atomic_load_explicit(
      &tarmac_log_min_level_, memory_order_relaxed);
  return now;
}

void tarmac_log_set_level(tarmac_log_level_t min_level) {
  atomic_store_explicit(&tarmac_log_min_level_, (int)min_level,
                        memory_order_relaxed);
}

int tarmac_log_level_parse(const char *name, size_t len) {
  if (!name) return -1;
  for (int level = TARMAC_LOG_TRACE; level <= TARMAC_LOG_ERROR; level++) {
    if (len == strlen(level_names[level]) &&
        strncasecmp(name, level_names[level], len) == 0)
      return level;
  }
  if (len == 7 && strncasecmp(name, "warning", 7) == 0) return TARMAC_LOG_WARN;
  return -1;
}

static bool level_valid(tarmac_log_level_t level) {
  return (int)level >= TARMAC_LOG_TRACE && level <= TARMAC_LOG_OFF;
}

const char *tarmac_log_level_name(tarmac_log_level_t level) {
  return level_valid(level) ? level_names[level] : "unknown";
}

/* A record worth writing: a real level, not below the minimum. */
static bool record_wanted(tarmac_log_level_t level) {
  return level_valid(level) && level != TARMAC_LOG_OFF &&
         tarmac_log_enabled(level);
}

/* ---- line builder ---- */

enum { LINE_STACK_SIZE = 1024 };

typedef struct {
  char *data; /* stack, or heap once on_heap */
  size_t len;
  size_t cap;
  bool on_heap;
  bool failed; /* out of memory: the record is lost */
  char stack[LINE_STACK_SIZE];
} log_line_t;

static void line_init(log_line_t *line) {
  line->data = line->stack;
  line->len = 0;
  line->cap = sizeof line->stack;
  line->on_heap = false;
  line->failed = false;
}

static void line_release(log_line_t *line) {
  if (line->on_heap) free(line->data);
  line_init(line);
}

static bool line_room(log_line_t *line, size_t extra) {
  if (line->failed) return false;
  if (extra <= line->cap - line->len) return true;
  if (extra > SIZE_MAX / 4 - line->len) {
    line->failed = true;
    return false;
  }
  size_t cap = line->cap * 2;
  while (cap < line->len + extra) cap *= 2;
  char *data = line->on_heap ? realloc(line->data, cap) : malloc(cap);
  if (!data) {
    line->failed = true;
    return false;
  }
  if (!line->on_heap) memcpy(data, line->stack, line->len);
  line->data = data;
  line->cap = cap;
  line->on_heap = true;
  return true;
}

static void line_put(log_line_t *line, const void *bytes, size_t len) {
  if (len == 0 || !line_room(line, len)) return;
  memcpy(line->data + line->len, bytes, len);
  line->len += len;
}

static void line_puts(log_line_t *line, const char *s) {
  line_put(line, s, strlen(s));
}

static void line_putc(log_line_t *line, char c) { line_put(line, &c, 1); }

static void line_put_hex_byte(log_line_t *line, const char *prefix,
                              uint8_t byte) {
  static const char hex[] = "0123456789abcdef";
  line_puts(line, prefix);
  line_putc(line, hex[byte >> 4]);
  line_putc(line, hex[byte & 15]);
}

/* ---- escaping ---- */

/* Length of the valid UTF-8 sequence starting at s (a byte >= 0x80), or 0
 * when it is not one (stray continuation, overlong form, surrogate, beyond
 * U+10FFFF, or cut short). */
static size_t utf8_sequence_length(const uint8_t *s, size_t avail) {
  uint8_t lead = s[0];
  size_t len;
  uint8_t second_min = 0x80, second_max = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    len = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    len = 3;
    if (lead == 0xe0) second_min = 0xa0;
    if (lead == 0xed) second_max = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    len = 4;
    if (lead == 0xf0) second_min = 0x90;
    if (lead == 0xf4) second_max = 0x8f;
  } else {
    return 0;
  }
  if (avail < len || s[1] < second_min || s[1] > second_max) return 0;
  for (size_t i = 2; i < len; i++) {
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  }
  return len;
}

/* Writes the escape for one byte that cannot be copied as is. */
typedef void (*escape_fn)(log_line_t *line, uint8_t byte, bool invalid_utf8);

/* The backslash escapes both formats share; false for other bytes. */
static bool put_short_escape(log_line_t *line, uint8_t byte) {
  static const char from[] = "\"\\\n\r\t", to[] = "\"\\nrt";
  const char *at = byte ? memchr(from, byte, sizeof from - 1) : NULL;
  if (!at) return false;
  line_putc(line, '\\');
  line_putc(line, to[at - from]);
  return true;
}

static void escape_json(log_line_t *line, uint8_t byte, bool invalid_utf8) {
  if (invalid_utf8)
    line_puts(line, "\\ufffd");
  else if (byte == '\b')
    line_puts(line, "\\b");
  else if (byte == '\f')
    line_puts(line, "\\f");
  else if (!put_short_escape(line, byte))
    line_put_hex_byte(line, "\\u00", byte);
}

static void escape_text(log_line_t *line, uint8_t byte, bool invalid_utf8) {
  if (invalid_utf8 || !put_short_escape(line, byte))
    line_put_hex_byte(line, "\\x", byte);
}

static bool ascii_needs_escape(uint8_t byte, bool escape_quote) {
  return byte < 0x20 || byte == 0x7f || byte == '\\' ||
         (escape_quote && byte == '"');
}

/* Copies s, escaping with `escape` what needs it; runs of plain bytes
 * (including valid UTF-8) are copied in one go. */
static void put_escaped(log_line_t *line, const char *text, size_t len,
                        bool escape_quote, escape_fn escape) {
  const uint8_t *s = (const uint8_t *)text;
  size_t run_start = 0, i = 0;
  while (i < len) {
    size_t plain = 0;
    if (s[i] < 0x80)
      plain = ascii_needs_escape(s[i], escape_quote) ? 0 : 1;
    else
      plain = utf8_sequence_length(s + i, len - i);
    if (plain) {
      i += plain;
      continue;
    }
    line_put(line, s + run_start, i - run_start);
    escape(line, s[i], s[i] >= 0x80);
    run_start = ++i;
  }
  line_put(line, s + run_start, i - run_start);
}

static void put_json_string(log_line_t *line, const char *s, size_t len) {
  line_putc(line, '"');
  put_escaped(line, s, len, true, escape_json);
  line_putc(line, '"');
}

static bool text_needs_quotes(const char *s, size_t len) {
  if (len == 0) return true;
  for (size_t i = 0; i < len; i++) {
    uint8_t byte = (uint8_t)s[i];
    if (byte == ' ' || byte == '=' || ascii_needs_escape(byte, true))
      return true;
  }
  return false;
}

static void put_text_value(log_line_t *line, const char *s, size_t len) {
  if (!text_needs_quotes(s, len)) {
    put_escaped(line, s, len, false, escape_text);
    return;
  }
  line_putc(line, '"');
  put_escaped(line, s, len, true, escape_text);
  line_putc(line, '"');
}

/* ---- records ---- */

static void put_time(log_line_t *line) {
  struct timespec now = {0, 0};
  struct tm tm;
  if (clock_gettime(CLOCK_REALTIME, &now) != 0 ||
      !gmtime_r(&now.tv_sec, &tm)) {
    line_puts(line, "0000-00-00T00:00:00.000Z");
    return;
  }
  char text[64];
  size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  int ms = (int)(now.tv_nsec / 1000000);
  n += (size_t)snprintf(text + n, sizeof text - n, ".%03dZ", ms);
  line_put(line, text, n);
}

static void put_field(log_line_t *line, bool text, const char *key,
                      const char *value) {
  if (text) {
    line_putc(line, ' ');
    put_escaped(line, key, strlen(key), false, escape_text);
    line_putc(line, '=');
    if (value) put_text_value(line, value, strlen(value));
    else line_puts(line, "null");
    return;
  }
  line_putc(line, ',');
  put_json_string(line, key, strlen(key));
  line_putc(line, ':');
  if (value) put_json_string(line, value, strlen(value));
  else line_puts(line, "null");
}

static void build_record(log_line_t *line, tarmac_log_level_t level,
                         const char *msg, size_t msg_len, va_list *fields) {
  bool text = log_config.text;
  if (text) {
    put_time(line);
    line_putc(line, ' ');
    line_puts(line, level_labels[level]);
    line_putc(line, ' ');
    put_escaped(line, msg, msg_len, false, escape_text);
  } else {
    line_puts(line, "{\"time\":\"");
    put_time(line);
    line_puts(line, "\",\"level\":\"");
    line_puts(line, level_names[level]);
    line_puts(line, "\",\"msg\":");
    put_json_string(line, msg, msg_len);
  }
  const char *key;
  while (fields && (key = va_arg(*fields, const char *)) != NULL) {
    const char *value = va_arg(*fields, const char *);
    put_field(line, text, key, value);
  }
  if (!text) line_putc(line, '}');
  line_putc(line, '\n');
}

static void write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* nowhere left to report a logging failure */
    data += n;
    len -= (size_t)n;
  }
}

static void log_record(tarmac_log_level_t level, const char *msg,
                       size_t msg_len, va_list *fields) {
  log_line_t line;
  line_init(&line);
  build_record(&line, level, msg, msg_len, fields);
  if (line.failed) {
    static const char dropped[] = "log record dropped: out of memory";
    line_release(&line);
    build_record(&line, TARMAC_LOG_ERROR, dropped, sizeof dropped - 1, NULL);
  }
  write_all(log_config.fd, line.data, line.len);
  line_release(&line);
}

void tarmac_log_fields(tarmac_log_level_t level, const char *msg,
                       size_t msg_len, ...) {
  if (!record_wanted(level)) return;
  int saved_errno = errno;
  va_list fields;
  va_start(fields, msg_len);
  log_record(level, msg ? msg : "", msg ? msg_len : 0, &fields);
  va_end(fields);
  errno = saved_errno;
}

void tarmac_logf(tarmac_log_level_t level, const char *fmt, ...) {
  if (!record_wanted(level)) return;
  int saved_errno = errno;
  char stack[512];
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(stack, sizeof stack, fmt, args);
  va_end(args);
  if (n < 0) {
    log_record(level, fmt, strlen(fmt), NULL);
  } else if ((size_t)n < sizeof stack) {
    log_record(level, stack, (size_t)n, NULL);
  } else {
    char *heap = malloc((size_t)n + 1);
    errno = saved_errno; /* for %m in the second pass */
    if (heap) {
      va_start(args, fmt);
      vsnprintf(heap, (size_t)n + 1, fmt, args);
      va_end(args);
    }
    /* Out of memory: the message cut to what fit on the stack. */
    log_record(level, heap ? heap : stack, heap ? (size_t)n : sizeof stack - 1,
               NULL);
    free(heap);
  }
  errno = saved_errno;
}
