/* sql/sqlite: the embedded backend (libsqlite3). One connection per pool
 * slot, opened SQLITE_OPEN_NOMUTEX: the pool hands a connection to one
 * thread at a time, so SQLite's own per-connection mutex would only add
 * cost, and separate connections let readers run in parallel (WAL). A
 * file database is switched to WAL; writers queue on SQLite's lock for up
 * to the busy timeout, which is the call's time left. An in-memory
 * database (":memory:", "" or mode=memory) exists once per connection, so
 * the pool keeps one connection for it (sql.c). A progress handler stops
 * a statement that runs past the call's deadline (504). */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql_internal.h"
#include "util/clock.h"

typedef struct {
  sqlite3 *db;
  uint64_t until_ns; /* the running call's: the progress handler reads it */
} sqlite_conn_t;

static int check_dsn(const char *dsn, char *err, size_t err_size) {
  (void)dsn;
  (void)err;
  (void)err_size;
  return 0; /* any path or file: URI; open errors surface as 500 */
}

/* The status for an SQLite error: the statement's fault (400) unless the
 * database itself failed or the time ran out. */
static int fail(sqlite_conn_t *c, int rc, tarmac_sql_call_t *call,
                tarmac_sql_status_t *status) {
  int code = 400;
  switch (rc & 0xff) {
    case SQLITE_INTERRUPT: code = 504; break;
    case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_NOMEM: case SQLITE_IOERR:
    case SQLITE_CORRUPT: case SQLITE_FULL: case SQLITE_CANTOPEN:
    case SQLITE_READONLY: case SQLITE_NOTADB: case SQLITE_PROTOCOL:
      code = 500;
      break;
  }
  if (code == 504)
    return tarmac_sql_status_set(status, 504,
                                 "SQL statement stopped at the deadline");
  if (call && (rc & 0xff) == SQLITE_CORRUPT) call->broken = true;
  return tarmac_sql_status_set(status, code, "sqlite: %s",
                               sqlite3_errmsg(c->db));
}

static int progress(void *data) {
  sqlite_conn_t *c = data;
  return tarmac_clock_ns() >= c->until_ns; /* non-zero interrupts */
}

bool tarmac_sql_sqlite_in_memory(const char *dsn) {
  return dsn[0] == '\0' || strcmp(dsn, ":memory:") == 0 ||
         strstr(dsn, "mode=memory") != NULL;
}

/* Guests' SQL is hostile: no ATTACH (nor VACUUM INTO, which attaches),
 * which would read or write any file the server may; defensive mode
 * (no writable_schema, no shadow-table writes that corrupt the file).
 * Extensions stay off (SQLite's default). */
static void harden(sqlite3 *db) {
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
}

static void *connect_db(const tarmac_sql_config_t *config, uint64_t until_ns,
                        tarmac_sql_status_t *status) {
  (void)until_ns;
  sqlite_conn_t *c = calloc(1, sizeof *c);
  if (!c) return tarmac_sql_status_set(status, 500, "out of memory"), NULL;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
              SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  const char *dsn = config->dsn[0] ? config->dsn : ":memory:";
  int rc = sqlite3_open_v2(dsn, &c->db, flags, NULL);
  if (rc == SQLITE_OK && !tarmac_sql_sqlite_in_memory(config->dsn))
    rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    tarmac_sql_status_set(status, 500, "sqlite: cannot open %s: %s", dsn,
                          c->db ? sqlite3_errmsg(c->db) : "out of memory");
    sqlite3_close(c->db);
    free(c);
    return NULL;
  }
  sqlite3_progress_handler(c->db, 1000, progress, c);
  harden(c->db);
  return c;
}

static void disconnect(void *conn) {
  sqlite_conn_t *c = conn;
  sqlite3_close(c->db);
  free(c);
}

static void start(sqlite_conn_t *c, const tarmac_sql_call_t *call) {
  c->until_ns = call->until_ns;
  uint64_t ms = tarmac_sql_ms_left(call->until_ns);
  sqlite3_busy_timeout(c->db, ms > 0x7fffffff ? 0x7fffffff : (int)ms);
}

/* Whether text holds another statement (not just blanks or comments). */
static bool has_statement(sqlite3 *db, const char *text) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db, text, -1, &stmt, NULL);
  sqlite3_finalize(stmt);
  return rc != SQLITE_OK || stmt != NULL;
}

static int put_value(sqlite3_stmt *stmt, int i, tarmac_sql_rows_t *rows) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return tarmac_sql_value_int(rows, sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT:
      return tarmac_sql_value_double(rows, sqlite3_column_double(stmt, i));
    case SQLITE_TEXT:
      return tarmac_sql_value_text(
          rows, (const char *)sqlite3_column_text(stmt, i),
          (size_t)sqlite3_column_bytes(stmt, i));
    case SQLITE_BLOB:
      return tarmac_sql_value_bytes(rows, sqlite3_column_blob(stmt, i),
                                    (size_t)sqlite3_column_bytes(stmt, i));
    default:
      return tarmac_sql_value_null(rows);
  }
}

static int read_rows(sqlite_conn_t *c, sqlite3_stmt *stmt,
                     tarmac_sql_call_t *call, tarmac_sql_rows_t *rows,
                     tarmac_sql_result_t *result, tarmac_sql_status_t *status) {
  int n = sqlite3_column_count(stmt);
  if (tarmac_sql_rows_begin(rows, result, (size_t)n, call->max_result_bytes,
                            status) != 0)
    return status->code;
  for (int i = 0; i < n; i++)
    if (tarmac_sql_rows_column(rows, (size_t)i, sqlite3_column_name(stmt, i)))
      return status->code;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (tarmac_sql_rows_row_begin(rows) != 0) return status->code;
    for (int i = 0; i < n; i++)
      if (put_value(stmt, i, rows) != 0) return status->code;
    if (tarmac_sql_rows_row_end(rows) != 0) return status->code;
  }
  if (rc != SQLITE_DONE) return fail(c, rc, call, status);
  return tarmac_sql_rows_end(rows) ? status->code : 200;
}

static int query(void *conn, tarmac_sql_call_t *call, tarmac_sql_rows_t *rows,
                 tarmac_sql_result_t *result, tarmac_sql_status_t *status) {
  sqlite_conn_t *c = conn;
  sqlite3_stmt *stmt = NULL;
  const char *tail = NULL;
  start(c, call);
  int rc = sqlite3_prepare_v2(c->db, call->query, (int)call->query_len + 1,
                              &stmt, &tail);
  if (rc != SQLITE_OK) return fail(c, rc, call, status);
  if (!stmt)
    return tarmac_sql_status_set(status, 400, "query holds no statement");
  if (tail && has_statement(c->db, tail))
    rc = tarmac_sql_status_set(status, 400,
                               "query must be one statement (use exec for "
                               "more)");
  else
    rc = read_rows(c, stmt, call, rows, result, status);
  sqlite3_finalize(stmt);
  return rc;
}

/* Runs every statement in the query, skipping the rows of any. */
static int exec(void *conn, tarmac_sql_call_t *call,
                tarmac_sql_exec_result_t *out, tarmac_sql_status_t *status) {
  sqlite_conn_t *c = conn;
  start(c, call);
  int64_t before = sqlite3_total_changes64(c->db);
  const char *sql = call->query;
  while (*sql) {
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &stmt, &sql);
    if (rc != SQLITE_OK) return fail(c, rc, call, status);
    if (!stmt) break; /* only blanks or comments were left */
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return fail(c, rc, call, status);
  }
  out->rows_affected = sqlite3_total_changes64(c->db) - before;
  out->last_insert_id = sqlite3_last_insert_rowid(c->db);
  return status->code;
}

const tarmac_sql_backend_t tarmac_sql_sqlite_backend = {
    .name = "sqlite", .check_dsn = check_dsn, .connect = connect_db,
    .disconnect = disconnect, .query = query, .exec = exec,
};
