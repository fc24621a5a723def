/* The C SDK's SQL protobuf (sdk/c/tarmac_proto.h: tarmac_proto_sql and
 * the reply reader tarmac_proto_field) against the host's protobuf-c
 * messages, and the SQL settings (server/config, server/host_callbacks). */
#include <stdlib.h>
#include <string.h>

#include "callbacks/encoding.h"
#include "server/config.h"
#include "server/host_callbacks.h"
#include "tarmac_proto.h"
#include "test.h"

static void test_request(size_t n) {
  char *sql = malloc(n + 1);
  memset(sql, 'q', n);
  size_t len = 0;
  uint8_t *packed = tarmac_proto_sql(sql, n, &len);
  CHECK(packed != NULL);
  Tarmac__SQLQuery *q = tarmac__sqlquery__unpack(NULL, len, packed);
  CHECK(q != NULL && q->query.len == n &&
        (n == 0 || memcmp(q->query.data, sql, n) == 0));
  if (q) tarmac__sqlquery__free_unpacked(q, NULL);
  free(packed);
  free(sql);
}

static void test_reply(void) {
  Tarmac__Status st = TARMAC__STATUS__INIT;
  st.code = 200;
  st.status = "OK";
  Tarmac__SQLExecResponse r = TARMAC__SQLEXEC_RESPONSE__INIT;
  r.status = &st;
  r.last_insert_id = 1ll << 40;
  r.rows_affected = 3;
  uint8_t buf[64];
  size_t len = tarmac__sqlexec_response__pack(&r, buf);
  const uint8_t *p = buf, *data;
  uint64_t value;
  unsigned number;
  int64_t id = 0, rows = 0;
  int fields = 0;
  while (p && p < buf + len) {
    p = tarmac_proto_field(p, buf + len, &number, &data, &value);
    fields++;
    if (p && !data && number == 2) id = (int64_t)value;
    if (p && !data && number == 3) rows = (int64_t)value;
  }
  CHECK(p == buf + len);
  CHECK_EQ_INT(fields, 3);
  CHECK(id == 1ll << 40 && rows == 3);
  p = buf; /* cut short: malformed, never read past the end */
  while (p && p < buf + len - 1)
    p = tarmac_proto_field(p, buf + len - 1, &number, &data, &value);
  CHECK(p == NULL);
}

static void test_settings(void) {
  tarmac_server_config_t c;
  char err[256];
  tarmac_server_config_defaults(&c);
  CHECK(!c.enable_sql && strcmp(c.sql_type, "sqlite") == 0 &&
        c.sql_pool_size == 10 && c.sql_query_timeout_ms == 30000 &&
        c.sql_max_result_bytes == 16u << 20);
  CHECK(tarmac_server_config_set(&c, "APP_SQL_QUERY_TIMEOUT", "250ms", err,
                                 sizeof err) == 0 &&
        c.sql_query_timeout_ms == 250);
  CHECK(tarmac_server_config_set(&c, "APP_SQL_POOL_SIZE", "0", err,
                                 sizeof err) != 0);
  CHECK(strstr(err, "APP_SQL_POOL_SIZE") != NULL);
  CHECK(tarmac_server_config_set(&c, "APP_SQL_MAX_RESULT_SIZE", "1MiB", err,
                                 sizeof err) == 0 &&
        c.sql_max_result_bytes == 1u << 20);
  c.enable_sql = true;
  strcpy(c.sql_type, "oracle");
  CHECK(tarmac_host_callbacks_new(&c, NULL, err, sizeof err) == NULL);
  CHECK(strstr(err, "APP_SQL_TYPE=oracle") != NULL);
  strcpy(c.sql_type, "mysql");
  strcpy(c.sql_dsn, "not a dsn");
  CHECK(tarmac_host_callbacks_new(&c, NULL, err, sizeof err) == NULL);
  CHECK(strstr(err, "APP_SQL_DSN") != NULL);
  strcpy(c.sql_type, "sqlite");
  strcpy(c.sql_dsn, "");
  tarmac_host_callbacks_t *host = tarmac_host_callbacks_new(&c, NULL, err,
                                                            sizeof err);
  CHECK(host != NULL);
  tarmac_host_callbacks_free(host);
}

int main(void) {
  test_request(0);
  test_request(5);
  test_request(300); /* a two-byte length */
  test_request(1u << 20);
  test_reply();
  test_settings();
  TEST_EXIT();
}
