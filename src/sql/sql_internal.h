/* sql/sql_internal: what the pool (sql/sql.c) and the backends share: the
 * backend interface, the per-call context and the JSON row builder
 * (sql/result.c). Not for use outside src/sql. */
#ifndef TARMAC_SQL_SQL_INTERNAL_H
#define TARMAC_SQL_SQL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sql/sql.h"

/* One operation on one connection. */
typedef struct {
  const char *query;       /* NUL-terminated, holds no other NUL */
  size_t query_len;
  uint64_t until_ns;       /* CLOCK_MONOTONIC: deadline and query timeout */
  size_t max_result_bytes;
  bool broken;             /* set by the backend: close this connection */
  bool interrupted;        /* set by the backend: the client stopped
                              waiting (time ran out) while the statement
                              may still run on the server; the pool stops
                              it from another session (sql.c) */
} tarmac_sql_call_t;

/* Sets status (printf-style, cut to fit). Returns code. */
int tarmac_sql_status_set(tarmac_sql_status_t *status, int code,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The milliseconds left until until_ns (CLOCK_MONOTONIC), at least 1 while
 * any time is left, 0 when none is. */
uint64_t tarmac_sql_ms_left(uint64_t until_ns);

/* Waits until fd is ready for events (POLLIN/POLLOUT) or until_ns
 * passes: 1 ready, 0 time is up, -1 poll failed. Restarts on EINTR (the
 * deadline signal interrupts it). */
int tarmac_sql_wait_fd(int fd, short events, uint64_t until_ns);

/* The row builder: writes result->data as [{"col":value,...},...]. Every
 * function returns 0, or the status code it set (413 past the size
 * bound, 500 out of memory). */
typedef struct {
  tarmac_sql_result_t *result; /* borrowed */
  size_t max_bytes;
  size_t rows;
  size_t column;               /* the next value's column */
  tarmac_sql_status_t *status; /* borrowed */
} tarmac_sql_rows_t;

int tarmac_sql_rows_begin(tarmac_sql_rows_t *rows, tarmac_sql_result_t *result,
                          size_t column_count, size_t max_bytes,
                          tarmac_sql_status_t *status);
int tarmac_sql_rows_column(tarmac_sql_rows_t *rows, size_t i, const char *name);
int tarmac_sql_rows_row_begin(tarmac_sql_rows_t *rows);
int tarmac_sql_rows_row_end(tarmac_sql_rows_t *rows);
int tarmac_sql_rows_end(tarmac_sql_rows_t *rows);
/* Values, in column order within a row. */
int tarmac_sql_value_null(tarmac_sql_rows_t *rows);
int tarmac_sql_value_bool(tarmac_sql_rows_t *rows, bool value);
int tarmac_sql_value_int(tarmac_sql_rows_t *rows, int64_t value);
int tarmac_sql_value_double(tarmac_sql_rows_t *rows, double value);
/* A number the database printed: written as is when it is a JSON number,
 * else (NaN, Infinity) as a string. */
int tarmac_sql_value_number_text(tarmac_sql_rows_t *rows, const char *text,
                                 size_t len);
/* Text: a JSON string; invalid UTF-8 becomes U+FFFD (as Go's encoding/json
 * does). */
int tarmac_sql_value_text(tarmac_sql_rows_t *rows, const char *text,
                          size_t len);
/* Binary: a base64 string (standard, padded). */
int tarmac_sql_value_bytes(tarmac_sql_rows_t *rows, const uint8_t *data,
                           size_t len);
/* A date/time the database printed ("2024-01-02 03:04:05+00"): a string
 * with the date-time separator made 'T' (ISO 8601). */
int tarmac_sql_value_time(tarmac_sql_rows_t *rows, const char *text,
                          size_t len);
/* A JSON document the database holds: embedded as JSON when it parses,
 * else as a string. */
int tarmac_sql_value_json(tarmac_sql_rows_t *rows, const char *text,
                          size_t len);

/* Whether an idle connection's socket has something to read: on a
 * connection nobody is using, that is the server closing it (or saying
 * it is about to). */
bool tarmac_sql_fd_readable(int fd);

/* A backend. connect returns a connection or NULL with status set (500,
 * 504); query and exec return status->code and set call->broken when the
 * connection must not be reused. */
typedef struct {
  const char *name;
  int (*check_dsn)(const char *dsn, char *err, size_t err_size);
  void *(*connect)(const tarmac_sql_config_t *config, uint64_t until_ns,
                   tarmac_sql_status_t *status);
  void (*disconnect)(void *conn);
  /* Whether an idle connection is still usable, without a round trip (a
   * server that went away has closed it or said so); NULL: always. */
  bool (*alive)(void *conn);
  int (*query)(void *conn, tarmac_sql_call_t *call, tarmac_sql_rows_t *rows,
               tarmac_sql_result_t *result, tarmac_sql_status_t *status);
  int (*exec)(void *conn, tarmac_sql_call_t *call,
              tarmac_sql_exec_result_t *out, tarmac_sql_status_t *status);
  /* Writes into out the statement that, run from another session, stops
   * what conn is running (KILL QUERY <id>, pg_cancel_backend(<pid>)).
   * 0, or -1 when it does not fit or the backend cannot say; NULL: the
   * backend needs none (an embedded database stops with its caller). */
  int (*kill_statement)(void *conn, char *out, size_t size);
} tarmac_sql_backend_t;

extern const tarmac_sql_backend_t tarmac_sql_sqlite_backend;
/* Whether an SQLite DSN names an in-memory database ("", ":memory:",
 * mode=memory), which exists once per connection (sql/sqlite.c). */
bool tarmac_sql_sqlite_in_memory(const char *dsn);
extern const tarmac_sql_backend_t tarmac_sql_postgres_backend;
extern const tarmac_sql_backend_t tarmac_sql_mysql_backend;

#endif
