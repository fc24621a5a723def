#!/usr/bin/env python3
"""End-to-end tests of the SQL callbacks (tarmac/sql/query and exec)
against real database servers this script starts (tests/sql/databases.py):
`tarmac serve` runs tests/sql/sql_guest.c (v0.4 contract: the body is
"query <sql>", "exec <sql>" or "raw <op> <payload>"), which calls the host
through the C SDK (protobuf, as the current Go SDK) or with the exact JSON
payload of older SDKs.

usage: e2e_sql.py GROUP
  postgres   both encodings, every row of the PostgreSQL type table, SQL
             errors, 206 from exec, 1 MiB values, the database stopped
             (500) and restarted (recovery without restarting tarmac), 8
             concurrent HTTP clients with the final state checked
  mysql      the same against MariaDB (Go's DSN form)
  processes  two tarmac processes on different ports, one PostgreSQL: a
             counter incremented through both ends exact
  sqlite     tarmac serve with a sqlite file and the JSON form
  ready      /ready follows PostgreSQL: 200, 503 ("sql database
             unreachable") within the check interval once it stops, 200
             again once it is back
  kill_postgres, kill_mysql
             a statement cut by a 1 s APP_SQL_QUERY_TIMEOUT fails the call
             at the timeout and is gone from the server's process list
             within seconds (stopped from another session)
Environment: TARMAC_SERVE_BIN, SQL_GUEST (sql_guest.wasm), TARMAC_CACHE_DIR.
"""
import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
sys.path.insert(0, HERE)
from e2e_test import FAILURES, Server, check, free_port, run_group  # noqa
import databases  # noqa: E402

SERVE_BIN = os.environ["TARMAC_SERVE_BIN"]
GUEST = os.environ["SQL_GUEST"]


class SqlServer(Server):
    """tarmac serve of the SQL guest over plain HTTP with the SQL
    settings."""

    def __init__(self, workdir, sql_type, dsn, extra=None):
        self.port = free_port()
        self.tls = False
        self.scheme = "http"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("APP_")}
        self.env.update({"APP_LISTEN_ADDR": "127.0.0.1:%d" % self.port,
                         "APP_ENABLE_TLS": "false",
                         "APP_WASM_FUNCTION": GUEST,
                         "APP_ENABLE_SQL": "true", "APP_SQL_TYPE": sql_type,
                         "APP_SQL_DSN": dsn, "APP_SQL_POOL_SIZE": "4",
                         "APP_SQL_CONNECT_TIMEOUT": "3s"})
        self.env.update(extra or {})
        self.log_path = os.path.join(workdir, "server-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([SERVE_BIN, "serve"], env=self.env,
                                     stdout=self.log, stderr=self.log)
        self.wait_ready()


def post(server, body, conn=None):
    """(status, body bytes) of POST / with body."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server.port,
                                              timeout=60)
    try:
        conn.request("POST", "/", body=body)
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        if own:
            conn.close()


def query(server, sql, conn=None):
    return post(server, b"query " + sql.encode(), conn)


def execute(server, sql, conn=None):
    return post(server, b"exec " + sql.encode(), conn)


def raw_json(server, op, sql):
    """The exact bytes an older SDK sends: {"query":"<base64>"}."""
    payload = b'{"query":"' + base64.b64encode(sql.encode()) + b'"}'
    return post(server, b"raw " + op.encode() + b" " + payload)


def expect(got, status, body, what):
    check(got == (status, body), "%s: want %r, got %r" % (what, (status, body),
                                                           got))


def expect_in(got, status, words, what):
    ok = got[0] == status and all(w.encode() in got[1] for w in words)
    check(ok, "%s: want %s with %r, got %r" % (what, status, words, got))


def rows(got, what):
    check(got[0] == 200, "%s: status %r body %r" % (what, got[0], got[1]))
    try:
        return json.loads(got[1])
    except ValueError:
        check(False, "%s: not JSON: %r" % (what, got[1][:200]))
        return None


def exec_ok(kind, got):
    """exec succeeded (PostgreSQL's 206 included: the SDK helper takes it
    as success with the rows affected)."""
    return got[0] == 200 and got[1].startswith(b"id=")


def pb_query(sql):
    data = sql.encode()
    return b"\x0a" + bytes([len(data)]) + data  # short queries only


def pb_reply(columns, data):
    out = b"\x0a\x07\x08\xc8\x01\x12\x02OK"
    for c in columns:
        out += b"\x22" + bytes([len(c)]) + c.encode()
    return out + b"\x2a" + bytes([len(data)]) + data


def test_encodings(server, kind):
    ddl = {"postgres": "CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT, "
                       "data TEXT)",
           "mysql": "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, "
                    "name TEXT, data LONGTEXT)"}[kind]
    check(exec_ok(kind, execute(server, ddl)), "create table")
    got = execute(server, "INSERT INTO items (name) VALUES ('a'), ('b')")
    if kind == "postgres":  # 206: no id, the rows affected from the text
        expect(got, 200, b"id=0 rows=2", "exec through the SDK (206)")
    else:
        expect(got, 200, b"id=1 rows=2", "exec through the SDK")
    expect(query(server, "SELECT id, name FROM items ORDER BY id"), 200,
           b'[{"id":1,"name":"a"},{"id":2,"name":"b"}]', "query (protobuf)")
    rows_json = b'[{"id":2,"name":"b"}]'
    expect(raw_json(server, "query", "SELECT id, name FROM items WHERE id = 2"),
           200, b'ok:{"status":{"code":200,"status":"OK"},'
           b'"columns":["id","name"],"data":"' +
           base64.b64encode(rows_json) + b'"}', "query (exact JSON)")
    got = post(server, b"raw query " +
               pb_query("SELECT id, name FROM items WHERE id = 2"))
    expect(got, 200, b"ok:" + pb_reply(["id", "name"], rows_json),
           "query (exact protobuf)")
    got = raw_json(server, "exec", "UPDATE items SET name = 'c' WHERE id = 2")
    if kind == "postgres":
        expect(got, 200, b"error:PostgreSQL cannot report the last insert id "
               b"(rows affected: 1)", "exec (exact JSON, 206)")
    else:
        expect(got, 200, b'ok:{"status":{"code":200,"status":"OK"},'
               b'"last_insert_id":0,"rows_affected":1}', "exec (exact JSON)")
    expect(raw_json(server, "exec", ""), 200, b"error:query is empty",
           "empty query")
    expect_in(post(server, b'raw query {"query":"***"}'), 200,
              ["error:", "base64"], "bad base64")


def test_errors(server, kind):
    expect_in(query(server, "SELEC 1"), 500, ["syntax"], "syntax error")
    missing = {"postgres": 'relation "missing" does not exist',
               "mysql": "Table 'tarmac.missing' doesn't exist"}[kind]
    expect_in(query(server, "SELECT * FROM missing"), 500, [missing],
              "missing table")
    expect_in(execute(server, "INSERT INTO items (id) VALUES (1)"), 500,
              ["uplicate"], "constraint")
    if kind == "mysql":  # the client must not send the server's files
        got = execute(server, "LOAD DATA LOCAL INFILE '/etc/hostname' INTO "
                      "TABLE items (name)")
        check(got[0] == 500 and b"mysql:" in got[1],
              "LOAD DATA LOCAL refused: %r" % (got,))
    if kind == "postgres":  # COPY has no way through: refused, not hung
        expect_in(execute(server, "COPY items FROM STDIN"), 500,
                  ["COPY FROM STDIN / TO STDOUT is not supported"], "COPY in")
        expect_in(query(server, "COPY items TO STDOUT"), 500,
                  ["not supported"], "COPY out")
        expect(query(server, "SELECT 1 AS one"), 200, b'[{"one":1}]',
               "pool answers after COPY")


def test_big_value(server, kind):
    value = "x" * (1 << 20)
    got = execute(server, "INSERT INTO items (name, data) VALUES ('big', '%s')"
                  % value)
    check(exec_ok(kind, got), "1 MiB insert: %r" % (got[1][:200],))
    got = rows(query(server, "SELECT data FROM items WHERE name = 'big'"),
               "1 MiB read")
    check(got == [{"data": value}], "1 MiB value comes back whole")


def parallel_queries(server, count, sql):
    """count queries at once (so the pool opens count connections)."""
    results = [None] * count

    def run(i):
        results[i] = query(server, sql)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def test_restart(server, db, kind):
    sleep = {"postgres": "SELECT pg_sleep(0.2) AS s",
             "mysql": "SELECT SLEEP(0.2) AS s"}[kind]
    parallel_queries(server, 4, sleep)  # four pooled connections
    db.stop()
    for _ in range(2):  # every call tries again, and says why it failed
        expect_in(query(server, "SELECT 1 AS one"), 500,
                  [{"postgres": "postgres:", "mysql": "mysql:"}[kind]],
                  "database down")
    db.start()
    # the pooled connections the restart dropped are noticed, not failed on
    got = parallel_queries(server, 4, "SELECT 1 AS one")
    check(got == [(200, b'[{"one":1}]')] * 4,
          "recovered after the database restarted: %r" % (got,))


def test_concurrency(server, kind, threads=8, ops=100):
    check(exec_ok(kind, execute(server, "CREATE TABLE c (n INT)")), "c")
    check(exec_ok(kind, execute(server, "INSERT INTO c VALUES (0)")), "c 0")
    check(exec_ok(kind, execute(server, "CREATE TABLE log (w INT, i INT)")),
          "log")
    failures = []

    def worker(w):
        conn = http.client.HTTPConnection("127.0.0.1", server.port,
                                          timeout=60)
        for i in range(ops):
            if i % 3 == 0:
                got = execute(server, "UPDATE c SET n = n + 1", conn)
                ok = exec_ok(kind, got)
            elif i % 3 == 1:
                got = execute(server, "INSERT INTO log VALUES (%d, %d)" %
                              (w, i), conn)
                ok = exec_ok(kind, got)
            else:
                got = query(server, "SELECT n FROM c", conn)
                ok = got[0] == 200
            if not ok:
                failures.append(got)
        conn.close()

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not failures, "concurrent operations all succeed: %r" %
          failures[:3])
    incs = threads * len(range(0, ops, 3))
    logs = threads * len(range(1, ops, 3))
    expect(query(server, "SELECT n, (SELECT count(*) FROM log) AS logged "
                 "FROM c"), 200,
           ('[{"n":%d,"logged":%d}]' % (incs, logs)).encode(),
           "final state after concurrent clients")


# Every row of the PostgreSQL type table in docs/callbacks.md: one column
# per row, in the order of the table.
PG_TYPES = (
    "SELECT 1::int2 AS int2, 2::int4 AS int4, 9223372036854775807::int8 AS "
    "int8, 1.5::float4 AS float4, 0.1::float8 AS float8, 'NaN'::float8 AS "
    "nan, '-Infinity'::float8 AS ninf, "
    "12345678901234567890.123456789::numeric AS numeric, true AS bool_t, "
    "false AS bool_f, 'h\u00e9 \"q\"'::text AS text, 'ab'::varchar(5) AS "
    "varchar, 'a'::char(3) AS char, '\\x00ff10'::bytea AS bytea, "
    "'2024-01-02'::date AS date, '03:04:05.25'::time AS time, "
    "'03:04:05+02'::timetz AS timetz, '2024-01-02 03:04:05.5'::timestamp AS "
    "timestamp, '2024-01-02 03:04:05+00'::timestamptz AS timestamptz, "
    "'1 day 2 hours'::interval AS interval, '{\"a\": [1, 2]}'::json AS json, "
    "'{\"b\": 1}'::jsonb AS jsonb, "
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid, ARRAY[1, 2] AS "
    "array, 1234.5::money AS money, NULL::int AS null")
PG_ROWS = (
    '[{"int2":1,"int4":2,"int8":9223372036854775807,"float4":1.5,'
    '"float8":0.1,"nan":"NaN","ninf":"-Infinity",'
    '"numeric":"12345678901234567890.123456789","bool_t":true,'
    '"bool_f":false,"text":"h\u00e9 \\"q\\"","varchar":"ab","char":"a  ",'
    '"bytea":"AP8Q","date":"2024-01-02","time":"03:04:05.25",'
    '"timetz":"03:04:05+02","timestamp":"2024-01-02T03:04:05.5",'
    '"timestamptz":"2024-01-02T03:04:05+00","interval":"P1DT2H",'
    '"json":{"a": [1, 2]},"jsonb":{"b": 1},'
    '"uuid":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","array":"{1,2}",'
    '"money":"$1,234.50","null":null}]')

# Every row of the MariaDB type table: a table of each column type.
MYSQL_TABLE = (
    "CREATE TABLE types (ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT, "
    "bi BIGINT, ubi BIGINT UNSIGNED, f FLOAT, d DOUBLE, dc DECIMAL(30,10), "
    "bo BOOL, bt BIT(8), y YEAR, dt DATE, tm TIME, dtm DATETIME(3), "
    "ts TIMESTAMP NULL, ch CHAR(3), vc VARCHAR(10), tx TEXT, bn BINARY(2), "
    "vb VARBINARY(4), bl BLOB, j JSON, e ENUM('x','y'), st SET('p','q'), "
    "n INT NULL)")
MYSQL_INSERT = (
    "INSERT INTO types VALUES (-1, 2, 3, 4, 9223372036854775807, "
    "18446744073709551615, 1.5, 0.1, 12345678901234567890.0123456789, TRUE, "
    "b'101', 2024, '2024-01-02', '03:04:05', '2024-01-02 03:04:05.250', "
    "'2024-01-02 03:04:05', 'a', 'ab', 'h\u00e9 \"q\"', x'00ff', x'10', "
    "x'0001', '{\"a\": [1, 2]}', 'y', 'p,q', NULL)")
MYSQL_ROWS = (
    '[{"ti":-1,"si":2,"mi":3,"i":4,"bi":9223372036854775807,'
    '"ubi":18446744073709551615,"f":1.5,"d":0.1,'
    '"dc":"12345678901234567890.0123456789","bo":1,"bt":5,"y":2024,'
    '"dt":"2024-01-02","tm":"03:04:05","dtm":"2024-01-02T03:04:05.250",'
    '"ts":"2024-01-02T03:04:05","ch":"a","vc":"ab","tx":"h\u00e9 \\"q\\"",'
    '"bn":"AP8=","vb":"EA==","bl":"AAE=","j":{"a": [1, 2]},"e":"y",'
    '"st":"p,q","n":null}]')


def test_types(server, kind):
    if kind == "postgres":
        got = query(server, PG_TYPES)
        want = PG_ROWS
    else:
        check(exec_ok(kind, execute(server, MYSQL_TABLE)), "types table")
        check(exec_ok(kind, execute(server, MYSQL_INSERT)), "types row")
        got = query(server, "SELECT * FROM types")
        want = MYSQL_ROWS
    if got != (200, want.encode()):
        print("types got:  %s\ntypes want: %s" % (got[1].decode(), want))
    expect(got, 200, want.encode(), "type mapping")


def test_timeouts(workdir, db, kind):
    """A statement past APP_SQL_QUERY_TIMEOUT answers 504 (the guest fails:
    HTTP 500 with the text) in about that time; one past the guest's
    deadline (APP_WASM_TIMEOUT) ends at the deadline; then the pool
    answers again."""
    sleep = {"postgres": "SELECT pg_sleep(20) AS s",
             "mysql": "SELECT SLEEP(20) AS s"}[kind]
    sql_type = "postgres" if kind == "postgres" else "mysql"
    env = {"APP_SQL_QUERY_TIMEOUT": "500ms", "APP_SQL_POOL_SIZE": "1"}
    with SqlServer(workdir, sql_type, db.dsn(), env) as server:
        t0 = time.time()
        expect_in(query(server, sleep), 500, ["stopped at the deadline"],
                  "query timeout")
        check(time.time() - t0 < 5, "query timeout took %.1fs" %
              (time.time() - t0))
        expect(query(server, "SELECT 1 AS one"), 200, b'[{"one":1}]',
               "pool answers after a timeout")
    env = {"APP_WASM_TIMEOUT": "1s", "APP_SQL_POOL_SIZE": "1"}
    with SqlServer(workdir, sql_type, db.dsn(), env) as server:
        t0 = time.time()
        got = query(server, sleep)
        check(got[0] != 200 and time.time() - t0 < 5,
              "guest deadline bounds the statement: %r after %.1fs" %
              (got, time.time() - t0))
        expect(query(server, "SELECT 1 AS one"), 200, b'[{"one":1}]',
               "pool answers after a deadline")


def backend_group(kind):
    def run(workdir):
        db = databases.Postgres() if kind == "postgres" else \
            databases.Mariadb()
        with db:
            sql_type = "postgres" if kind == "postgres" else "mysql"
            with SqlServer(workdir, sql_type, db.dsn()) as server:
                test_encodings(server, kind)
                test_types(server, kind)
                test_errors(server, kind)
                test_big_value(server, kind)
                test_restart(server, db, kind)
                test_concurrency(server, kind,
                                 ops=1000 if kind == "postgres" else 100)
            test_timeouts(workdir, db, kind)
    return run


def test_processes(workdir):
    with databases.Postgres() as db:
        db.sql("CREATE TABLE c (n INT); INSERT INTO c VALUES (0)")
        with SqlServer(workdir, "postgres", db.dsn(url=True)) as a, \
                SqlServer(workdir, "postgres", db.dsn()) as b:
            failures = []

            def worker(server):
                conn = http.client.HTTPConnection("127.0.0.1", server.port,
                                                  timeout=60)
                for _ in range(50):
                    got = execute(server, "UPDATE c SET n = n + 1", conn)
                    if not exec_ok("postgres", got):
                        failures.append(got)
                conn.close()

            ts = [threading.Thread(target=worker, args=(s,))
                  for s in (a, b) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            check(not failures, "increments succeed: %r" % failures[:3])
            check(db.sql("SELECT n FROM c") == "400",
                  "counter through two processes is exact: %s" %
                  db.sql("SELECT n FROM c"))
            expect(query(b, "SELECT n FROM c"), 200, b'[{"n":400}]',
                   "both processes see it")


def test_sqlite(workdir):
    path = os.path.join(workdir, "db.sqlite")
    with SqlServer(workdir, "sqlite", path) as server:
        expect(raw_json(server, "exec", "CREATE TABLE t (v TEXT)"), 200,
               b'ok:{"status":{"code":200,"status":"OK"},'
               b'"last_insert_id":0,"rows_affected":0}', "create (JSON)")
        expect(execute(server, "INSERT INTO t VALUES ('a')"), 200,
               b"id=1 rows=1", "insert (SDK)")
        expect(query(server, "SELECT v FROM t"), 200, b'[{"v":"a"}]',
               "query (SDK)")
    check(os.path.getsize(path) > 0, "the sqlite file was written")


def get_ready(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/ready")
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def wait_ready_status(server, status, seconds, what):
    """Polls /ready (bounded) until it answers status; its last answer."""
    deadline = time.time() + seconds
    got = get_ready(server)
    while got[0] != status and time.time() < deadline:
        time.sleep(0.05)
        got = get_ready(server)
    check(got[0] == status, "%s: /ready %r" % (what, got))
    return got


def test_ready(workdir):
    with databases.Postgres() as db:
        env = {"APP_SQL_CHECK_INTERVAL": "300ms",
               "APP_SQL_CONNECT_TIMEOUT": "1s"}
        with SqlServer(workdir, "postgres", db.dsn(), env) as server:
            wait_ready_status(server, 200, 10, "database up")
            db.stop()
            t0 = time.time()
            got = wait_ready_status(server, 503, 5, "database stopped")
            check(b"sql database unreachable" in got[1],
                  "/ready names the database: %r" % (got,))
            # the interval plus one probe's connect, with slack for a
            # loaded machine
            check(time.time() - t0 < 3, "503 within the interval: %.1fs" %
                  (time.time() - t0))
            db.start()
            wait_ready_status(server, 200, 10, "database back")
            expect(query(server, "SELECT 1 AS one"), 200, b'[{"one":1}]',
                   "calls work again")


KILL_CASES = {
    "postgres": ("SELECT pg_sleep(30) AS s",
                 "SELECT count(*) FROM pg_stat_activity "
                 "WHERE query LIKE 'SELECT pg_sleep(30)%'"),
    "mysql": ("SELECT SLEEP(30) AS s",
              "SELECT count(*) FROM information_schema.processlist "
              "WHERE info LIKE 'SELECT SLEEP(30)%'"),
}


def kill_group(kind):
    """A statement past the query timeout is stopped on the server."""
    def run(workdir):
        sleep, running = KILL_CASES[kind]
        db = databases.Postgres() if kind == "postgres" else \
            databases.Mariadb()
        with db:
            env = {"APP_SQL_QUERY_TIMEOUT": "1s", "APP_SQL_POOL_SIZE": "1"}
            with SqlServer(workdir, kind, db.dsn(), env) as server:
                # the reachability probe (SELECT 1) works on this backend
                wait_ready_status(server, 200, 10, "database up")
                t0 = time.time()
                got = query(server, sleep)
                took = time.time() - t0
                expect_in(got, 500, ["stopped at the deadline"],
                          "statement past the timeout")
                check(0.9 < took < 3, "the call failed at the timeout: "
                      "%.1fs" % took)
                deadline = time.time() + 5
                left = db.sql(running)
                while left != "0" and time.time() < deadline:
                    time.sleep(0.1)
                    left = db.sql(running)
                check(left == "0", "the statement is gone from the server "
                      "within 5 s (%s still running)" % left)
                expect(query(server, "SELECT 1 AS one"), 200, b'[{"one":1}]',
                       "the pool answers after the kill")
    return run


GROUPS = {"postgres": backend_group("postgres"),
          "mysql": backend_group("mysql"),
          "processes": test_processes, "sqlite": test_sqlite,
          "ready": test_ready, "kill_postgres": kill_group("postgres"),
          "kill_mysql": kill_group("mysql")}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
