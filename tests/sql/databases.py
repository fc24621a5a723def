"""Real database servers for the SQL tests, from the Debian packages,
each in its own temporary folder on a free port, its socket in that
folder: PostgreSQL 15 (initdb + postgres, run as the `postgres` user
because they refuse root) and MariaDB (mariadb-install-db + mariadbd).
Both are context managers that stop the server even when a test fails;
start() waits until the server answers (no fixed sleeps).
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, seconds, what):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


class _Database:
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    stop_signal = signal.SIGTERM

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""


class Postgres(_Database):
    """A PostgreSQL cluster with database `tarmac`, user `postgres`, trust
    authentication on 127.0.0.1:port. Stopped with SIGINT: PostgreSQL's
    fast shutdown, which disconnects clients (SIGTERM waits for them)."""

    stop_signal = signal.SIGINT

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tarmac-pg-")
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.port = _free_port()
        self.proc = None
        self._as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data,
                           "-A", "trust", "-U", "postgres", "--no-sync",
                           "-E", "UTF8", "--locale=C"])

    def _as_postgres(self, argv, **kw):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + argv,
                              check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, cwd=self.dir, **kw)

    def dsn(self, url=False):
        if url:
            return "postgres://postgres@127.0.0.1:%d/tarmac?sslmode=disable" \
                % self.port
        return "host=127.0.0.1 port=%d dbname=tarmac user=postgres " \
               "sslmode=disable" % self.port

    def start(self, create=True):
        log = open(self.log_path, "ab")
        # postgres itself is the child (not runuser), so signals reach it
        self.proc = subprocess.Popen(
            [os.path.join(PG_BIN, "postgres"), "-D", self.data,
             "-p", str(self.port), "-k", self.dir,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "max_connections=100", "-c", "TimeZone=UTC",
             "-c", "lc_monetary=C"],
            stdout=log, stderr=log, cwd=self.dir, user="postgres",
            group="postgres", extra_groups=[])
        log.close()
        _wait(self._ready, 60, "PostgreSQL: " + self.log_text())
        if create and not self._exists:
            self.sql("CREATE DATABASE tarmac", db="postgres")
            self._exists = True

    _exists = False

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("postgres exited: " + self.log_text())
        rc = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q", "-h",
                             "127.0.0.1", "-p", str(self.port), "-U",
                             "postgres"]).returncode
        return rc == 0

    def sql(self, statement, db="tarmac"):
        """Runs statement with psql; its unaligned, tuples-only output."""
        out = subprocess.run(
            [os.path.join(PG_BIN, "psql"), "-h", "127.0.0.1", "-p",
             str(self.port), "-U", "postgres", "-d", db, "-v",
             "ON_ERROR_STOP=1", "-Atc", statement],
            check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return out.stdout.decode().strip()


class Mariadb(_Database):
    """A MariaDB server with database `tarmac`, user root without a
    password (run as root: --user=root), on 127.0.0.1:port."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tarmac-mariadb-")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "mariadb.log")
        self.socket = os.path.join(self.dir, "mariadb.sock")
        self.port = _free_port()
        self.proc = None
        subprocess.run(["mariadb-install-db", "--no-defaults",
                        "--datadir=" + self.data, "--user=root",
                        "--auth-root-authentication-method=normal",
                        "--skip-test-db"],
                       check=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)

    def dsn(self):
        return "root:@tcp(127.0.0.1:%d)/tarmac?parseTime=true" % self.port

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--datadir=" + self.data,
             "--user=root", "--port=%d" % self.port,
             "--bind-address=127.0.0.1", "--socket=" + self.socket,
             "--pid-file=" + os.path.join(self.dir, "mariadb.pid"),
             "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin",
             "--max-connections=200"],
            stdout=log, stderr=log)
        log.close()
        _wait(self._ready, 60, "MariaDB: " + self.log_text())
        self.sql("CREATE DATABASE IF NOT EXISTS tarmac", db=None)

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("mariadbd exited: " + self.log_text())
        return subprocess.run(["mariadb-admin", "--no-defaults", "-h",
                               "127.0.0.1", "-P", str(self.port), "-u",
                               "root", "ping"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0

    def sql(self, statement, db="tarmac"):
        argv = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P",
                str(self.port), "-u", "root", "-N", "-B", "-e", statement]
        if db:
            argv.append(db)
        out = subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        return out.stdout.decode().strip()
