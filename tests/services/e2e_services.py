#!/usr/bin/env python3
"""End-to-end tests of services (issue 8): `tarmac` serving a service file
(APP_WASM_FUNCTION_CONFIG) of the C test guests in tests/services, over
plain HTTP on a free port. Each group writes its service file (a template
from this folder) into a temporary folder next to symbolic links to the
guests, so module paths are relative to the service file's folder.

usage: e2e_services.py GROUP
  routes     method + path routing, 404, 405 with Allow, path parameters
             reaching envelope guests (seed, v0.1), the `default` function
  contracts  a function per contract generation (seed, v0.1, v0.2, v0.3,
             v0.4, and v0.4 by default)
  init       init functions: success, success after retries, failure that
             stops start-up with the function's last error
  job        APP_RUN_MODE=job: exits 0 after the init functions without
             listening; non-zero when one fails
  schedule   scheduled tasks seen in the log, never overlapping, failures
             logged, SIGTERM stops promptly
  calls      function-to-function calls: results, callee errors, a chain
             deeper than APP_WASM_CALL_DEPTH_LIMIT, a cycle with pools of
             one, a spinning callee bounded by its caller's deadline
  invalid    every case of invalid.json fails start-up with its message
  pool       pool_size 1 + pool_wait 200ms: a second request while one
             runs gets 503 with a body; max_concurrency 1 refuses a second
             call with 503 naming it
  metrics    GET /metrics after traffic: guest and server metrics,
             `promtool check metrics` passes
  single     single-function mode: APP_WASM_FUNCTION (v0.4),
             APP_WASM_CONTRACT, the default module path
  example_state  the README's state example on LMDB and SQLite
  example    the README's two-function service (examples/service) as
             built, its file used in place: POST /greet, greetings_total
Environment: TARMAC_SERVE_BIN, SERVICES_GUEST_DIR (the built guests),
TARMAC_CACHE_DIR, PROMTOOL (optional; else promtool on PATH), and what
tests/http/e2e_test.py reads (HTTP_GUEST, HELLO_WASM).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
from e2e_test import (FAILURES, Server, check, free_port,  # noqa: E402
                      https_client, run_group, wait_for_log, wait_until)

SERVE_BIN = os.environ["TARMAC_SERVE_BIN"]
GUEST_DIR = os.environ["SERVICES_GUEST_DIR"]
GUESTS = ["seed_guest", "v01_guest", "v02_guest", "v04_guest",
          "service_guest", "init_ok_guest", "init_flaky_guest",
          "init_fail_guest", "tick_guest", "spin_guest"]


# ------------------------------------------------------------ helpers

def load_template(name):
    with open(os.path.join(HERE, name)) as f:
        return json.load(f)


def write_service_file(workdir, config, name="tarmac.json", raw=None):
    """Writes config (a dict, or raw text) as workdir/name next to links to
    the guests and a not-WebAssembly file; returns its path."""
    for guest in GUESTS:
        link = os.path.join(workdir, guest + ".wasm")
        if not os.path.lexists(link):
            os.symlink(os.path.join(GUEST_DIR, guest + ".wasm"), link)
    with open(os.path.join(workdir, "not_wasm.wasm"), "w") as f:
        f.write("this is not WebAssembly\n")
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(raw if raw is not None else json.dumps(config, indent=1))
    return path


def server_env(port, service_file, extra=None):
    """This process's environment without its APP_ settings, plus plain
    HTTP on 127.0.0.1:port, the service file and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.update({"APP_LISTEN_ADDR": "127.0.0.1:%d" % port,
                "APP_ENABLE_TLS": "false",
                "APP_WASM_FUNCTION_CONFIG": service_file})
    env.update(extra or {})
    return env


class ServiceServer(Server):
    """e2e_test.Server without APP_WASM_MODULE: the service file says what
    to serve. Plain HTTP."""

    def __init__(self, workdir, service_file, env=None):
        self.port = free_port()
        self.tls = False
        self.scheme = "http"
        self.env = server_env(self.port, service_file, env)
        self.log_path = os.path.join(workdir, "server-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([SERVE_BIN, "serve"], env=self.env,
                                     stdout=self.log, stderr=self.log)
        self.wait_ready()


def run_to_exit(service_file, env=None, seconds=90):
    """Runs the server expecting it to exit by itself: (exit code or None
    when it had to be killed, output, seconds, port)."""
    port = free_port()
    full = server_env(port, service_file, env)
    t0 = time.time()
    try:
        out = subprocess.run([SERVE_BIN, "serve"], env=full, timeout=seconds,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        code, text = out.returncode, out.stdout
    except subprocess.TimeoutExpired as e:
        code, text = None, e.stdout or b""
    return code, text.decode("utf-8", "replace"), time.time() - t0, port


def request(server, method, path, body=None, timeout=60):
    """(status, headers with lower-case names, body, seconds); status None
    with the error as body when the connection failed."""
    conn = https_client(server.port, tls=False)
    conn.timeout = timeout
    t0 = time.time()
    try:
        conn.request(method, path, body=body)
        res = conn.getresponse()
        data = res.read()
        headers = {k.lower(): v for k, v in res.getheaders()}
        return res.status, headers, data, time.time() - t0
    except OSError as e:
        return None, {}, repr(e).encode(), time.time() - t0
    finally:
        conn.close()


def start_post(server, path, body):
    """POST on its own connection in a thread: (thread, result dict with
    status, body, elapsed)."""
    result = {}

    def run():
        status, _, data, seconds = request(server, "POST", path, body)
        result.update(status=status, body=data, elapsed=seconds)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def expect(server, method, path, body, status, answer=None, contains=None,
           what=""):
    got_status, headers, got, _ = request(server, method, path, body)
    check(got_status == status, "%s %s %s: status %s, want %s (%r)"
          % (what, method, path, got_status, status, got[:200]))
    if answer is not None:
        check(got == answer, "%s %s %s answers %r (got %r)"
              % (what, method, path, answer, got[:200]))
    if contains is not None:
        check(contains.encode() in got, "%s %s %s: body holds %r (got %r)"
              % (what, method, path, contains, got[:200]))
    return headers, got


# ------------------------------------------------------------ groups

def test_routes(workdir):
    config = load_template("routes.json")
    path = write_service_file(workdir, config)
    with ServiceServer(workdir, path) as server:
        expect(server, "POST", "/items", b"a", 200, b"v04:a", what="routes")
        expect(server, "PUT", "/items", b"b", 200, b"v04:b", what="routes")
        expect(server, "GET", "/items", None, 200, b"v02:GET:", what="routes")
        headers, _ = expect(server, "DELETE", "/items", None, 405,
                            what="routes")
        allow = {m.strip() for m in headers.get("allow", "").split(",")}
        check({"GET", "POST", "PUT"} <= allow,
              "405 carries Allow with GET, POST, PUT (got %r)"
              % headers.get("allow"))
        expect(server, "GET", "/nowhere", None, 404, what="routes")
        expect(server, "GET", "/items/extra", None, 404, what="routes")
        # path parameters reach envelope guests (the guest answers them)
        headers, got = expect(server, "GET", "/users/42", None, 200,
                              what="params seed")
        check(parse_json(got) == {"id": "42"},
              "seed guest sees params {\"id\": \"42\"} (got %r)" % got)
        check(headers.get("x-contract") == "seed", "seed answered /users/42")
        headers, got = expect(server, "GET", "/things/book/7", None, 201,
                              what="params v0.1")
        check(parse_json(got) == {"kind": "book", "id": "7"},
              "v0.1 guest sees params kind and id (got %r)" % got)
        expect(server, "POST", "/users/42", b"x", 405, what="routes")
        expect(server, "GET", "/health", None, 200, what="built-in")

    config["services"]["routes"]["functions"]["default"] = {
        "filepath": "seed_guest.wasm", "contract": "seed"}
    path = write_service_file(workdir, config, "with-default.json")
    with ServiceServer(workdir, path) as server:
        headers, _ = expect(server, "POST", "/nowhere", b"lost", 200,
                            b"seed:lost", what="default")
        check(headers.get("x-contract") == "seed",
              "the default function answered /nowhere")
        expect(server, "GET", "/deep/er/path", None, 200, b"seed:",
               what="default")
        expect(server, "POST", "/items", b"a", 200, b"v04:a",
               what="routes beside default")


def parse_json(data):
    try:
        return json.loads(data)
    except ValueError:
        return None


def test_contracts(workdir):
    path = write_service_file(workdir, load_template("contracts.json"))
    with ServiceServer(workdir, path) as server:
        headers, _ = expect(server, "POST", "/seed", b"hi", 200, b"seed:hi",
                            what="seed")
        check(headers.get("x-contract") == "seed", "seed guest's header")
        check(headers.get("server") == "tarmac", "Server: tarmac")
        headers, _ = expect(server, "POST", "/v01", b"hi", 201,
                            b"v01:POST:hi", what="v0.1")
        check(headers.get("x-contract") == "v0.1", "v0.1 guest's header")
        expect(server, "GET", "/v01", None, 201, b"v01:GET:", what="v0.1")
        expect(server, "POST", "/v02", b"hi", 200, b"v02:POST:hi",
               what="v0.2")
        expect(server, "GET", "/v02", None, 200, b"v02:GET:", what="v0.2")
        expect(server, "POST", "/v02", b"fail", 500,
               contains="v02 failed on purpose", what="v0.2 error")
        expect(server, "POST", "/v03", b"hi", 200, b"v02:POST:hi",
               what="v0.3")
        expect(server, "GET", "/v03", None, 200, b"v02:GET:", what="v0.3")
        expect(server, "POST", "/v04", b"hi", 200, b"v04:hi", what="v0.4")
        expect(server, "POST", "/v04", b"fail", 500,
               contains="v04 failed on purpose", what="v0.4 error")
        expect(server, "POST", "/implicit", b"x", 200, b"v04:x",
               what="v0.4 by default")


def log_index(text, needle):
    at = text.find(needle)
    return at if at >= 0 else len(text) + 1


def test_init(workdir):
    # success: both init functions ran, in file order, before listening
    path = write_service_file(workdir, load_template("init_ok.json"),
                              "ok.json")
    with ServiceServer(workdir, path) as server:
        text = server.log_text()
        check(text.count("init ran") == 2,
              "both init functions logged 'init ran'")
        check(log_index(text, "running init function first") <
              log_index(text, "running init function second") <= len(text),
              "init functions ran in file order")
        check(text.rfind("init ran") < log_index(text, "tarmac serving"),
              "both init functions ran before the listener opened")
        expect(server, "POST", "/", b"up", 200, b"v04:up", what="after init")

    # success after two failed attempts (1 s, then 2 s of backoff); the
    # guest counts attempts in its memory, so init_flaky.json gives it
    # "reuse_instances": true and "pool_size": 1
    path = write_service_file(workdir, load_template("init_flaky.json"),
                              "flaky.json")
    t0 = time.time()
    with ServiceServer(workdir, path) as server:
        text = server.log_text()
        check("init ran after 3 attempts" in text,
              "the flaky init function succeeded at its third attempt")
        check("not ready yet (attempt 1)" in text and
              "not ready yet (attempt 2)" in text,
              "both failed attempts are logged with their error")
        check(time.time() - t0 >= 3.0,
              "the backoff waited 1 s then 2 s (%.1f s)" % (time.time() - t0))
        expect(server, "POST", "/", b"up", 200, b"v04:up", what="after retry")

    # exhausted retries stop start-up with the last error
    path = write_service_file(workdir, load_template("init_fail.json"),
                              "fail.json")
    code, out, seconds, port = run_to_exit(path)
    check(code not in (0, None), "failed init: non-zero exit (got %s)" % code)
    check("init failed on purpose" in out,
          "failed init: the function's error is shown (%r)" % out[-500:])
    check("broken" in out, "failed init: the function is named")
    check("tarmac serving" not in out, "failed init: never listened")
    check(seconds < 30, "failed init: exits promptly (%.1f s)" % seconds)


def test_job(workdir):
    path = write_service_file(workdir, load_template("init_ok.json"),
                              "ok.json")
    code, out, seconds, port = run_to_exit(path, {"APP_RUN_MODE": "job"})
    check(code == 0, "job mode exits 0 after its init functions (got %s: %r)"
          % (code, out[-500:]))
    check(out.count("init ran") == 2, "job mode ran both init functions")
    check("tarmac serving" not in out, "job mode never listened")

    path = write_service_file(workdir, load_template("init_fail.json"),
                              "fail.json")
    code, out, seconds, port = run_to_exit(path, {"APP_RUN_MODE": "job"})
    check(code not in (0, None), "job mode with a failing init exits "
          "non-zero (got %s)" % code)
    check("init failed on purpose" in out, "job failure shows the error")

    code, out, seconds, port = run_to_exit(path, {"APP_RUN_MODE": "sometimes"})
    check(code not in (0, None) and "sometimes" in out,
          "an unknown APP_RUN_MODE is refused naming the value")


TICK = re.compile(r"tick (start|end) (\d+)")


def ticks(text):
    """[(kind, n)] of the tick_guest's lines, in log order."""
    found = []
    for line in text.splitlines():
        m = TICK.search(line)
        if m:
            found.append((m.group(1), int(m.group(2))))
    return found


def count_ticks(server, kind):
    return len([t for t in ticks(server.log_text()) if t[0] == kind])


def test_schedule(workdir):
    path = write_service_file(workdir, load_template("schedule.json"))
    server = ServiceServer(workdir, path)
    try:
        ok = wait_until(lambda: count_ticks(server, "end") >= 3, 30)
        check(ok, "three scheduled runs ended within 30 s")
        seen = ticks(server.log_text())
        pairs_ok = True
        for i, (kind, n) in enumerate(seen):
            want = "start" if i % 2 == 0 else "end"
            if kind != want or (kind == "end" and seen[i - 1][1] != n):
                pairs_ok = False
        check(pairs_ok, "runs never overlap: start/end alternate (%r)" % seen)
        check("init failed on purpose" in server.log_text(),
              "a failing scheduled task's error is logged")
        # a task that spins is stopped by its function's deadline, and runs
        # again at its next tick (its instance replaced)
        late = "function timed out: deadline of 300 ms exceeded"
        check(wait_until(lambda: server.log_text().count(late) >= 2, 20),
              "a spinning scheduled task is stopped at its deadline, "
              "every run")
        expect(server, "POST", "/", b"x", 200, b"v04:x",
               what="HTTP while tasks run")
        # SIGTERM in the middle of a run: the run may end, then exit
        starts = count_ticks(server, "start")
        wait_until(lambda: count_ticks(server, "start") > starts, 10)
        t1 = time.time()
        code = server.stop()
        stopped = time.time() - t1
        check(code == 0, "exit 0 at SIGTERM (got %s)" % code)
        check(stopped < 5, "SIGTERM stops promptly (%.1f s)" % stopped)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


def test_calls(workdir):
    path = write_service_file(workdir, load_template("calls.json"))
    env = {"APP_WASM_CALL_DEPTH_LIMIT": "4"}
    with ServiceServer(workdir, path, env) as server:
        expect(server, "POST", "/call", b"call a hello", 200,
               b"a said: hello", what="A calls B")
        expect(server, "POST", "/call", b"call a call b deep", 200,
               b"a said: b said: deep", what="nested calls")
        expect(server, "POST", "/call", b"call a fail", 500,
               contains="failed on purpose", what="callee error propagates")
        expect(server, "POST", "/call", b"call hidden x", 500,
               contains="hidden", what="no function route")
        expect(server, "POST", "/call", b"chain a,b,c", 200, b"chain end",
               what="chain within the limit")
        status, _, body, seconds = request(
            server, "POST", "/call", b"chain a,b,c,a,b,c,a,b,c")
        check(status == 500 and b"depth" in body.lower(),
              "a chain deeper than the limit fails naming the depth "
              "(%s %r)" % (status, body[:300]))
        check(seconds < 10, "the deep chain fails promptly (%.1f s)" % seconds)
        # x (pool 1) -> y -> x: x's only instance is busy with the caller
        status, _, body, seconds = request(server, "POST", "/call",
                                           b"call x chain y,x")
        check(status in (500, 503) and len(body) > 0,
              "a cycle with pools of one fails cleanly (%s %r)"
              % (status, body[:300]))
        check(seconds < 10, "the cycle does not hang (%.1f s)" % seconds)
        # the callee spins; the caller's 1 s deadline bounds it
        status, _, body, seconds = request(server, "POST", "/call",
                                           b"call spinner spin")
        check(status == 504, "a spinning callee ends in 504 (%s %r)"
              % (status, body[:300]))
        check(seconds < 4, "within the caller's deadline (%.1f s)" % seconds)
        # pools came back: the same calls work again
        expect(server, "POST", "/call", b"call x hi", 200, b"x said: hi",
               what="x is free after the cycle")
        expect(server, "POST", "/call", b"call a again", 200,
               b"a said: again", what="still serving")


def test_invalid(workdir):
    cases = load_template("invalid.json")["cases"]
    for case in cases:
        name = case["case"] + ".json"
        if "raw" in case:
            path = write_service_file(workdir, None, name, raw=case["raw"])
        else:
            config = {"services": {"invalid_key": case["service"]}}
            path = write_service_file(workdir, config, name)
        code, out, seconds, port = run_to_exit(path, seconds=60)
        what = "invalid %s" % case["case"]
        check(code not in (0, None), "%s: start-up fails (exit %s)"
              % (what, code))
        check(path in out or name in out,
              "%s: the message names the file (%r)" % (what, out[-400:]))
        if "service" in case:
            check("invalid_key" in out or "invalid-name" in out,
                  "%s: the message names the service (%r)"
                  % (what, out[-400:]))
        for text in case["expect"]:
            check(text in out, "%s: the message holds %r (%r)"
                  % (what, text, out[-400:]))
        check("tarmac serving" not in out, "%s: never listened" % what)


def test_pool(workdir):
    path = write_service_file(workdir, load_template("pool.json"))
    with ServiceServer(workdir, path) as server:
        thread, first = start_post(server, "/slow", b"sleep 3000")
        wait_for_log(server, "sleeping 3000")
        status, _, body, seconds = request(server, "POST", "/slow", b"hello")
        check(status == 503 and len(body) > 0,
              "a second request while the only instance is busy gets 503 "
              "with a body (%s %r)" % (status, body[:200]))
        check(seconds < 2.5, "refused after the pool wait, not the slow "
              "request (%.1f s)" % seconds)
        thread.join(30)
        check(first.get("status") == 200 and first.get("body") == b"slept 3000",
              "the slow request completes (%r)" % first)
        expect(server, "POST", "/slow", b"again", 200, b"again",
               what="served again once the instance is free")
        # max_concurrency 1: a second call is refused by the function's own
        # gate (after APP_WASM_QUEUE_TIMEOUT_MS), though its pool has room
        thread, first = start_post(server, "/gated", b"sleep 2000")
        wait_for_log(server, "sleeping 2000")
        status, headers, body, _ = request(server, "POST", "/gated", b"hi")
        check(status == 503 and b"max_concurrency" in body and
              headers.get("retry-after") == "1",
              "over the function's max_concurrency: 503 naming it (%s %r)"
              % (status, body[:200]))
        thread.join(30)
        check(first.get("status") == 200, "the gated request completes")


def promtool():
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not found:
        check(False, "promtool not found (Debian package prometheus)")
    return found


# Server metrics: (what, regular expression over the exposition). The
# patterns ask for a word in the name (request, function, callback, task,
# trap, instances, build_info) and the label the issue asks for, not exact
# names; the process metrics are the standard Prometheus names.
SERVER_METRICS = [
    ("request durations per route and status",
     r'(?m)^\w*request\w*_bucket\{[^}]*route="[^"]*"[^}]*status="'),
    ("function durations per function",
     r'(?m)^\w*function\w*_bucket\{[^}]*function="svc"'),
    ("callback durations per callback",
     r'(?m)^\w*callback\w*_bucket\{[^}]*callback="'),
    ("scheduled-task durations",
     r'(?m)^\w*task\w*_bucket\{[^}]*(task|function)="ticker"'),
    ("scheduled-task failures",
     r'(?m)^\w*task\w*fail\w*\{[^}]*(task|function)="failing"[^}]*\} [1-9]'),
    ("traps by kind", r'(?m)^\w*trap\w*\{[^}]*kind="'),
    ("ready instances per function",
     r'(?m)^\w*(ready\w*instances|instances\w*ready)\w*\{[^}]*function="svc"'),
    ("busy instances per function",
     r'(?m)^\w*(busy\w*instances|instances\w*busy)\w*\{[^}]*function="svc"'),
    ("build info", r'(?m)^\w*build_info\{'),
    ("process CPU", r'(?m)^process_cpu_seconds_total '),
    ("process resident memory", r'(?m)^process_resident_memory_bytes '),
    ("process open files", r'(?m)^process_open_fds '),
    ("process start time", r'(?m)^process_start_time_seconds '),
]


def test_metrics(workdir):
    path = write_service_file(workdir, load_template("metrics.json"))
    with ServiceServer(workdir, path) as server:
        for _ in range(3):
            expect(server, "POST", "/svc", b"metric", 200, b"metrics sent",
                   what="metrics")
        expect(server, "POST", "/svc", b"hello", 200, b"hello", what="echo")
        expect(server, "POST", "/svc", b"fail", 500, what="failure")
        expect(server, "POST", "/svc", b"trap", 500, what="trap")
        expect(server, "POST", "/svc", b"call helper hi", 200,
               b"helper said: hi", what="call")
        expect(server, "GET", "/nowhere", None, 404, what="no route")
        wait_for_log(server, "tick end 1")
        wait_until(lambda: "init failed on purpose" in server.log_text(), 10)
        status, headers, body, _ = request(server, "GET", "/metrics")
        check(status == 200, "GET /metrics answers 200 (%s)" % status)
        check(headers.get("content-type", "").startswith("text/plain"),
              "/metrics is text/plain (%r)" % headers.get("content-type"))
        text = body.decode("utf-8", "replace")
        check(re.search(r'(?m)^svc_hits_total(\{[^}]*\})? 3(\.0+)?$', text),
              "guest counter svc_hits_total is 3")
        check(re.search(r'(?m)^svc_level(\{[^}]*\})? 3(\.0+)?$', text),
              "guest gauge svc_level is 3")
        check(re.search(r'(?m)^svc_latency_seconds_count(\{[^}]*\})? 3', text)
              and "svc_latency_seconds_bucket" in text,
              "guest histogram svc_latency_seconds has 3 observations")
        check(re.search(r'(?m)^ticks_total(\{[^}]*\})? [1-9]', text),
              "the scheduled task's guest counter ticks_total")
        for what, pattern in SERVER_METRICS:
            check(re.search(pattern, text), "server metric: " + what)
        tool = promtool()
        if tool:
            out = subprocess.run([tool, "check", "metrics"], input=body,
                                 capture_output=True, timeout=60)
            check(out.returncode == 0, "promtool check metrics passes: %s"
                  % (out.stdout + out.stderr).decode()[-1000:])
        if FAILURES:
            print("--- /metrics ---\n" + text[:8000])


def test_example_state(workdir):
    """The README's state example as built, on the embedded defaults: the
    LMDB store and a SQLite file in the test's folder."""
    env = {"APP_ENABLE_KVSTORE": "true",
           "APP_KVSTORE_PATH": os.path.join(workdir, "visits.lmdb"),
           "APP_ENABLE_SQL": "true", "APP_SQL_TYPE": "sqlite",
           "APP_SQL_DSN": os.path.join(workdir, "visits.db")}
    with ServiceServer(workdir, os.environ["EXAMPLE_STATE"], env) as server:
        expect(server, "POST", "/visit", b"ada", 200,
               b"Hello, ada! Visit 1 (key-value store), 1 logged (SQL).",
               what="the state example's first visit")
        expect(server, "POST", "/visit", b"ada", 200,
               b"Hello, ada! Visit 2 (key-value store), 2 logged (SQL).",
               what="the second visit")
        expect(server, "POST", "/visit", b"x'; DROP TABLE visit_log; --",
               500, what="a name that is not a name")


def guest_path(name):
    return os.path.join(GUEST_DIR, name + ".wasm")


def test_single(workdir):
    """Single-function mode: APP_WASM_FUNCTION speaks v0.4 on every path,
    APP_WASM_CONTRACT picks another generation; a bad contract or the
    missing default module stop start-up naming them."""
    env = {"APP_WASM_FUNCTION": guest_path("v04_guest")}
    with ServiceServer(workdir, "", env) as server:
        expect(server, "POST", "/any/path", b"x", 200, b"v04:x",
               what="APP_WASM_FUNCTION: v0.4")
        expect(server, "POST", "/", b"fail", 500, b"v04 failed on purpose",
               what="v0.4: 500 with the error text")
        expect(server, "GET", "/health", None, 200, what="built-in")
    env = {"APP_WASM_FUNCTION": guest_path("v02_guest"),
           "APP_WASM_CONTRACT": "v0.3"}
    with ServiceServer(workdir, "", env) as server:
        expect(server, "PUT", "/p", b"y", 200, b"v02:PUT:y",
               what="APP_WASM_CONTRACT=v0.3")
    code, out, _, _ = run_to_exit("", {"APP_WASM_FUNCTION":
                                       guest_path("v04_guest"),
                                       "APP_WASM_CONTRACT": "v9"})
    check(code == 1 and "APP_WASM_CONTRACT=v9 is not a contract" in out,
          "a bad APP_WASM_CONTRACT stops start-up (%s %r)" % (code, out))
    code, out, _, _ = run_to_exit("", {})
    check(code == 1 and "cannot read module /functions/tarmac.wasm" in out,
          "the default module is Tarmac's /functions/tarmac.wasm (%s %r)"
          % (code, out))


def test_example(workdir):
    example = os.environ["EXAMPLE_SERVICE"]
    with ServiceServer(workdir, example) as server:
        expect(server, "POST", "/greet", b"world", 200, b"Hello, WORLD!",
               what="the README's example")
        expect(server, "POST", "/greet", b"", 500,
               contains="say who to greet", what="the example's error")
        expect(server, "GET", "/greet", None, 405, what="POST only")
        status, _, text, _ = request(server, "GET", "/metrics")
        check(status == 200 and re.search(
            rb'(?m)^greetings_total(\{[^}]*\})? 1(\.0+)?$', text),
              "greetings_total counts the one greeting")


GROUPS = {
    "routes": test_routes, "contracts": test_contracts, "init": test_init,
    "job": test_job, "schedule": test_schedule, "calls": test_calls,
    "invalid": test_invalid, "pool": test_pool, "metrics": test_metrics,
    "example": test_example, "single": test_single,
    "example_state": test_example_state,
}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
