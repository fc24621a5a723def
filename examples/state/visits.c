/* visits: the HTTP side of the state example (tarmac.json next to this
 * file). POST /visit with a name answers
 *   "Hello, NAME! Visit 3 (key-value store), 3 logged (SQL)."
 * It keeps a counter per name in the key-value store (key "visits:NAME":
 * get, +1, set) and appends a row per visit to the SQL table visit_log
 * (made by the `setup` init function), then counts that name's rows.
 * Names are 1 to 64 letters, digits, '-' or '_': the SQL callback takes
 * whole statements, so nothing else is ever put into one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

#define NAME_MAX_LEN 64

static int name_ok(const uint8_t *p, size_t len) {
  if (len == 0 || len > NAME_MAX_LEN) return 0;
  for (size_t i = 0; i < len; i++)
    if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
          (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '_'))
      return 0;
  return 1;
}

/* The key-value counter: +1, stored back. -1 with the guest failed. */
static long bump_counter(const char *name) {
  char key[sizeof "visits:" + NAME_MAX_LEN];
  snprintf(key, sizeof key, "visits:%s", name);
  uint8_t *value = NULL, *err = NULL;
  size_t value_len = 0;
  long count = 0; /* a missing key is a first visit */
  if (tarmac_kv_get(key, &value, &value_len) == TARMAC_OK) {
    count = strtol((const char *)value, NULL, 10);
  } else if (!value || !strstr((const char *)value, "not found")) {
    tarmac_fail("key-value store: %s", value ? (char *)value : "?");
    free(value);
    return -1;
  }
  free(value);
  char text[32];
  int n = snprintf(text, sizeof text, "%ld", ++count);
  if (tarmac_kv_set(key, text, (size_t)n, &err, NULL) != TARMAC_OK) {
    tarmac_fail("key-value store: %s", err ? (char *)err : "?");
    free(err);
    return -1;
  }
  return count;
}

/* Logs the visit in SQL; the name's row count, or -1 with the guest
 * failed. The rows come back as JSON: [{"n":3}]. */
static long log_visit(const char *name) {
  char sql[160 + NAME_MAX_LEN];
  char *error = NULL;
  int n = snprintf(sql, sizeof sql,
                   "INSERT INTO visit_log (name) VALUES ('%s')", name);
  if (tarmac_sql_exec(sql, (size_t)n, NULL, NULL, &error) != TARMAC_OK) {
    tarmac_fail("SQL insert: %s", error ? error : "?");
    free(error);
    return -1;
  }
  n = snprintf(sql, sizeof sql,
               "SELECT COUNT(*) AS n FROM visit_log WHERE name = '%s'", name);
  uint8_t *rows = NULL;
  size_t rows_len = 0;
  long count = -1;
  if (tarmac_sql_query(sql, (size_t)n, &rows, &rows_len) != TARMAC_OK) {
    tarmac_fail("SQL query: %s", rows ? (char *)rows : "?");
  } else {
    const char *at = rows ? strstr((const char *)rows, "\"n\":") : NULL;
    count = at ? strtol(at + 4, NULL, 10) : 0;
  }
  free(rows);
  return count;
}

static int visit(const uint8_t *payload, size_t len) {
  if (!name_ok(payload, len))
    return tarmac_fail("POST a name: 1 to %d letters, digits, '-' or '_'",
                       NAME_MAX_LEN);
  const char *name = (const char *)payload; /* NUL-terminated by the SDK */
  long kv = bump_counter(name);
  if (kv < 0) return TARMAC_ERROR;
  long logged = log_visit(name);
  if (logged < 0) return TARMAC_ERROR;
  char text[160 + NAME_MAX_LEN];
  snprintf(text, sizeof text,
           "Hello, %s! Visit %ld (key-value store), %ld logged (SQL).", name,
           kv, logged);
  return tarmac_respond_str(text);
}

TARMAC_INIT(register_operations) { tarmac_register("handler", visit); }
