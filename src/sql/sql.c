/* sql: the connection pool and the operations on top of a backend. The
 * pool's mutex is held only to take or return a connection, never across
 * a connect or a round trip, so a slow database blocks only the callers
 * that wait for it. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "runtime/deadline.h"
#include "sql/sql_internal.h"
#include "util/blocking.h"
#include "util/clock.h"
#include "util/reachability.h"

#define NS_PER_MS 1000000u

struct tarmac_sql {
  const tarmac_sql_backend_t *backend;
  tarmac_sql_config_t config; /* dsn points at dsn_copy */
  char *dsn_copy;
  pthread_mutex_t mutex;
  pthread_cond_t freed; /* a connection came back or a slot opened */
  void **idle;          /* pool_size slots, idle_count used */
  size_t idle_count;
  size_t open_count;    /* idle + in use + being opened */
  tarmac_reachability_t *reach; /* owned; NULL for SQLite (always there) */
  void *check_conn;     /* the probe's own connection; its thread only */
};

int tarmac_sql_status_set(tarmac_sql_status_t *status, int code,
                          const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(status->message, sizeof status->message, fmt, ap);
  va_end(ap);
  /* database messages span lines (libpq's do): one line of text */
  for (char *c = status->message; *c; c++)
    if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
  status->code = code;
  return code;
}

uint64_t tarmac_sql_ms_left(uint64_t until_ns) {
  uint64_t now = tarmac_clock_ns();
  if (now >= until_ns) return 0;
  return (until_ns - now + 999999) / 1000000;
}

int tarmac_sql_wait_fd(int fd, short events, uint64_t until_ns) {
  for (;;) {
    uint64_t ms = tarmac_sql_ms_left(until_ns);
    if (ms == 0) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int rc = poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms);
    if (rc > 0) return 1;
    if (rc < 0 && errno != EINTR) return -1;
  }
}

bool tarmac_sql_fd_readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) != 0; /* an error counts: the socket is unusable */
}

int tarmac_sql_type_parse(const char *name, tarmac_sql_type_t *out) {
  static const struct {
    const char *name;
    tarmac_sql_type_t type;
  } names[] = {{"sqlite", TARMAC_SQL_SQLITE},     {"sqlite3", TARMAC_SQL_SQLITE},
               {"postgres", TARMAC_SQL_POSTGRES}, {"postgresql", TARMAC_SQL_POSTGRES},
               {"pgx", TARMAC_SQL_POSTGRES},      {"mysql", TARMAC_SQL_MYSQL},
               {"mariadb", TARMAC_SQL_MYSQL}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i].name) == 0) return *out = names[i].type, 0;
  return -1;
}

static const tarmac_sql_backend_t *backend_of(tarmac_sql_type_t type) {
  switch (type) {
    case TARMAC_SQL_SQLITE: return &tarmac_sql_sqlite_backend;
    case TARMAC_SQL_POSTGRES: return &tarmac_sql_postgres_backend;
    case TARMAC_SQL_MYSQL: return &tarmac_sql_mysql_backend;
  }
  return NULL;
}

static int init_sync(tarmac_sql_t *sql) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr) != 0) return -1;
  int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&sql->freed, &attr);
  pthread_condattr_destroy(&attr);
  if (rc != 0) return -1;
  if (pthread_mutex_init(&sql->mutex, NULL) != 0) {
    pthread_cond_destroy(&sql->freed);
    return -1;
  }
  return 0;
}

/* Whether a statement ran: 200, or 206 from PostgreSQL's exec (no last
 * insert id). */
static bool answered(int code) { return code == 200 || code == 206; }

/* One SELECT 1 on conn within the connect timeout: whether it answered. */
static bool answers(tarmac_sql_t *sql, void *conn) {
  static const char probe[] = "SELECT 1";
  uint64_t until = tarmac_clock_ns() +
                   (uint64_t)sql->config.connect_timeout_ms * NS_PER_MS;
  tarmac_sql_call_t call = {.query = probe, .query_len = sizeof probe - 1,
                            .until_ns = until};
  tarmac_sql_exec_result_t out;
  tarmac_sql_status_t status;
  tarmac_sql_status_set(&status, 200, "OK");
  /* 206: PostgreSQL's exec, which has no last insert id */
  return answered(sql->backend->exec(conn, &call, &out, &status)) &&
         !call.broken;
}

/* The reachability probe (its thread only): SELECT 1 on the probe's own
 * connection, opened when it has none; a kept connection that fails is
 * replaced once within the same probe, since a restarted server breaks it
 * while a new one would be answered. */
static bool probe(void *data) {
  tarmac_sql_t *sql = data;
  for (int attempt = 0; attempt < 2; attempt++) {
    bool reused = sql->check_conn != NULL;
    if (!reused) {
      uint64_t until = tarmac_clock_ns() +
                       (uint64_t)sql->config.connect_timeout_ms * NS_PER_MS;
      tarmac_sql_status_t status;
      tarmac_sql_status_set(&status, 200, "OK"); /* backends build on it */
      sql->check_conn = sql->backend->connect(&sql->config, until, &status);
      if (!sql->check_conn) return false;
    }
    if (answers(sql, sql->check_conn)) return true;
    sql->backend->disconnect(sql->check_conn);
    sql->check_conn = NULL;
    if (!reused) break;
  }
  return false;
}

static int start_probe(tarmac_sql_t *sql) {
  unsigned every = sql->config.check_interval_ms
                       ? sql->config.check_interval_ms
                       : TARMAC_SQL_DEFAULT_CHECK_MS;
  sql->reach = tarmac_reachability_start(every, false, probe, sql);
  return sql->reach ? 0 : -1;
}

bool tarmac_sql_reachable(const tarmac_sql_t *sql) {
  return sql->reach == NULL || tarmac_reachability_ok(sql->reach);
}

/* A call's outcome for /ready: a connection lost or refused is the
 * server gone; any answer (rows, or a refused statement) is the server
 * there. Time running out says nothing (a slow statement, the guest's
 * deadline): the probe decides. */
static void report(tarmac_sql_t *sql, const tarmac_sql_call_t *call,
                   int code) {
  if (sql->reach == NULL || code == 504) return;
  tarmac_reachability_report(sql->reach,
                             !(code == 500 && (call == NULL || call->broken)));
}

tarmac_sql_t *tarmac_sql_open(const tarmac_sql_config_t *config, char *err,
                              size_t err_size) {
  const tarmac_sql_backend_t *backend = backend_of(config->type);
  if (!backend) return snprintf(err, err_size, "unknown SQL type"), NULL;
  if (config->pool_size == 0)
    return snprintf(err, err_size, "SQL pool size must be at least 1"), NULL;
  const char *dsn = config->dsn ? config->dsn : "";
  if (backend->check_dsn(dsn, err, err_size) != 0) return NULL;
  tarmac_sql_t *sql = calloc(1, sizeof *sql);
  if (!sql) return snprintf(err, err_size, "out of memory"), NULL;
  sql->dsn_copy = strdup(dsn);
  sql->idle = calloc(config->pool_size, sizeof *sql->idle);
  if (!sql->dsn_copy || !sql->idle || init_sync(sql) != 0) {
    free(sql->dsn_copy);
    free(sql->idle);
    free(sql);
    return snprintf(err, err_size, "out of memory"), NULL;
  }
  sql->backend = backend;
  sql->config = *config;
  sql->config.dsn = sql->dsn_copy;
  /* an in-memory SQLite database lives in its connection: one only */
  if (config->type == TARMAC_SQL_SQLITE && tarmac_sql_sqlite_in_memory(dsn))
    sql->config.pool_size = 1;
  if (config->type != TARMAC_SQL_SQLITE && start_probe(sql) != 0) {
    tarmac_sql_close(sql);
    return snprintf(err, err_size, "cannot start the SQL reachability "
                    "check"), NULL;
  }
  return sql;
}

void tarmac_sql_close(tarmac_sql_t *sql) {
  if (!sql) return;
  tarmac_reachability_stop(sql->reach); /* before its connection goes */
  if (sql->check_conn) sql->backend->disconnect(sql->check_conn);
  for (size_t i = 0; i < sql->idle_count; i++)
    sql->backend->disconnect(sql->idle[i]);
  pthread_cond_destroy(&sql->freed);
  pthread_mutex_destroy(&sql->mutex);
  free(sql->idle);
  free(sql->dsn_copy);
  free(sql);
}

/* Takes an idle connection, or a slot to open one (*conn NULL), waiting
 * until until_ns. Holds the mutex. 0, or 504 when the wait ran out. */
static int take_slot(tarmac_sql_t *sql, uint64_t until_ns, void **conn,
                     tarmac_sql_status_t *status) {
  struct timespec until = {(time_t)(until_ns / 1000000000u),
                           (long)(until_ns % 1000000000u)};
  while (sql->idle_count == 0 && sql->open_count >= sql->config.pool_size) {
    tarmac_blocking_begin();
    int rc = pthread_cond_timedwait(&sql->freed, &sql->mutex, &until);
    tarmac_blocking_end();
    if (rc == ETIMEDOUT)
      return tarmac_sql_status_set(
          status, 504, "no free SQL connection before the deadline (all %u "
          "in use)", sql->config.pool_size);
  }
  if (sql->idle_count > 0) {
    *conn = sql->idle[--sql->idle_count]; /* checked by acquire */
  } else {
    *conn = NULL;
    sql->open_count++;
  }
  return 0;
}

/* Takes a slot; an idle connection the server has dropped (it restarted,
 * or closed idle sessions) is closed and its slot reused, so a database
 * that came back answers the next call instead of failing it once per
 * pooled connection. */
static int take_live_slot(tarmac_sql_t *sql, uint64_t until_ns, void **conn,
                          tarmac_sql_status_t *status) {
  for (;;) {
    if (pthread_mutex_lock(&sql->mutex) != 0)
      return tarmac_sql_status_set(status, 500, "SQL pool lock failed");
    int rc = take_slot(sql, until_ns, conn, status);
    pthread_mutex_unlock(&sql->mutex);
    if (rc != 0 || !*conn || !sql->backend->alive ||
        sql->backend->alive(*conn))
      return rc;
    sql->backend->disconnect(*conn);
    *conn = NULL;
    pthread_mutex_lock(&sql->mutex);
    sql->open_count--; /* the slot is free again: take it below */
    pthread_mutex_unlock(&sql->mutex);
  }
}

static int acquire(tarmac_sql_t *sql, uint64_t until_ns, void **conn,
                   tarmac_sql_status_t *status) {
  int rc = take_live_slot(sql, until_ns, conn, status);
  if (rc != 0 || *conn) return rc;
  tarmac_blocking_begin();
  *conn = sql->backend->connect(&sql->config, until_ns, status);
  tarmac_blocking_end();
  if (*conn) return 0;
  report(sql, NULL, status->code);
  pthread_mutex_lock(&sql->mutex);
  sql->open_count--;
  pthread_cond_signal(&sql->freed);
  pthread_mutex_unlock(&sql->mutex);
  return status->code;
}

/* Stops the statement a call left running when time ran out: the server
 * goes on with a statement whose client stopped waiting (MariaDB until it
 * ends, PostgreSQL until it next writes to the client), holding its locks
 * and a worker. From a short-lived session of its own, connect and kill
 * bounded together by the connect timeout; best effort (a server that
 * cannot be reached cannot be told, and its statement dies with the
 * connection once it notices). PostgreSQL's PQcancel is not used: in
 * libpq 15 it connects and waits for the server with no timeout at all. */
static void stop_statement(tarmac_sql_t *sql, void *conn) {
  char kill[64];
  if (!sql->backend->kill_statement ||
      sql->backend->kill_statement(conn, kill, sizeof kill) != 0)
    return;
  uint64_t until = tarmac_clock_ns() +
                   (uint64_t)sql->config.connect_timeout_ms * NS_PER_MS;
  tarmac_sql_status_t status;
  tarmac_sql_status_set(&status, 200, "OK"); /* backends build on it */
  tarmac_blocking_begin();
  void *killer = sql->backend->connect(&sql->config, until, &status);
  if (killer) {
    tarmac_sql_call_t call = {.query = kill, .query_len = strlen(kill),
                              .until_ns = until};
    tarmac_sql_exec_result_t out;
    tarmac_sql_status_set(&status, 200, "OK");
    sql->backend->exec(killer, &call, &out, &status);
    sql->backend->disconnect(killer);
  }
  tarmac_blocking_end();
  if (!answered(status.code))
    tarmac_logf(TARMAC_LOG_WARN, "cannot stop a SQL statement past its "
                "timeout (%s): %s", kill, status.message);
}

/* Returns conn to the pool after call, or closes it when broken (first
 * stopping what the call left running on the server). */
static void release(tarmac_sql_t *sql, void *conn,
                    const tarmac_sql_call_t *call, int code) {
  report(sql, call, code);
  if (call->interrupted) stop_statement(sql, conn);
  bool broken = call->broken || call->interrupted;
  if (broken) sql->backend->disconnect(conn);
  pthread_mutex_lock(&sql->mutex);
  if (broken)
    sql->open_count--;
  else
    sql->idle[sql->idle_count++] = conn;
  pthread_cond_signal(&sql->freed);
  pthread_mutex_unlock(&sql->mutex);
}

/* Checks the query and fills call (query copied NUL-terminated into
 * *copy, the caller's to free). 0 or the status code. */
static int prepare_call(const tarmac_sql_t *sql, const uint8_t *query,
                        size_t len, tarmac_sql_call_t *call, char **copy,
                        tarmac_sql_status_t *status) {
  *copy = NULL;
  size_t start = 0;
  while (start < len && strchr(" \t\r\n", query[start]) && query[start])
    start++;
  if (start == len) return tarmac_sql_status_set(status, 400, "query is empty");
  if (memchr(query, '\0', len))
    return tarmac_sql_status_set(status, 400, "query holds a NUL byte");
  if (!(*copy = malloc(len + 1)))
    return tarmac_sql_status_set(status, 500, "out of memory");
  memcpy(*copy, query, len);
  (*copy)[len] = '\0';
  uint64_t until = tarmac_clock_ns() +
                   (uint64_t)sql->config.query_timeout_ms * 1000000u;
  *call = (tarmac_sql_call_t){.query = *copy, .query_len = len,
                              .until_ns = tarmac_rt_deadline_bound(until),
                              .max_result_bytes = sql->config.max_result_bytes};
  tarmac_sql_status_set(status, 200, "OK");
  return 0;
}

int tarmac_sql_query(tarmac_sql_t *sql, const uint8_t *query, size_t len,
                     tarmac_sql_result_t *out, tarmac_sql_status_t *status) {
  memset(out, 0, sizeof *out);
  tarmac_sql_call_t call;
  char *copy;
  void *conn;
  if (prepare_call(sql, query, len, &call, &copy, status) == 0 &&
      acquire(sql, call.until_ns, &conn, status) == 0) {
    tarmac_sql_rows_t rows;
    tarmac_blocking_begin();
    sql->backend->query(conn, &call, &rows, out, status);
    tarmac_blocking_end();
    release(sql, conn, &call, status->code);
  }
  free(copy);
  return status->code;
}

int tarmac_sql_exec(tarmac_sql_t *sql, const uint8_t *query, size_t len,
                    tarmac_sql_exec_result_t *out,
                    tarmac_sql_status_t *status) {
  memset(out, 0, sizeof *out);
  tarmac_sql_call_t call;
  char *copy;
  void *conn;
  if (prepare_call(sql, query, len, &call, &copy, status) == 0 &&
      acquire(sql, call.until_ns, &conn, status) == 0) {
    tarmac_blocking_begin();
    sql->backend->exec(conn, &call, out, status);
    tarmac_blocking_end();
    release(sql, conn, &call, status->code);
  }
  free(copy);
  return status->code;
}

void tarmac_sql_result_free(tarmac_sql_result_t *result) {
  if (!result) return;
  for (size_t i = 0; i < result->column_count; i++) free(result->columns[i]);
  free(result->columns);
  tarmac_buffer_free(&result->data);
  memset(result, 0, sizeof *result);
}
