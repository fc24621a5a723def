/* sql: a SQL database behind a bounded connection pool, for the
 * tarmac/sql callbacks (callbacks/sql.c, docs/callbacks.md "SQL"). One
 * interface, three backends, one file each: sqlite (sql/sqlite.c),
 * PostgreSQL through libpq (sql/postgres.c), MariaDB/MySQL through
 * libmariadb (sql/mysql.c). A query's rows come back as one JSON array of
 * row objects built by sql/result.c, whose type mapping is documented per
 * backend in docs/callbacks.md.
 *
 * Pool rules (sql/sql.c): at most pool_size connections, opened on
 * demand; a caller waits for a free one until its deadline; a connection
 * that fails is closed and the next call opens a new one (so a database
 * that comes back is used again without restarting the server). Every
 * wait on the database (pool wait, connect, round trip) is bracketed by
 * tarmac_blocking_begin/end and bounded by the caller's deadline
 * (tarmac_rt_deadline_bound) and the query timeout. A statement cut by
 * that bound is stopped on the server too, from a short-lived session of
 * its own (KILL QUERY on MariaDB, pg_cancel_backend on PostgreSQL; bounded
 * by the connect timeout), and its connection is closed.
 *
 * Reachability (for /ready): a server database (not SQLite) is probed
 * every check_interval_ms on a connection of its own (SELECT 1) and real
 * calls report their outcomes in between (util/reachability.h), so
 * tarmac_sql_reachable costs no round trip.
 *
 * Ownership: tarmac_sql_t owns its connections; results belong to the
 * caller (tarmac_sql_result_free). Thread-safe: any number of threads may
 * query one tarmac_sql_t. */
#ifndef TARMAC_SQL_SQL_H
#define TARMAC_SQL_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buffer.h"

typedef enum {
  TARMAC_SQL_SQLITE,
  TARMAC_SQL_POSTGRES,
  TARMAC_SQL_MYSQL,
} tarmac_sql_type_t;

typedef struct {
  tarmac_sql_type_t type;
  const char *dsn;             /* copied by tarmac_sql_open */
  unsigned pool_size;          /* connections at most, >= 1 */
  unsigned connect_timeout_ms; /* opening one connection */
  unsigned query_timeout_ms;   /* one statement (and one pool wait) */
  size_t max_result_bytes;     /* the rows' JSON at most */
  unsigned check_interval_ms;  /* reachability probe of a server database;
                                  0 = TARMAC_SQL_DEFAULT_CHECK_MS */
} tarmac_sql_config_t;

/* As APP_REDIS_CHECK_INTERVAL's default: /ready notices within 1 s. */
#define TARMAC_SQL_DEFAULT_CHECK_MS 1000u

#define TARMAC_SQL_MESSAGE_MAX 400

/* The outcome of an operation, as a callback status code: 200 OK; 206 exec
 * ran but the backend cannot report last_insert_id (PostgreSQL); 400 the
 * query is bad input (empty, holds NUL, more than one statement for
 * query) or the database refused it (syntax, missing table, constraint:
 * the database's message); 413 the rows exceed max_result_bytes; 500 the
 * database cannot be reached or failed; 504 the deadline or the query
 * timeout passed. */
typedef struct {
  int code;
  char message[TARMAC_SQL_MESSAGE_MAX];
} tarmac_sql_status_t;

typedef struct {
  char **columns;       /* owned, NUL-terminated names */
  size_t column_count;
  tarmac_buffer_t data; /* the JSON array of row objects */
} tarmac_sql_result_t;

typedef struct {
  int64_t last_insert_id;
  int64_t rows_affected;
} tarmac_sql_exec_result_t;

typedef struct tarmac_sql tarmac_sql_t;

/* Parses the type name as APP_SQL_TYPE spells it: "sqlite", "postgres"
 * (or "postgresql", "pgx"), "mysql" (or "mariadb"). 0 or -1. */
int tarmac_sql_type_parse(const char *name, tarmac_sql_type_t *out);

/* Checks the DSN and sets up the pool; connects nothing (the first call
 * does), so a database that is down at start-up is not fatal. NULL with
 * err set on a bad configuration. */
tarmac_sql_t *tarmac_sql_open(const tarmac_sql_config_t *config, char *err,
                              size_t err_size);
void tarmac_sql_close(tarmac_sql_t *sql);

/* Whether the database could be reached at the last probe or call; SQLite
 * always. Any thread; no round trip. Starts false for a server database
 * until its first probe answers (the probe runs at once). */
bool tarmac_sql_reachable(const tarmac_sql_t *sql);

/* Runs one statement that returns rows; fills out (initialised here,
 * freed by the caller whatever the outcome). Returns status->code. */
int tarmac_sql_query(tarmac_sql_t *sql, const uint8_t *query, size_t len,
                     tarmac_sql_result_t *out, tarmac_sql_status_t *status);

/* Runs statements that change things. Returns status->code. */
int tarmac_sql_exec(tarmac_sql_t *sql, const uint8_t *query, size_t len,
                    tarmac_sql_exec_result_t *out,
                    tarmac_sql_status_t *status);

void tarmac_sql_result_free(tarmac_sql_result_t *result);

#endif
