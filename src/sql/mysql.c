/* sql/mysql: MariaDB and MySQL through MariaDB's client library
 * (libmariadb), in its non-blocking mode so every wait is a poll bounded
 * by the call's deadline. The DSN is Go's go-sql-driver form that Tarmac
 * users write: [user[:password]@][tcp(host:port)|unix(/path)]/dbname[?params]
 * (parameters are accepted and ignored, except that the connection always
 * talks utf8mb4). Rows are read unbuffered (mysql_use_result), one at a
 * time, so a result past the size bound stops there; the rest is drained
 * without being kept, or the connection closed when time runs out. Multi
 * statements are off, as in go-sql-driver's default. */
#include <errmsg.h>
#include <mysql.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql_internal.h"
#include "util/clock.h"

#define DSN_PART_MAX 256

typedef struct {
  char user[DSN_PART_MAX], password[DSN_PART_MAX], host[DSN_PART_MAX];
  char socket[DSN_PART_MAX], db[DSN_PART_MAX];
  unsigned port;
} dsn_t;

/* Copies [s, s+len) into a DSN_PART_MAX field. */
static int part(char *out, const char *s, size_t len) {
  if (len >= DSN_PART_MAX) return -1;
  memcpy(out, s, len);
  out[len] = '\0';
  return 0;
}

/* The address part: "", "tcp(host:port)", "tcp(host)", "unix(/path)". */
static int parse_address(const char *s, size_t len, dsn_t *d) {
  if (len == 0) return part(d->host, "127.0.0.1", 9);
  if (len > 5 && strncmp(s, "unix(", 5) == 0 && s[len - 1] == ')')
    return part(d->socket, s + 5, len - 6);
  if (len < 5 || strncmp(s, "tcp(", 4) != 0 || s[len - 1] != ')') return -1;
  s += 4, len -= 5;
  const char *colon = memrchr(s, ':', len);
  if (!colon) return part(d->host, s, len);
  char port[8];
  char *end;
  if (part(d->host, s, (size_t)(colon - s)) != 0 ||
      (size_t)(s + len - colon - 1) >= sizeof port)
    return -1;
  memcpy(port, colon + 1, (size_t)(s + len - colon - 1));
  port[s + len - colon - 1] = '\0';
  unsigned long p = strtoul(port, &end, 10);
  if (*end || p == 0 || p > 65535 || port[0] < '0' || port[0] > '9') return -1;
  d->port = (unsigned)p;
  return 0;
}

static int parse_dsn(const char *dsn, dsn_t *d) {
  memset(d, 0, sizeof *d);
  const char *slash = strrchr(dsn, '/');
  if (!slash) return -1;
  const char *at = memrchr(dsn, '@', (size_t)(slash - dsn));
  const char *addr = dsn;
  if (at) {
    const char *colon = memchr(dsn, ':', (size_t)(at - dsn));
    const char *user_end = colon ? colon : at;
    if (part(d->user, dsn, (size_t)(user_end - dsn)) != 0 ||
        (colon && part(d->password, colon + 1, (size_t)(at - colon - 1))))
      return -1;
    addr = at + 1;
  }
  if (parse_address(addr, (size_t)(slash - addr), d) != 0) return -1;
  const char *q = strchr(slash, '?');
  return part(d->db, slash + 1, q ? (size_t)(q - slash - 1) : strlen(slash + 1));
}

static int check_dsn(const char *dsn, char *err, size_t err_size) {
  dsn_t d;
  if (parse_dsn(dsn, &d) == 0) return 0;
  snprintf(err, err_size, "APP_SQL_DSN is not a MySQL DSN of the form "
           "user:password@tcp(host:port)/dbname");
  return -1;
}

/* Waits for what a *_start/_cont asked for: the events for *_cont, or -1
 * when time ran out or polling failed. */
static int await(MYSQL *m, int wanted, uint64_t until_ns) {
  short ev = (short)(((wanted & MYSQL_WAIT_READ) ? POLLIN : 0) |
                     ((wanted & MYSQL_WAIT_WRITE) ? POLLOUT : 0) |
                     ((wanted & MYSQL_WAIT_EXCEPT) ? POLLPRI : 0));
  int rc = tarmac_sql_wait_fd(mysql_get_socket(m), ev, until_ns);
  if (rc <= 0) return -1;
  struct pollfd p = {.fd = mysql_get_socket(m), .events = ev};
  if (poll(&p, 1, 0) < 0) return -1;
  return ((p.revents & (POLLIN | POLLHUP | POLLERR)) ? MYSQL_WAIT_READ : 0) |
         ((p.revents & POLLOUT) ? MYSQL_WAIT_WRITE : 0) |
         ((p.revents & POLLPRI) ? MYSQL_WAIT_EXCEPT : 0);
}

/* Runs a non-blocking call to the end: START is the *_start call, CONT the
 * *_cont call with `ev` as its events. Jumps to `timeout` when time ran
 * out. */
#define RUN(m, until, START, CONT, timeout)        \
  do {                                             \
    int wanted_ = (START);                         \
    while (wanted_) {                              \
      int ev = await((m), wanted_, (until));       \
      if (ev < 0) goto timeout;                    \
      wanted_ = (CONT);                            \
    }                                              \
  } while (0)

static int fail(MYSQL *m, tarmac_sql_call_t *call, tarmac_sql_status_t *status) {
  unsigned no = mysql_errno(m);
  int code = 400; /* the server refused the statement */
  if (no >= CR_MIN_ERROR || no == 0 || no == 1040 /* too many conns */ ||
      no == 1053 /* shutdown */ || no == 1927 /* killed */) {
    if (call) call->broken = true;
    code = 500;
  }
  return tarmac_sql_status_set(status, code, "mysql: %s (error %u)",
                               mysql_error(m), no);
}

static void *connect_db(const tarmac_sql_config_t *config, uint64_t until_ns,
                        tarmac_sql_status_t *status) {
  dsn_t d;
  MYSQL *m = mysql_init(NULL), *ok = NULL;
  if (!m) return tarmac_sql_status_set(status, 500, "out of memory"), NULL;
  unsigned seconds = (config->connect_timeout_ms + 999) / 1000;
  unsigned no_local_infile = 0;
  uint64_t until = tarmac_clock_ns() +
                   (uint64_t)config->connect_timeout_ms * 1000000u;
  if (until > until_ns) until = until_ns;
  if (parse_dsn(config->dsn, &d) != 0 ||
      mysql_options(m, MYSQL_OPT_NONBLOCK, 0) != 0 ||
      mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0 ||
      mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &seconds) != 0 ||
      /* LOAD DATA LOCAL INFILE would let a guest read the server's files */
      mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &no_local_infile) != 0) {
    tarmac_sql_status_set(status, 500, "mysql: cannot set up a connection");
    mysql_close(m);
    return NULL;
  }
  RUN(m, until,
      mysql_real_connect_start(&ok, m, d.host[0] ? d.host : NULL, d.user,
                               d.password, d.db, d.port,
                               d.socket[0] ? d.socket : NULL, 0),
      mysql_real_connect_cont(&ok, m, ev), timeout);
  if (ok) return m;
  fail(m, NULL, status);
  status->code = 500; /* no connection: the database's fault */
  mysql_close(m);
  return NULL;
timeout:
  tarmac_sql_status_set(status, 504, "mysql: connecting timed out");
  mysql_close(m);
  return NULL;
}

static void disconnect(void *conn) { mysql_close(conn); }

/* The server sends nothing to an idle session unless it is closing it. */
static bool alive(void *conn) {
  return !tarmac_sql_fd_readable(mysql_get_socket(conn));
}

static int timed_out(tarmac_sql_call_t *call, tarmac_sql_status_t *status) {
  call->broken = true;
  call->interrupted = true; /* the server would finish the statement */
  return tarmac_sql_status_set(status, 504,
                               "SQL statement stopped at the deadline");
}

static int send_query(MYSQL *m, tarmac_sql_call_t *call,
                      tarmac_sql_status_t *status) {
  int err = 0;
  RUN(m, call->until_ns,
      mysql_real_query_start(&err, m, call->query, call->query_len),
      mysql_real_query_cont(&err, m, ev), timeout);
  return err ? fail(m, call, status) : 0;
timeout:
  return timed_out(call, status);
}

/* Whether a column carries JSON: MySQL's JSON type, or MariaDB's JSON
 * alias of LONGTEXT, which the server marks with the format name "json". */
static bool json_column(const MYSQL_FIELD *f) {
  MARIADB_CONST_STRING attr = {NULL, 0};
  if (f->type == MYSQL_TYPE_JSON) return true;
  return mariadb_field_attr(&attr, f, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 &&
         attr.length == 4 && strncmp(attr.str, "json", 4) == 0;
}

static int put_bit(tarmac_sql_rows_t *rows, const char *v, unsigned long len) {
  uint64_t n = 0;
  for (unsigned long i = 0; i < len && i < 8; i++)
    n = n << 8 | (unsigned char)v[i];
  char text[24];
  int w = snprintf(text, sizeof text, "%llu", (unsigned long long)n);
  return tarmac_sql_value_number_text(rows, text, (size_t)w);
}

static int put_value(const MYSQL_FIELD *f, const char *v, unsigned long len,
                     tarmac_sql_rows_t *rows) {
  if (!v) return tarmac_sql_value_null(rows);
  switch (f->type) {
    case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24: case MYSQL_TYPE_LONGLONG: case MYSQL_TYPE_YEAR:
    case MYSQL_TYPE_FLOAT: case MYSQL_TYPE_DOUBLE:
      return tarmac_sql_value_number_text(rows, v, len);
    case MYSQL_TYPE_BIT:
      return put_bit(rows, v, len);
    case MYSQL_TYPE_DATE: case MYSQL_TYPE_NEWDATE: case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_DATETIME: case MYSQL_TYPE_TIMESTAMP:
      return tarmac_sql_value_time(rows, v, len);
    case MYSQL_TYPE_DECIMAL: case MYSQL_TYPE_NEWDECIMAL:
      return tarmac_sql_value_text(rows, v, len);
    default:
      if (json_column(f)) return tarmac_sql_value_json(rows, v, len);
      if (f->charsetnr == 63) /* binary: BLOB, BINARY, VARBINARY, GEOMETRY */
        return tarmac_sql_value_bytes(rows, (const uint8_t *)v, len);
      return tarmac_sql_value_text(rows, v, len);
  }
}

static int begin_rows(MYSQL_RES *res, tarmac_sql_call_t *call,
                      tarmac_sql_rows_t *rows, tarmac_sql_result_t *result,
                      tarmac_sql_status_t *status) {
  unsigned n = mysql_num_fields(res);
  MYSQL_FIELD *fields = mysql_fetch_fields(res);
  if (tarmac_sql_rows_begin(rows, result, n, call->max_result_bytes, status))
    return status->code;
  for (unsigned i = 0; i < n; i++)
    if (tarmac_sql_rows_column(rows, i, fields[i].name) != 0)
      return status->code;
  return 0;
}

/* Reads the rows of res. 200, or the status code. */
static int read_rows(MYSQL *m, MYSQL_RES *res, tarmac_sql_call_t *call,
                     tarmac_sql_rows_t *rows, tarmac_sql_result_t *result,
                     tarmac_sql_status_t *status) {
  if (begin_rows(res, call, rows, result, status) != 0) return status->code;
  unsigned n = mysql_num_fields(res);
  MYSQL_FIELD *fields = mysql_fetch_fields(res);
  for (;;) {
    MYSQL_ROW row = NULL;
    RUN(m, call->until_ns, mysql_fetch_row_start(&row, res),
        mysql_fetch_row_cont(&row, res, ev), timeout);
    if (!row) break;
    unsigned long *lengths = mysql_fetch_lengths(res);
    if (tarmac_sql_rows_row_begin(rows) != 0) return status->code;
    for (unsigned i = 0; i < n; i++)
      if (put_value(&fields[i], row[i], lengths[i], rows) != 0)
        return status->code;
    if (tarmac_sql_rows_row_end(rows) != 0) return status->code;
  }
  if (mysql_errno(m)) return fail(m, call, status);
  return tarmac_sql_rows_end(rows) ? status->code : 200;
timeout:
  return timed_out(call, status);
}

/* Frees res, draining unread rows within the time left; a connection
 * whose rows could not be drained is closed by the pool. */
static void free_rows(MYSQL *m, MYSQL_RES *res, tarmac_sql_call_t *call) {
  if (!call->broken) {
    RUN(m, call->until_ns, mysql_free_result_start(res),
        mysql_free_result_cont(res, ev), timeout);
    return;
  }
timeout:
  call->broken = true;
  res->handle = NULL; /* free without reading the rest */
  mysql_free_result(res);
}

static int query(void *conn, tarmac_sql_call_t *call, tarmac_sql_rows_t *rows,
                 tarmac_sql_result_t *result, tarmac_sql_status_t *status) {
  MYSQL *m = conn;
  if (send_query(m, call, status) != 0) return status->code;
  MYSQL_RES *res = mysql_use_result(m);
  if (!res && mysql_errno(m)) return fail(m, call, status);
  if (!res) { /* a statement without rows */
    if (tarmac_sql_rows_begin(rows, result, 0, call->max_result_bytes, status))
      return status->code;
    return tarmac_sql_rows_end(rows) ? status->code : 200;
  }
  read_rows(m, res, call, rows, result, status);
  free_rows(m, res, call);
  return status->code;
}

static int exec(void *conn, tarmac_sql_call_t *call,
                tarmac_sql_exec_result_t *out, tarmac_sql_status_t *status) {
  MYSQL *m = conn;
  if (send_query(m, call, status) != 0) return status->code;
  MYSQL_RES *res = mysql_use_result(m);
  if (res) { /* rows nobody asked for: skip them */
    free_rows(m, res, call);
  } else if (mysql_errno(m)) {
    return fail(m, call, status);
  }
  my_ulonglong affected = mysql_affected_rows(m);
  out->rows_affected = affected == (my_ulonglong)-1 ? 0 : (int64_t)affected;
  out->last_insert_id = (int64_t)mysql_insert_id(m);
  return status->code;
}

/* KILL QUERY ends the session's statement and keeps the session (which
 * the pool closes anyway); the thread id is the server's for this
 * session. */
static int kill_statement(void *conn, char *out, size_t size) {
  int n = snprintf(out, size, "KILL QUERY %lu", mysql_thread_id(conn));
  return n > 0 && (size_t)n < size ? 0 : -1;
}

const tarmac_sql_backend_t tarmac_sql_mysql_backend = {
    .name = "mysql", .check_dsn = check_dsn, .connect = connect_db,
    .disconnect = disconnect, .alive = alive, .query = query, .exec = exec,
    .kill_statement = kill_statement,
};
