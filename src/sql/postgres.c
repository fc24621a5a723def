/* sql/postgres: PostgreSQL through libpq, asynchronously so every wait is
 * a poll bounded by the call's deadline: connect (PQconnectStartParams +
 * PQconnectPoll), send, then read. Queries run in single-row mode, so a
 * result past the size bound stops after the row that crossed it instead
 * of libpq buffering all of it. A call that times out is cancelled on the
 * server (pg_cancel_backend from another session, sql.c) and its
 * connection closed (a half-read result cannot be reused);
 * so is one whose connection failed, and the next call opens a new one.
 * Values are read in text format and mapped by type OID (the table in
 * docs/callbacks.md). PostgreSQL has no last insert id: exec answers 206
 * with rows_affected (as upstream Tarmac does with lib/pq). */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql_internal.h"
#include "util/clock.h"

/* Type OIDs (catalog/pg_type_d.h: fixed across releases). */
enum {
  OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23,
  OID_OID = 26, OID_JSON = 114, OID_FLOAT4 = 700, OID_FLOAT8 = 701,
  OID_DATE = 1082, OID_TIME = 1083, OID_TIMESTAMP = 1114,
  OID_TIMESTAMPTZ = 1184, OID_TIMETZ = 1266, OID_JSONB = 3802,
};

/* Settings every connection gets, so values print as the mapping
 * expects: ISO dates, hex bytea, floats that round-trip. */
static const char session_setup[] =
    "SET DateStyle = 'ISO, YMD'; SET bytea_output = 'hex'; "
    "SET extra_float_digits = 3; SET IntervalStyle = 'iso_8601'";

static int check_dsn(const char *dsn, char *err, size_t err_size) {
  char *msg = NULL;
  PQconninfoOption *opts = PQconninfoParse(dsn, &msg);
  if (!opts) {
    snprintf(err, err_size, "APP_SQL_DSN is not a PostgreSQL connection "
             "string: %s", msg ? msg : "out of memory");
    PQfreemem(msg);
    return -1;
  }
  PQconninfoFree(opts);
  return 0;
}

static int conn_failed(PGconn *pg, tarmac_sql_call_t *call,
                       tarmac_sql_status_t *status) {
  if (call) call->broken = true;
  const char *msg = PQerrorMessage(pg);
  size_t len = strlen(msg);
  while (len && msg[len - 1] == '\n') len--;
  return tarmac_sql_status_set(status, 500, "postgres: %.*s", (int)len, msg);
}

/* Gives up the connection; the pool cancels the statement from another
 * session (kill_statement), bounded by the connect timeout, which
 * PQcancel is not. */
static int timed_out(tarmac_sql_call_t *call, tarmac_sql_status_t *status) {
  call->broken = true;
  call->interrupted = true;
  return tarmac_sql_status_set(status, 504,
                               "SQL statement stopped at the deadline");
}

static int connect_poll(PGconn *pg, uint64_t until_ns,
                        tarmac_sql_status_t *status) {
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) return conn_failed(pg, NULL, status);
    short ev = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    int rc = tarmac_sql_wait_fd(PQsocket(pg), ev, until_ns);
    if (rc == 0)
      return tarmac_sql_status_set(status, 504, "postgres: connecting "
                                   "timed out");
    if (rc < 0) return conn_failed(pg, NULL, status);
    st = PQconnectPoll(pg);
  }
  return 0;
}

/* Waits for the whole next result: NULL when the statement is done; on
 * failure NULL with status set (non-200). */
static PGresult *next_result(PGconn *pg, tarmac_sql_call_t *call,
                             tarmac_sql_status_t *status) {
  while (PQisBusy(pg)) {
    int rc = tarmac_sql_wait_fd(PQsocket(pg), POLLIN, call->until_ns);
    if (rc == 0) return timed_out(call, status), NULL;
    if (rc < 0 || !PQconsumeInput(pg))
      return conn_failed(pg, call, status), NULL;
  }
  return PQgetResult(pg);
}

/* The status for a failed statement from its SQLSTATE: connection
 * trouble, resources and internal errors are the database's (500), a
 * cancel is the deadline (504), the rest the statement's (400). */
static int statement_failed(PGconn *pg, PGresult *res, tarmac_sql_call_t *call,
                            tarmac_sql_status_t *status) {
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  int code = 400;
  if (PQstatus(pg) == CONNECTION_BAD || !state ||
      strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) {
    call->broken = true;
    code = 500;
  } else if (strcmp(state, "57014") == 0) {
    code = 504;
  } else if (strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0 ||
             strncmp(state, "XX", 2) == 0) {
    code = 500;
  }
  return tarmac_sql_status_set(status, code, "postgres: %s (SQLSTATE %s)",
                               msg ? msg : PQerrorMessage(pg),
                               state ? state : "unknown");
}

/* COPY would wait for (or send) data this interface has no way to carry,
 * and libpq answers a COPY state for as long as it lasts: refused, and the
 * connection given up rather than ended mid-COPY. */
static bool copy_refused(ExecStatusType st, tarmac_sql_call_t *call,
                         tarmac_sql_status_t *status) {
  if (st != PGRES_COPY_IN && st != PGRES_COPY_OUT && st != PGRES_COPY_BOTH)
    return false;
  call->broken = true;
  tarmac_sql_status_set(status, 400, "postgres: COPY FROM STDIN / TO STDOUT "
                        "is not supported");
  return true;
}

/* Reads results to the end; keeps the first failure in status. */
static int drain(PGconn *pg, tarmac_sql_call_t *call,
                 tarmac_sql_status_t *status, int64_t *affected) {
  PGresult *res;
  while ((res = next_result(pg, call, status)) != NULL) {
    ExecStatusType st = PQresultStatus(res);
    if (copy_refused(st, call, status)) {
      PQclear(res);
      return status->code;
    }
    if (status->code == 200 && st == PGRES_FATAL_ERROR)
      statement_failed(pg, res, call, status);
    else if (affected && st == PGRES_COMMAND_OK)
      *affected += strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
  }
  return status->code;
}

/* Sends what libpq still holds (the connection is non-blocking, so a big
 * query leaves in pieces). 0 or the status code. */
static int flush(PGconn *pg, tarmac_sql_call_t *call,
                 tarmac_sql_status_t *status) {
  int rc;
  while ((rc = PQflush(pg)) == 1) {
    int ready = tarmac_sql_wait_fd(PQsocket(pg), POLLIN | POLLOUT,
                                   call->until_ns);
    if (ready == 0) return timed_out(call, status);
    if (ready < 0 || !PQconsumeInput(pg))
      return conn_failed(pg, call, status);
  }
  return rc == 0 ? 0 : conn_failed(pg, call, status);
}

static int run_simple(PGconn *pg, tarmac_sql_call_t *call,
                      tarmac_sql_status_t *status, int64_t *affected) {
  if (!PQsendQuery(pg, call->query)) return conn_failed(pg, call, status);
  if (flush(pg, call, status) != 0) return status->code;
  return drain(pg, call, status, affected);
}

static void *connect_db(const tarmac_sql_config_t *config, uint64_t until_ns,
                        tarmac_sql_status_t *status) {
  const char *keys[] = {"dbname", "client_encoding", NULL};
  const char *values[] = {config->dsn, "UTF8", NULL};
  PGconn *pg = PQconnectStartParams(keys, values, 1);
  if (!pg) return tarmac_sql_status_set(status, 500, "out of memory"), NULL;
  uint64_t connect_until =
      tarmac_clock_ns() + (uint64_t)config->connect_timeout_ms * 1000000u;
  if (connect_until > until_ns) connect_until = until_ns;
  tarmac_sql_call_t setup = {.query = session_setup, .until_ns = until_ns};
  if (PQstatus(pg) == CONNECTION_BAD) {
    conn_failed(pg, NULL, status);
  } else if (connect_poll(pg, connect_until, status) == 0 &&
             PQsetnonblocking(pg, 1) == 0 &&
             run_simple(pg, &setup, status, NULL) == 200) {
    return pg;
  }
  PQfinish(pg);
  return NULL;
}

static void disconnect(void *conn) { PQfinish(conn); }

/* An idle session with input pending: read it; a server that shut down
 * sent its FATAL notice and closed, which leaves the connection bad. */
static bool alive(void *conn) {
  PGconn *pg = conn;
  if (PQstatus(pg) != CONNECTION_OK) return false;
  if (!tarmac_sql_fd_readable(PQsocket(pg))) return true;
  return PQconsumeInput(pg) && PQstatus(pg) == CONNECTION_OK &&
         !tarmac_sql_fd_readable(PQsocket(pg));
}

static int put_value(const PGresult *res, int col, tarmac_sql_rows_t *rows) {
  if (PQgetisnull(res, 0, col)) return tarmac_sql_value_null(rows);
  const char *text = PQgetvalue(res, 0, col);
  size_t len = (size_t)PQgetlength(res, 0, col);
  switch (PQftype(res, col)) {
    case OID_BOOL: return tarmac_sql_value_bool(rows, text[0] == 't');
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
    case OID_FLOAT4: case OID_FLOAT8:
      return tarmac_sql_value_number_text(rows, text, len);
    case OID_JSON: case OID_JSONB:
      return tarmac_sql_value_json(rows, text, len);
    case OID_DATE: case OID_TIME: case OID_TIMETZ: case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
      return tarmac_sql_value_time(rows, text, len);
    case OID_BYTEA: {
      size_t n = 0;
      unsigned char *bytes = PQunescapeBytea((const unsigned char *)text, &n);
      if (!bytes)
        return tarmac_sql_status_set(rows->status, 500, "out of memory");
      int rc = tarmac_sql_value_bytes(rows, bytes, n);
      PQfreemem(bytes);
      return rc;
    }
    default: /* numeric, text, uuid, interval, arrays...: as printed */
      return tarmac_sql_value_text(rows, text, len);
  }
}

/* One row of single-row mode; the first also names the columns. */
static int put_row(const PGresult *res, tarmac_sql_rows_t *rows,
                   tarmac_sql_result_t *result, size_t max,
                   tarmac_sql_status_t *status) {
  int n = PQnfields(res);
  if (!result->columns) {
    if (tarmac_sql_rows_begin(rows, result, (size_t)n, max, status) != 0)
      return status->code;
    for (int i = 0; i < n; i++)
      if (tarmac_sql_rows_column(rows, (size_t)i, PQfname(res, i)) != 0)
        return status->code;
  }
  if (PQntuples(res) == 0) return 0; /* the closing TUPLES_OK */
  if (tarmac_sql_rows_row_begin(rows) != 0) return status->code;
  for (int i = 0; i < n; i++)
    if (put_value(res, i, rows) != 0) return status->code;
  return tarmac_sql_rows_row_end(rows);
}

static int query(void *conn, tarmac_sql_call_t *call, tarmac_sql_rows_t *rows,
                 tarmac_sql_result_t *result, tarmac_sql_status_t *status) {
  PGconn *pg = conn;
  /* the extended protocol runs exactly one statement */
  if (!PQsendQueryParams(pg, call->query, 0, NULL, NULL, NULL, NULL, 0) ||
      !PQsetSingleRowMode(pg))
    return conn_failed(pg, call, status);
  if (flush(pg, call, status) != 0) return status->code;
  PGresult *res;
  while ((res = next_result(pg, call, status)) != NULL) {
    ExecStatusType st = PQresultStatus(res);
    if (copy_refused(st, call, status)) {
      PQclear(res);
      return status->code;
    }
    if (st == PGRES_FATAL_ERROR) {
      statement_failed(pg, res, call, status);
    } else if (status->code == 200 &&
               (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) &&
               put_row(res, rows, result, call->max_result_bytes, status)) {
      call->broken = true; /* stop reading: the rest stays unread */
      PQclear(res);
      return status->code;
    }
    PQclear(res);
  }
  if (status->code != 200) return status->code;
  if (!result->columns &&
      tarmac_sql_rows_begin(rows, result, 0, call->max_result_bytes, status))
    return status->code;
  return tarmac_sql_rows_end(rows) ? status->code : 200;
}

static int exec(void *conn, tarmac_sql_call_t *call,
                tarmac_sql_exec_result_t *out, tarmac_sql_status_t *status) {
  if (run_simple(conn, call, status, &out->rows_affected) != 200)
    return status->code;
  return tarmac_sql_status_set(status, 206, "PostgreSQL cannot report the "
                               "last insert id (rows affected: %lld)",
                               (long long)out->rows_affected);
}

/* pg_cancel_backend: the server's own cancel, from any session of the
 * same role, for the backend process serving this connection. */
static int kill_statement(void *conn, char *out, size_t size) {
  int pid = PQbackendPID(conn);
  int n = snprintf(out, size, "SELECT pg_cancel_backend(%d)", pid);
  return pid > 0 && n > 0 && (size_t)n < size ? 0 : -1;
}

const tarmac_sql_backend_t tarmac_sql_postgres_backend = {
    .name = "postgres", .check_dsn = check_dsn, .connect = connect_db,
    .disconnect = disconnect, .alive = alive, .query = query, .exec = exec,
    .kill_statement = kill_statement,
};
