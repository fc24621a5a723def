/* sql/result: the JSON array of row objects a query answers with, written
 * straight into one buffer and checked against the size bound after every
 * value, so a huge result stops at the bound instead of filling memory. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql_internal.h"
#include "util/base64.h"
#include "util/utf8.h"

static int check(tarmac_sql_rows_t *rows, int rc) {
  if (rc != 0)
    return tarmac_sql_status_set(rows->status, 500, "out of memory");
  if (rows->result->data.len > rows->max_bytes)
    return tarmac_sql_status_set(
        rows->status, 413, "query result is larger than %zu bytes",
        rows->max_bytes);
  return 0;
}

int tarmac_sql_rows_begin(tarmac_sql_rows_t *rows, tarmac_sql_result_t *result,
                          size_t column_count, size_t max_bytes,
                          tarmac_sql_status_t *status) {
  *rows = (tarmac_sql_rows_t){.result = result, .max_bytes = max_bytes,
                              .status = status};
  result->columns = calloc(column_count ? column_count : 1, sizeof(char *));
  if (!result->columns)
    return tarmac_sql_status_set(status, 500, "out of memory");
  result->column_count = column_count;
  return check(rows, tarmac_buffer_append(&result->data, "[", 1));
}

/* A copy of name with invalid UTF-8 replaced by U+FFFD: the reply's
 * columns are protobuf strings, which must be UTF-8. */
static char *utf8_copy(const char *name) {
  const unsigned char *s = (const unsigned char *)name;
  size_t len = strlen(name);
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  for (size_t i = 0; i < len;) {
    size_t n = tarmac_utf8_sequence(s + i, len - i);
    int rc = n ? tarmac_buffer_append(&out, s + i, n)
               : tarmac_buffer_append(&out, "\xef\xbf\xbd", 3);
    if (rc != 0) return tarmac_buffer_free(&out), NULL;
    i += n ? n : 1;
  }
  if (tarmac_buffer_append(&out, "", 1) != 0)
    return tarmac_buffer_free(&out), NULL;
  return (char *)out.data;
}

int tarmac_sql_rows_column(tarmac_sql_rows_t *rows, size_t i,
                           const char *name) {
  rows->result->columns[i] = utf8_copy(name ? name : "");
  return check(rows, rows->result->columns[i] ? 0 : -1);
}

int tarmac_sql_rows_row_begin(tarmac_sql_rows_t *rows) {
  rows->column = 0;
  return check(rows, tarmac_buffer_append(&rows->result->data,
                                          rows->rows ? ",{" : "{",
                                          rows->rows ? 2 : 1));
}

int tarmac_sql_rows_row_end(tarmac_sql_rows_t *rows) {
  rows->rows++;
  return check(rows, tarmac_buffer_append(&rows->result->data, "}", 1));
}

int tarmac_sql_rows_end(tarmac_sql_rows_t *rows) {
  return check(rows, tarmac_buffer_append(&rows->result->data, "]", 1));
}

/* A JSON string of text, invalid UTF-8 replaced by U+FFFD. */
static int append_string(tarmac_buffer_t *out, const char *text, size_t len) {
  const unsigned char *s = (const unsigned char *)text;
  if (tarmac_buffer_reserve(out, len + 2) != 0 ||
      tarmac_buffer_append(out, "\"", 1) != 0)
    return -1;
  for (size_t i = 0; i < len;) {
    size_t n = tarmac_utf8_sequence(s + i, len - i);
    int rc;
    if (n == 0) {
      rc = tarmac_buffer_append(out, "\xef\xbf\xbd", 3);
      n = 1;
    } else if (s[i] == '"' || s[i] == '\\') {
      rc = tarmac_buffer_appendf(out, "\\%c", s[i]);
    } else if (s[i] < 0x20) {
      rc = tarmac_buffer_appendf(out, "\\u%04x", s[i]);
    } else {
      rc = tarmac_buffer_append(out, s + i, n);
    }
    if (rc != 0) return -1;
    i += n;
  }
  return tarmac_buffer_append(out, "\"", 1);
}

/* Writes `"name":` for the next value. */
static int key(tarmac_sql_rows_t *rows) {
  tarmac_sql_result_t *r = rows->result;
  if (rows->column >= r->column_count)
    return tarmac_sql_status_set(rows->status, 500, "row has extra values");
  const char *name = r->columns[rows->column];
  int rc = rows->column ? tarmac_buffer_append(&r->data, ",", 1) : 0;
  if (rc == 0) rc = append_string(&r->data, name, strlen(name));
  if (rc == 0) rc = tarmac_buffer_append(&r->data, ":", 1);
  rows->column++;
  return check(rows, rc);
}

static int raw(tarmac_sql_rows_t *rows, const char *text, size_t len) {
  int rc = key(rows);
  return rc ? rc : check(rows, tarmac_buffer_append(&rows->result->data,
                                                    text, len));
}

int tarmac_sql_value_null(tarmac_sql_rows_t *rows) {
  return raw(rows, "null", 4);
}

int tarmac_sql_value_bool(tarmac_sql_rows_t *rows, bool value) {
  return value ? raw(rows, "true", 4) : raw(rows, "false", 5);
}

int tarmac_sql_value_int(tarmac_sql_rows_t *rows, int64_t value) {
  char text[32];
  int n = snprintf(text, sizeof text, "%lld", (long long)value);
  return raw(rows, text, (size_t)n);
}

int tarmac_sql_value_double(tarmac_sql_rows_t *rows, double value) {
  char text[40];
  if (isnan(value)) return tarmac_sql_value_text(rows, "NaN", 3);
  if (isinf(value))
    return value > 0 ? tarmac_sql_value_text(rows, "Infinity", 8)
                     : tarmac_sql_value_text(rows, "-Infinity", 9);
  int n = snprintf(text, sizeof text, "%.17g", value);
  return raw(rows, text, (size_t)n);
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s, size_t len) {
  size_t i = 0;
#define DIGITS(min)                                    \
  do {                                                 \
    size_t from = i;                                   \
    while (i < len && s[i] >= '0' && s[i] <= '9') i++; \
    if (i - from < (min)) return false;                \
  } while (0)
  if (i < len && s[i] == '-') i++;
  if (i < len && s[i] == '0') i++;
  else DIGITS(1);
  if (i < len && s[i] == '.') { i++; DIGITS(1); }
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    DIGITS(1);
  }
#undef DIGITS
  return i == len;
}

int tarmac_sql_value_number_text(tarmac_sql_rows_t *rows, const char *text,
                                 size_t len) {
  if (json_number(text, len)) return raw(rows, text, len);
  return tarmac_sql_value_text(rows, text, len);
}

int tarmac_sql_value_text(tarmac_sql_rows_t *rows, const char *text,
                          size_t len) {
  int rc = key(rows);
  return rc ? rc : check(rows, append_string(&rows->result->data, text, len));
}

int tarmac_sql_value_bytes(tarmac_sql_rows_t *rows, const uint8_t *data,
                           size_t len) {
  tarmac_buffer_t *out = &rows->result->data;
  if (len / 3 * 4 > rows->max_bytes) /* before encoding a huge blob */
    return tarmac_sql_status_set(rows->status, 413,
                                 "query result is larger than %zu bytes",
                                 rows->max_bytes);
  int rc = key(rows);
  if (rc) return rc;
  rc = tarmac_buffer_append(out, "\"", 1);
  if (rc == 0) rc = tarmac_base64_encode(data, len, out);
  if (rc == 0) rc = tarmac_buffer_append(out, "\"", 1);
  return check(rows, rc);
}

int tarmac_sql_value_time(tarmac_sql_rows_t *rows, const char *text,
                          size_t len) {
  int rc = key(rows);
  if (rc) return rc;
  size_t start = rows->result->data.len;
  rc = check(rows, append_string(&rows->result->data, text, len));
  /* "YYYY-MM-DD hh..." -> "YYYY-MM-DDThh..."; the quote is at start */
  uint8_t *s = rows->result->data.data + start;
  if (rc == 0 && len > 11 && text[4] == '-' && text[10] == ' ') s[11] = 'T';
  return rc;
}

int tarmac_sql_value_json(tarmac_sql_rows_t *rows, const char *text,
                          size_t len) {
  json_t *doc = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (!doc) return tarmac_sql_value_text(rows, text, len);
  json_decref(doc);
  return raw(rows, text, len);
}
