/* sql_guest: a C guest (sdk/c) for the SQL e2e tests (e2e_sql.py):
 *   query  payload <sql>: tarmac_sql_query (protobuf, the current SDK's
 *          form); answers the rows JSON, or fails with the host's text
 *   exec   payload <sql>: tarmac_sql_exec; answers "id=<n> rows=<n>"
 *   raw    payload "<op> <bytes>": sends <bytes> as is to tarmac/sql/<op>
 *          (the exact JSON of older SDKs); answers "ok:<reply>" or
 *          "error:<text>"
 *   handler (the v0.4 HTTP contract) body "<query|exec|raw> <rest>": the
 *          same, for `tarmac serve` */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static int query(const uint8_t *payload, size_t len) {
  uint8_t *rows = NULL;
  size_t rows_len = 0;
  int rc = tarmac_sql_query((const char *)payload, len, &rows, &rows_len);
  if (rc != TARMAC_OK) {
    tarmac_fail("%s", rows ? (const char *)rows : "no memory");
  } else {
    tarmac_respond(rows, rows_len);
  }
  free(rows);
  return rc;
}

static int exec(const uint8_t *payload, size_t len) {
  int64_t id = 0, rows = 0;
  char *error = NULL;
  if (tarmac_sql_exec((const char *)payload, len, &id, &rows, &error) !=
      TARMAC_OK) {
    tarmac_fail("%s", error ? error : "no memory");
    free(error);
    return TARMAC_ERROR;
  }
  char text[64];
  snprintf(text, sizeof text, "id=%" PRId64 " rows=%" PRId64, id, rows);
  return tarmac_respond_str(text);
}

static int raw(const uint8_t *payload, size_t len) {
  const char *space = memchr(payload, ' ', len);
  if (!space) return tarmac_fail("raw wants \"<op> <bytes>\"");
  char op[16];
  size_t op_len = (size_t)(space - (const char *)payload);
  if (op_len >= sizeof op) return tarmac_fail("op too long");
  memcpy(op, payload, op_len);
  op[op_len] = '\0';
  uint8_t *out = NULL;
  size_t out_len = 0;
  int rc = tarmac_host_call("tarmac", "sql", op, space + 1,
                            len - op_len - 1, &out, &out_len);
  char *text = malloc(out_len + 8);
  if (!text) return tarmac_fail("no memory");
  int n = snprintf(text, 8, "%s", rc == TARMAC_OK ? "ok:" : "error:");
  if (out_len) memcpy(text + n, out, out_len);
  tarmac_respond(text, (size_t)n + out_len);
  free(text);
  free(out);
  return TARMAC_OK;
}

static int handler(const uint8_t *payload, size_t len) {
  static const struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
  } ops[] = {{"query ", query}, {"exec ", exec}, {"raw ", raw}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    size_t n = strlen(ops[i].name);
    if (len >= n && memcmp(payload, ops[i].name, n) == 0)
      return ops[i].fn(payload + n, len - n);
  }
  return tarmac_fail("body must start with query, exec or raw");
}

TARMAC_INIT(setup) {
  tarmac_register("handler", handler);
  tarmac_register("query", query);
  tarmac_register("exec", exec);
  tarmac_register("raw", raw);
}
