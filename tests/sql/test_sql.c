/* Unit tests of the SQL callbacks (callbacks/sql.c) and the sqlite
 * backend (sql/): both encodings with exact bytes, the sqlite type
 * mapping, statuses (400, 413, 500), 1 MiB values, 8 threads x 1000 mixed
 * operations on one file database, unreachable PostgreSQL and MariaDB
 * servers (500, then the same pool answers again), and DSN checks. The
 * real PostgreSQL and MariaDB servers are tested by tests/sql/e2e_sql.py. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callbacks/encoding.h"
#include "callbacks/sql.h"
#include "sql/sql.h"
#include "test.h"
#include "util/base64.h"

typedef struct {
  tarmac_buffer_t response, error;
} reply_t;

static int call(const tarmac_callbacks_t *r, const char *op,
                const void *payload, size_t len, reply_t *out) {
  tarmac_host_call_t c = {.binding = "tarmac", .binding_len = 6,
                          .namespace_ = "sql", .namespace_len = 3,
                          .operation = op, .operation_len = strlen(op),
                          .payload = payload, .payload_len = len};
  tarmac_buffer_clear(&out->response);
  tarmac_buffer_clear(&out->error);
  return tarmac_callbacks_dispatch(r, &c, &out->response, &out->error);
}

/* The JSON form: {"query":"<base64 of sql>"}. */
static int call_json(const tarmac_callbacks_t *r, const char *op,
                     const char *sql, reply_t *out) {
  tarmac_buffer_t payload = TARMAC_BUFFER_INIT;
  tarmac_buffer_append_str(&payload, "{\"query\":\"");
  tarmac_base64_encode((const uint8_t *)sql, strlen(sql), &payload);
  tarmac_buffer_append_str(&payload, "\"}");
  int rc = call(r, op, payload.data, payload.len, out);
  tarmac_buffer_free(&payload);
  return rc;
}

/* The rows of a JSON query reply, decoded from base64 into rows. */
static void json_rows(const reply_t *reply, tarmac_buffer_t *rows) {
  tarmac_buffer_clear(rows);
  const char *data = memmem(reply->response.data, reply->response.len,
                            "\"data\":\"", 8);
  CHECK(data != NULL);
  if (!data) return;
  data += 8;
  const char *end = strchr(data, '"');
  CHECK(tarmac_base64_decode(data, (size_t)(end - data), rows) == 0);
}

static void check_error(const reply_t *reply, const char *want) {
  bool found = memmem(reply->error.data, reply->error.len, want,
                      strlen(want)) != NULL;
  if (!found)
    fprintf(stderr, "error %.*s lacks %s\n", (int)reply->error.len,
            (const char *)reply->error.data, want);
  CHECK(found);
}

static tarmac_sql_t *open_sql(tarmac_sql_type_t type, const char *dsn,
                              unsigned pool, size_t max) {
  char err[256] = "";
  tarmac_sql_config_t c = {.type = type, .dsn = dsn, .pool_size = pool,
                           .connect_timeout_ms = 2000,
                           .query_timeout_ms = 10000,
                           .max_result_bytes = max};
  tarmac_sql_t *sql = tarmac_sql_open(&c, err, sizeof err);
  if (!sql) fprintf(stderr, "open: %s\n", err);
  return sql;
}

static void test_json_form(tarmac_callbacks_t *r, reply_t *reply) {
  tarmac_buffer_t rows = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(call_json(r, "exec", "CREATE TABLE t (id INTEGER PRIMARY KEY, "
                         "name TEXT)", reply), 0);
  CHECK_EQ_INT(call_json(r, "exec", "INSERT INTO t (name) VALUES ('a'), "
                         "('b')", reply), 0);
  CHECK_BYTES(reply->response.data, reply->response.len,
              "{\"status\":{\"code\":200,\"status\":\"OK\"},"
              "\"last_insert_id\":2,\"rows_affected\":2}");
  CHECK_EQ_INT(call_json(r, "query", "SELECT id, name FROM t ORDER BY id",
                         reply), 0);
  json_rows(reply, &rows);
  CHECK_BYTES(rows.data, rows.len,
              "[{\"id\":1,\"name\":\"a\"},{\"id\":2,\"name\":\"b\"}]");
  const char *columns = "\"columns\":[\"id\",\"name\"]";
  CHECK(memmem(reply->response.data, reply->response.len, columns,
               strlen(columns)) != NULL);
  /* exactly what older SDKs send: the JSON key "query" and base64 */
  const char *exact = "{\"query\":\"U0VMRUNUIDEgQVMgb25l\"}"; /* SELECT 1 AS one */
  CHECK_EQ_INT(call(r, "query", exact, strlen(exact), reply), 0);
  CHECK_BYTES(reply->response.data, reply->response.len,
              "{\"status\":{\"code\":200,\"status\":\"OK\"},"
              "\"columns\":[\"one\"],\"data\":\"W3sib25lIjoxfV0=\"}");
  tarmac_buffer_free(&rows);
}

static void test_protobuf_form(tarmac_callbacks_t *r, reply_t *reply) {
  /* SQLQuery{query: "SELECT name FROM t WHERE id = 2"}, as the Go SDK packs it */
  const char *sql = "SELECT name FROM t WHERE id = 2";
  uint8_t packed[64] = {0x0a, (uint8_t)strlen(sql)};
  memcpy(packed + 2, sql, strlen(sql));
  CHECK_EQ_INT(call(r, "query", packed, 2 + strlen(sql), reply), 0);
  Tarmac__SQLQueryResponse *q = tarmac__sqlquery_response__unpack(
      NULL, reply->response.len, reply->response.data);
  CHECK(q && q->status && q->status->code == 200 && q->n_columns == 1 &&
        strcmp(q->columns[0], "name") == 0);
  if (q) CHECK_BYTES(q->data.data, q->data.len, "[{\"name\":\"b\"}]");
  if (q) tarmac__sqlquery_response__free_unpacked(q, NULL);
  sql = "DELETE FROM t WHERE id = 1";
  packed[1] = (uint8_t)strlen(sql);
  memcpy(packed + 2, sql, strlen(sql));
  CHECK_EQ_INT(call(r, "exec", packed, 2 + strlen(sql), reply), 0);
  Tarmac__SQLExecResponse *e = tarmac__sqlexec_response__unpack(
      NULL, reply->response.len, reply->response.data);
  CHECK(e && e->status && e->status->code == 200 && e->rows_affected == 1);
  if (e) tarmac__sqlexec_response__free_unpacked(e, NULL);
}

/* Every row of the sqlite table in docs/callbacks.md. */
static void test_sqlite_types(tarmac_callbacks_t *r, reply_t *reply) {
  tarmac_buffer_t rows = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(call_json(r, "query",
                         "SELECT 9223372036854775807 AS i, -5 AS n, 1.5 AS f, "
                         "'q\"\\\n\xc3\xa9' AS s, CAST('a\xff' AS TEXT) AS bad, "
                         "x'00ff10' AS b, NULL AS z, 1e308*10 AS inf",
                         reply), 0);
  json_rows(reply, &rows);
  CHECK_BYTES(rows.data, rows.len,
              "[{\"i\":9223372036854775807,\"n\":-5,\"f\":1.5,"
              "\"s\":\"q\\\"\\\\\\u000a\xc3\xa9\",\"bad\":\"a\xef\xbf\xbd\","
              "\"b\":\"AP8Q\",\"z\":null,\"inf\":\"Infinity\"}]");
  CHECK_EQ_INT(call_json(r, "query", "SELECT 1 WHERE 0", reply), 0);
  json_rows(reply, &rows);
  CHECK_BYTES(rows.data, rows.len, "[]");
  tarmac_buffer_free(&rows);
}

static void test_statuses(tarmac_callbacks_t *r, reply_t *reply) {
  CHECK_EQ_INT(call_json(r, "query", "", reply), -1);
  check_error(reply, "query is empty");
  CHECK(memmem(reply->response.data, reply->response.len, "\"code\":400",
               10) != NULL);
  CHECK_EQ_INT(call_json(r, "exec", "  \n", reply), -1);
  check_error(reply, "query is empty");
  CHECK_EQ_INT(call_json(r, "query", "SELEC 1", reply), -1);
  check_error(reply, "syntax error");
  CHECK_EQ_INT(call_json(r, "query", "SELECT * FROM missing", reply), -1);
  check_error(reply, "no such table: missing");
  CHECK_EQ_INT(call_json(r, "query", "SELECT 1; SELECT 2", reply), -1);
  check_error(reply, "one statement");
  const char *bad = "{\"query\":\"***\"}";
  CHECK_EQ_INT(call(r, "query", bad, strlen(bad), reply), -1);
  check_error(reply, "base64");
  const char *nul = "{\"query\":\"U0VMRUNUAA==\"}"; /* "SELECT\0" */
  CHECK_EQ_INT(call(r, "query", nul, strlen(nul), reply), -1);
  check_error(reply, "NUL");
  CHECK_EQ_INT(call_json(r, "exec", "INSERT INTO t (id) VALUES (2)", reply),
               -1);
  check_error(reply, "UNIQUE constraint failed");
  /* hostile SQL: no other files, no schema writes */
  CHECK_EQ_INT(call_json(r, "exec", "ATTACH DATABASE '/tmp/tarmac-x.db' AS x",
                         reply), -1);
  check_error(reply, "too many attached databases");
  CHECK_EQ_INT(call_json(r, "exec", "VACUUM INTO '/tmp/tarmac-y.db'", reply),
               -1);
  CHECK(access("/tmp/tarmac-y.db", F_OK) != 0);
  CHECK_EQ_INT(call_json(r, "exec", "PRAGMA writable_schema = ON; UPDATE "
                         "sqlite_schema SET sql = 'x'", reply), -1);
  CHECK_EQ_INT(call_json(r, "query", "SELECT 1; -- a comment", reply), 0);
}

static void test_size_bound(void) {
  tarmac_sql_t *sql = open_sql(TARMAC_SQL_SQLITE, ":memory:", 1, 1000);
  tarmac_sql_result_t res;
  tarmac_sql_status_t st;
  const char *q = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                  "FROM n WHERE i < 100000) SELECT i FROM n";
  CHECK_EQ_INT(tarmac_sql_query(sql, (const uint8_t *)q, strlen(q), &res, &st),
               413);
  CHECK(strstr(st.message, "larger than 1000 bytes") != NULL);
  CHECK(res.data.len <= 1000 + 64);
  tarmac_sql_result_free(&res);
  q = "SELECT zeroblob(100000)";
  CHECK_EQ_INT(tarmac_sql_query(sql, (const uint8_t *)q, strlen(q), &res, &st),
               413);
  tarmac_sql_result_free(&res);
  tarmac_sql_close(sql);
}

/* A statement past the query timeout is interrupted: 504, and the
 * connection answers the next call. */
static void test_timeout(void) {
  char err[256];
  tarmac_sql_config_t c = {.type = TARMAC_SQL_SQLITE, .dsn = "",
                           .pool_size = 1, .connect_timeout_ms = 1000,
                           .query_timeout_ms = 200, .max_result_bytes = 100};
  tarmac_sql_t *sql = tarmac_sql_open(&c, err, sizeof err);
  CHECK(sql != NULL);
  if (!sql) return;
  tarmac_sql_result_t res;
  tarmac_sql_status_t st;
  const char *q = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                  "FROM n) SELECT count(*) FROM n";
  CHECK_EQ_INT(tarmac_sql_query(sql, (const uint8_t *)q, strlen(q), &res, &st),
               504);
  CHECK(strstr(st.message, "deadline") != NULL);
  tarmac_sql_result_free(&res);
  CHECK_EQ_INT(tarmac_sql_query(sql, (const uint8_t *)"SELECT 1", 8, &res,
                                &st), 200);
  tarmac_sql_result_free(&res);
  tarmac_sql_close(sql);
}

/* A 1 MiB text value in and out, through the JSON form. */
static void test_big_value(tarmac_callbacks_t *r, reply_t *reply) {
  size_t n = 1u << 20;
  char *sql = malloc(n + 64);
  int head = sprintf(sql, "INSERT INTO big (v) VALUES ('");
  memset(sql + head, 'x', n);
  strcpy(sql + head + n, "')");
  CHECK_EQ_INT(call_json(r, "exec", "CREATE TABLE big (v TEXT)", reply), 0);
  CHECK_EQ_INT(call_json(r, "exec", sql, reply), 0);
  CHECK_EQ_INT(call_json(r, "query", "SELECT v FROM big", reply), 0);
  tarmac_buffer_t rows = TARMAC_BUFFER_INIT;
  json_rows(reply, &rows);
  CHECK_EQ_INT((long long)rows.len, (long long)(n + 10)); /* [{"v":"..."}] */
  CHECK(rows.len > 8 && rows.data[7] == 'x' && rows.data[n + 6] == 'x');
  tarmac_buffer_free(&rows);
  free(sql);
}

typedef struct {
  tarmac_callbacks_t *registry;
  int id, failures;
} worker_t;

/* 1000 operations: counter increments, inserts and reads. */
static void *worker(void *arg) {
  worker_t *w = arg;
  reply_t reply = {TARMAC_BUFFER_INIT, TARMAC_BUFFER_INIT};
  char q[128];
  for (int i = 0; i < 1000; i++) {
    int rc;
    if (i % 3 == 0) {
      rc = call_json(w->registry, "exec", "UPDATE c SET n = n + 1", &reply);
    } else if (i % 3 == 1) {
      snprintf(q, sizeof q, "INSERT INTO log (w, i) VALUES (%d, %d)", w->id, i);
      rc = call_json(w->registry, "exec", q, &reply);
    } else {
      rc = call_json(w->registry, "query", "SELECT n FROM c", &reply);
    }
    if (rc != 0) {
      fprintf(stderr, "worker %d op %d: %.*s\n", w->id, i,
              (int)reply.error.len, (const char *)reply.error.data);
      w->failures++;
    }
  }
  tarmac_buffer_free(&reply.response);
  tarmac_buffer_free(&reply.error);
  return NULL;
}

static void test_threads(void) {
  char dir[] = "/tmp/tarmac-sql-XXXXXX", path[64];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/db.sqlite", dir);
  tarmac_sql_t *sql = open_sql(TARMAC_SQL_SQLITE, path, 4, 1 << 20);
  tarmac_callbacks_t *r = tarmac_callbacks_new();
  CHECK(sql && r && tarmac_callbacks_add_sql(r, sql) == 0);
  reply_t reply = {TARMAC_BUFFER_INIT, TARMAC_BUFFER_INIT};
  CHECK_EQ_INT(call_json(r, "exec", "CREATE TABLE c (n INTEGER); INSERT INTO "
                         "c VALUES (0); CREATE TABLE log (w INT, i INT)",
                         &reply), 0);
  pthread_t threads[8];
  worker_t workers[8];
  for (int i = 0; i < 8; i++) {
    workers[i] = (worker_t){.registry = r, .id = i};
    CHECK(pthread_create(&threads[i], NULL, worker, &workers[i]) == 0);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(threads[i], NULL);
    CHECK_EQ_INT(workers[i].failures, 0);
  }
  tarmac_buffer_t rows = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(call_json(r, "query", "SELECT n, (SELECT count(*) FROM log) "
                         "AS logged FROM c", &reply), 0);
  json_rows(&reply, &rows);
  CHECK_BYTES(rows.data, rows.len, "[{\"n\":2672,\"logged\":2664}]");
  tarmac_buffer_free(&rows);
  tarmac_buffer_free(&reply.response);
  tarmac_buffer_free(&reply.error);
  tarmac_callbacks_free(r);
  tarmac_sql_close(sql);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
}

/* A port nobody listens on: 500 naming the problem, every time (the
 * failed connection is not kept, the next call tries again). */
static void test_unreachable(tarmac_sql_type_t type, const char *dsn) {
  tarmac_sql_t *sql = open_sql(type, dsn, 2, 1000);
  CHECK(sql != NULL);
  if (!sql) return;
  for (int i = 0; i < 3; i++) {
    tarmac_sql_result_t res;
    tarmac_sql_status_t st;
    CHECK_EQ_INT(tarmac_sql_query(sql, (const uint8_t *)"SELECT 1", 8, &res,
                                  &st), 500);
    CHECK(strstr(st.message, "refused") || strstr(st.message, "connect"));
    tarmac_sql_result_free(&res);
  }
  tarmac_sql_close(sql);
}

static void test_dsn_checks(void) {
  char err[256];
  tarmac_sql_config_t c = {.type = TARMAC_SQL_MYSQL, .pool_size = 1,
                           .dsn = "no slash here"};
  CHECK(tarmac_sql_open(&c, err, sizeof err) == NULL);
  CHECK(strstr(err, "user:password@tcp(host:port)/dbname") != NULL);
  c.dsn = "u:p@tcp(127.0.0.1:99999)/db";
  CHECK(tarmac_sql_open(&c, err, sizeof err) == NULL);
  c.dsn = "u:p@unix(/tmp/x.sock)/db?parseTime=true";
  tarmac_sql_t *ok = tarmac_sql_open(&c, err, sizeof err);
  CHECK(ok != NULL);
  tarmac_sql_close(ok);
  c.type = TARMAC_SQL_POSTGRES;
  c.dsn = "host=localhost port=";
  ok = tarmac_sql_open(&c, err, sizeof err);
  tarmac_sql_close(ok);
  c.dsn = "postgres://u@h:5432/db?sslmode=disable";
  ok = tarmac_sql_open(&c, err, sizeof err);
  CHECK(ok != NULL);
  tarmac_sql_close(ok);
  c.dsn = "postgres://u@h:5432/db?nonsense=1";
  CHECK(tarmac_sql_open(&c, err, sizeof err) == NULL);
  tarmac_sql_type_t t;
  CHECK(tarmac_sql_type_parse("postgres", &t) == 0 && t == TARMAC_SQL_POSTGRES);
  CHECK(tarmac_sql_type_parse("oracle", &t) == -1);
}

int main(void) {
  tarmac_sql_t *sql = open_sql(TARMAC_SQL_SQLITE, "", 4, 8u << 20);
  tarmac_callbacks_t *r = tarmac_callbacks_new();
  CHECK(sql && r && tarmac_callbacks_add_sql(r, sql) == 0);
  reply_t reply = {TARMAC_BUFFER_INIT, TARMAC_BUFFER_INIT};
  test_json_form(r, &reply);
  test_protobuf_form(r, &reply);
  test_sqlite_types(r, &reply);
  test_statuses(r, &reply);
  test_big_value(r, &reply);
  tarmac_buffer_free(&reply.response);
  tarmac_buffer_free(&reply.error);
  tarmac_callbacks_free(r);
  tarmac_sql_close(sql);
  test_size_bound();
  test_timeout();
  test_threads();
  test_unreachable(TARMAC_SQL_POSTGRES,
                   "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2");
  test_unreachable(TARMAC_SQL_MYSQL, "x:y@tcp(127.0.0.1:1)/x");
  test_dsn_checks();
  TEST_EXIT();
}
