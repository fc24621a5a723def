#!/usr/bin/env python3
"""End-to-end tests of the key-value store callbacks (tarmac/kvstore, issue
9): `tarmac serve` in single-function mode (APP_WASM_FUNCTION) running
tests/state/kv_guest.c, which calls get/set/delete/keys through the C SDK
helpers (protobuf) and with the exact payload bytes this script chooses:
the JSON of older SDKs and the protobuf of the current Go SDK.

usage: e2e_kvstore.py GROUP
  memory      every operation, both encodings, APP_KVSTORE_TYPE=in-memory;
              no kvstore routes when disabled; a bad type stops start-up
  internal    the same on LMDB (APP_KVSTORE_TYPE=internal); file mode 0600
  redis       the same on Redis (a redis-server started here, with a
              password and database 3: AUTH and SELECT from the settings)
  redis_down  stop Redis: calls fail fast with 500 and /ready is 503;
              start it again on the same port: calls succeed and /ready is
              200 again, without restarting tarmac
  persist     internal: write, kill -9 the server, restart, read back
  shared      two tarmac processes, one Redis: each sets its own keys
              concurrently; `keys` through either end counts them all
Environment: TARMAC_SERVE_BIN, STATE_GUEST_DIR (kv_guest.wasm),
TARMAC_CACHE_DIR, and what tests/http/e2e_test.py reads. redis-server must
be installed (Debian package redis-server): without it the redis groups
fail.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
sys.path.insert(0, os.path.join(HERE, "..", "services"))
GUEST = os.path.join(os.environ["STATE_GUEST_DIR"], "kv_guest.wasm")
# e2e_services reads its guest folder at import; ours is not used by it.
os.environ.setdefault("SERVICES_GUEST_DIR", os.environ["STATE_GUEST_DIR"])
from e2e_test import check, free_port, run_group, wait_until  # noqa: E402
from e2e_services import (ServiceServer, expect, request,  # noqa: E402
                           run_to_exit)

PASSWORD = "s3cret pass"
DATABASE = 3
OK_PROTO = b"\x0a\x07\x08\xc8\x01\x12\x02OK"  # status {code: 200, "OK"}
OK_JSON = b'{"status":{"code":200,"status":"OK"}}'


# ------------------------------------------------------------ redis

def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def redis_cmd(port, *commands):
    """Sends commands (lists of arguments) on one connection; the raw
    replies (enough for simple replies and small values)."""
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(b"".join(resp(*c) for c in commands))
        data = b""
        while data.count(b"\r\n") < len(commands):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


class Redis:
    """A redis-server of our own in a temporary folder."""

    def __init__(self, workdir, port=None):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian "
                               "package redis-server; scripts/install-deps.sh)")
        self.port = port or free_port()
        self.dir = os.path.join(workdir, "redis-%d" % self.port)
        os.makedirs(self.dir, exist_ok=True)
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--save", "", "--appendonly", "no",
             "--requirepass", PASSWORD, "--daemonize", "no"],
            stdout=self.log, stderr=self.log)
        if not wait_until(self.answers, 30):
            self.stop()
            raise RuntimeError("redis-server did not start on port %d"
                               % self.port)

    def answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError("redis-server exited (port %d)" % self.port)
        try:
            return redis_cmd(self.port, ["AUTH", PASSWORD],
                             ["PING"]).endswith(b"+PONG\r\n")
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def redis_env(port):
    return {"APP_ENABLE_KVSTORE": "true", "APP_KVSTORE_TYPE": "redis",
            "APP_REDIS_SERVER": "127.0.0.1:%d" % port,
            "APP_REDIS_PASSWORD": PASSWORD,
            "APP_REDIS_DATABASE": str(DATABASE),
            "APP_REDIS_CHECK_INTERVAL": "100ms"}


# ------------------------------------------------------------ helpers

def serve(workdir, env):
    full = {"APP_WASM_FUNCTION": GUEST}
    full.update(env)
    return ServiceServer(workdir, "", full)


def cmd(server, body, status=200, answer=None, contains=None, what=""):
    body = body if isinstance(body, bytes) else body.encode()
    return expect(server, "POST", "/", body, status, answer, contains,
                  what=what)[1]


def pb_string(field, data):
    data = data if isinstance(data, bytes) else data.encode()
    return bytes([field << 3 | 2, len(data)]) + data  # short fields only


def check_sdk(server, name):
    cmd(server, "sdk set k1 value one", 200, b"ok", what=name + " sdk set")
    cmd(server, "sdk get k1", 200, b"value one", what=name + " sdk get")
    cmd(server, "sdk set k2 two", 200, b"ok", what=name + " sdk set")
    cmd(server, "sdk keys", 200, b"k1\nk2\n", what=name + " sdk keys")
    cmd(server, "sdk delete k2", 200, b"ok", what=name + " sdk delete")
    cmd(server, "sdk delete k2", 500, contains='key "k2" not found',
        what=name + " sdk delete missing: 404")
    cmd(server, "sdk get k2", 500, contains='key "k2" not found',
        what=name + " sdk get missing: 404")
    cmd(server, "sdk set k3", 500, contains="data is missing",
        what=name + " sdk set without data: 400")
    cmd(server, "sdk delete k1", 200, b"ok", what=name + " sdk delete")


def check_json(server, name):
    """Exactly the bytes an older (JSON) SDK sends."""
    b64 = base64.b64encode(b"hello \x00\xff").decode()
    cmd(server, 'raw set {"key":"j1","data":"%s"}' % b64, 200, OK_JSON,
        what=name + " JSON set")
    cmd(server, 'raw get {"key":"j1"}', 200,
        b'{"status":{"code":200,"status":"OK"},"data":"%s"}' % b64.encode(),
        what=name + " JSON get")
    got = cmd(server, "raw keys ", 200, what=name + " JSON keys")
    try:
        reply = json.loads(got)
        check(reply.get("keys") == ["j1"] and reply["status"]["code"] == 200,
              "%s JSON keys: %r" % (name, got))
    except ValueError:
        check(False, "%s JSON keys is JSON: %r" % (name, got))
    cmd(server, 'raw get {"key":""}', 500, contains="key is empty",
        what=name + " JSON empty key: 400")
    cmd(server, 'raw set {"key":"j2"}', 500, contains="data is missing",
        what=name + " JSON missing data: 400")
    cmd(server, 'raw get {"key":"nope"}', 500, contains='key "nope" not found',
        what=name + " JSON missing key: 404")
    cmd(server, 'raw get {"key":', 500, contains="neither",
        what=name + " JSON garbage: 400")
    cmd(server, 'raw delete {"key":"j1"}', 200, OK_JSON,
        what=name + " JSON delete")


def check_protobuf(server, name):
    """Exactly the bytes the current Go SDK sends (proto.Marshal)."""
    cmd(server, b"raw set " + pb_string(1, "p1") + pb_string(2, "abc"), 200,
        OK_PROTO, what=name + " protobuf set")
    cmd(server, b"raw get " + pb_string(1, "p1"), 200,
        OK_PROTO + pb_string(2, "abc"), what=name + " protobuf get")
    cmd(server, b"raw keys \x08\x01", 200, OK_PROTO + pb_string(2, "p1"),
        what=name + " protobuf keys (return_proto)")
    cmd(server, b"raw get " + pb_string(1, "zz"), 500,
        contains='key "zz" not found', what=name + " protobuf 404")
    cmd(server, b"raw delete " + pb_string(1, "p1"), 200, OK_PROTO,
        what=name + " protobuf delete")


def check_all(server, name):
    check_sdk(server, name)
    check_json(server, name)
    check_protobuf(server, name)
    cmd(server, "sdk keys", 200, b"", what=name + " empty at the end")


# ------------------------------------------------------------ groups

def test_memory(workdir):
    with serve(workdir, {"APP_ENABLE_KVSTORE": "true",
                         "APP_KVSTORE_TYPE": "in-memory"}) as server:
        check_all(server, "in-memory")
    with serve(workdir, {}) as server:
        cmd(server, "sdk get a", 500, contains='no host callback for binding '
            '"tarmac", namespace "kvstore"', what="APP_ENABLE_KVSTORE off")
    code, out, _, _ = run_to_exit("", {"APP_WASM_FUNCTION": GUEST,
                                       "APP_ENABLE_KVSTORE": "true",
                                       "APP_KVSTORE_TYPE": "nope"})
    check(code == 1 and "APP_KVSTORE_TYPE=nope is not a key-value store type"
          in out, "a bad APP_KVSTORE_TYPE stops start-up (%s %r)"
          % (code, out))


def test_internal(workdir):
    path = os.path.join(workdir, "store.lmdb")
    with serve(workdir, {"APP_ENABLE_KVSTORE": "true",
                         "APP_KVSTORE_TYPE": "internal",
                         "APP_KVSTORE_PATH": path}) as server:
        check_all(server, "internal")
    check(os.stat(path).st_mode & 0o777 == 0o600,
          "the internal store's file is 0600 (%o)" % os.stat(path).st_mode)


def test_redis(workdir):
    with Redis(workdir) as redis, serve(workdir,
                                        redis_env(redis.port)) as server:
        check_all(server, "redis")
        cmd(server, "sdk set where db3", 200, b"ok", what="redis set")
        got = redis_cmd(redis.port, ["AUTH", PASSWORD], ["SELECT", DATABASE],
                        ["GET", "where"])
        check(got.endswith(b"$3\r\ndb3\r\n"),
              "the key is in database %d (%r)" % (DATABASE, got))


def ready_status(server):
    return request(server, "GET", "/ready")[0]


def test_redis_down(workdir):
    redis = Redis(workdir)
    port = redis.port
    with serve(workdir, redis_env(port)) as server:
        check(ready_status(server) == 200, "/ready 200 with Redis up")
        cmd(server, "sdk set a 1", 200, b"ok", what="redis up")
        redis.stop()
        t0 = time.time()
        cmd(server, "sdk get a", 500, contains="key-value store",
            what="redis down: 500")
        check(time.time() - t0 < 5, "redis down: the 500 comes quickly "
              "(%.1fs)" % (time.time() - t0))
        check(wait_until(lambda: ready_status(server) == 503, 10),
              "/ready is 503 while Redis is down")
        redis = Redis(workdir, port)
        try:
            check(wait_until(lambda: ready_status(server) == 200, 10),
                  "/ready is 200 again once Redis is back")
            cmd(server, "sdk set a 2", 200, b"ok", what="redis back: set")
            cmd(server, "sdk get a", 200, b"2", what="redis back: get")
        finally:
            redis.stop()


def test_persist(workdir):
    env = {"APP_ENABLE_KVSTORE": "true", "APP_KVSTORE_TYPE": "internal",
           "APP_KVSTORE_PATH": os.path.join(workdir, "store.lmdb")}
    server = serve(workdir, env)
    try:
        for i in range(20):
            cmd(server, "sdk set key%d value%d" % (i, i), 200, b"ok",
                what="persist: set")
    finally:
        server.proc.kill()  # SIGKILL: no shutdown code runs
        server.proc.wait()
        server.log.close()
    with serve(workdir, env) as server:
        for i in range(20):
            cmd(server, "sdk get key%d" % i, 200, b"value%d" % i,
                what="persist: read back after kill -9")


def set_many(server, prefix, count, errors):
    for i in range(count):
        status, _, body, _ = request(server, "POST", "/",
                                     b"sdk set %s-%d x" % (prefix, i))
        if status != 200:
            errors.append((prefix, i, status, body[:100]))


def test_shared(workdir):
    """The contract has no atomic increment (get + set from two processes
    can lose updates), so the shared counter here is the number of keys:
    each process sets its own keys, and every set is exact."""
    count = 100
    with Redis(workdir) as redis, \
            serve(workdir, redis_env(redis.port)) as a, \
            serve(workdir, redis_env(redis.port)) as b:
        errors = []
        threads = [threading.Thread(target=set_many,
                                    args=(srv, prefix, count, errors))
                   for srv, prefix in ((a, b"a"), (b, b"b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, "every set succeeded: %r" % errors[:3])
        for name, srv in (("first", a), ("second", b)):
            got = cmd(srv, "sdk keys", 200, what="shared keys")
            check(len(got.split()) == 2 * count,
                  "the %s process sees all %d keys (%d)"
                  % (name, 2 * count, len(got.split())))
        cmd(b, "sdk get a-7", 200, b"x", what="one process reads the other's")


GROUPS = {"memory": test_memory, "internal": test_internal,
          "redis": test_redis, "redis_down": test_redis_down,
          "persist": test_persist, "shared": test_shared}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
