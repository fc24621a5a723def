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

#include "runtime/deadline.h"
#include "sql/sql_internal.h"
#include "util/blocking.h"
#include "util/clock.h"

struct tarmac_sql {
  const tarmac_sql_backend_t *backend;
  tarmac_sql_config_t config; /* dsn points at dsn_copy */
  char *dsn_copy;
  pthread_mutex_t mutex;
  pthread_cond_t freed; /* a connection came back or a slot opened */
  void **idle;          /* pool_size slots, idle_count used */
  size_t idle_count;
  size_t open_count;    /* idle + in use + being opened */
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
  return sql;
}

void tarmac_sql_close(tarmac_sql_t *sql) {
  if (!sql) return;
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
  pthread_mutex_lock(&sql->mutex);
  sql->open_count--;
  pthread_cond_signal(&sql->freed);
  pthread_mutex_unlock(&sql->mutex);
  return status->code;
}

/* Returns conn to the pool, or closes it when broken. */
static void release(tarmac_sql_t *sql, void *conn, bool broken) {
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
    release(sql, conn, call.broken);
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
    release(sql, conn, call.broken);
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
