#!/usr/bin/env python3
"""End-to-end test of hot reload (issue 10, part 4): `tarmac` serving a
service file under steady load (wrk, 16 connections) while the test
changes its files; not one request may fail.

usage: e2e_reload.py GROUP
  service  a module replaced by rename, then by a copy in place (the new
           answer appears, function calls reach the new callee, a request
           running across the switch is answered by the old one); the
           service file edited to add a route (it answers); a broken
           module written (refused with a log line naming the file, the
           previous version keeps answering); the module restored; an
           init function that fails refuses a version; SIGHUP
           reloads unchanged files; reload metrics
  single   single-function mode: APP_WASM_FUNCTION replaced by rename
           under load; APP_WATCH_CONFIG=false: a change is seen on SIGHUP
  tasks    a scheduled task across a reload: the old one stops before the
           new one starts, runs never overlap
Environment: as e2e_services.py, plus WRK (the wrk binary; else wrk on
PATH).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "http"))
from e2e_services import ServiceServer, request, start_post  # noqa: E402
from e2e_test import check, run_group, wait_for_log, wait_until  # noqa: E402

GUEST_DIR = os.environ["SERVICES_GUEST_DIR"]


def find_wrk():
    """WRK from CMake (TARMAC_WRK-NOTFOUND when it was missing at
    configure time), else wrk on PATH; a clear error without either."""
    path = os.environ.get("WRK", "")
    if path and not path.endswith("-NOTFOUND"):
        return path
    path = shutil.which("wrk")
    if path is None:
        sys.exit("e2e_reload.py: wrk not found (scripts/install-deps.sh "
                 "installs Debian's wrk package)")
    return path


WRK = find_wrk()
# How long a change may take to be served: a compile of a guest on a
# loaded two-core machine (ASan build included), with margin.
CHANGE_SECONDS = 60

# Counts what wrk saw; `delay` keeps the load steady without taking every
# core from the compiler.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = "x"
function delay() return 2 end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d status=%d connect=%d read=%d write=%d timeout=%d\\n",
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def guest(name):
    return os.path.join(GUEST_DIR, name + ".wasm")


def replace_by_rename(src, dest):
    """Writes src's bytes next to dest, then renames them over it."""
    tmp = dest + ".tmp"
    shutil.copyfile(src, tmp)
    os.rename(tmp, dest)


def with_custom_section(data):
    """The module's bytes plus a custom section unique to this run: the
    same code under a new cache key, so the reload compiles it (under
    load) instead of finding it in the compile cache."""
    name = b"tarmac-reload-test"
    payload = bytes([len(name)]) + name + (
        "%d-%d" % (os.getpid(), time.time_ns())).encode()
    return data + b"\x00" + bytes([len(payload)]) + payload


def write_in_place(data, dest):
    """Truncates dest and writes data into it in two writes."""
    with open(dest, "r+b") as f:
        f.truncate(0)
        f.write(data[:len(data) // 2])
        f.flush()
        f.write(data[len(data) // 2:])


class Load:
    """wrk against one path for as long as the test runs."""

    def __init__(self, workdir, server, path):
        script = os.path.join(workdir, "load.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT)
        self.out = open(os.path.join(workdir, "wrk.out"), "w+")
        self.proc = subprocess.Popen(
            [WRK, "-t1", "-c16", "-d300s", "--timeout", "20s", "-s", script,
             "http://127.0.0.1:%d%s" % (server.port, path)],
            stdout=self.out, stderr=subprocess.STDOUT)

    def stop(self):
        """Stops wrk (SIGINT: it reports) and checks nothing failed."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.seek(0)
        text = self.out.read()
        m = re.search(r"RESULT requests=(\d+) status=(\d+) connect=(\d+) "
                      r"read=(\d+) write=(\d+) timeout=(\d+)", text)
        check(m is not None, "wrk reported (%r)" % text[-400:])
        if m is None:
            return
        requests, *errors = (int(v) for v in m.groups())
        check(requests > 100, "wrk sent load (%d requests)" % requests)
        check(sum(errors) == 0,
              "no request failed under load: non-2xx %d, connect %d, read "
              "%d, write %d, timeout %d" % tuple(errors))
        print("load: %d requests, none failed" % requests)


def answers(server, path, body, expected):
    """A condition: POST path answers 200 with the expected body."""
    def condition():
        status, _, text, _ = request(server, "POST", path, body, timeout=30)
        return status == 200 and text == expected
    return condition


def expect_change(server, path, body, expected, what):
    t0 = time.time()
    ok = wait_until(answers(server, path, body, expected), CHANGE_SECONDS)
    check(ok, "%s: %s answers %r" % (what, path, expected))
    if not ok:
        print("--- the server's reloads ---\n" + "\n".join(
            line for line in server.log_text().splitlines()
            if "reload" in line or "error" in line))
    print("%s: seen after %.1f s" % (what, time.time() - t0))


def generation(server):
    _, _, text, _ = request(server, "GET", "/metrics")
    m = re.search(rb"(?m)^tarmac_functions_generation (\d+)", text)
    return int(m.group(1)) if m else None


def reloads(server, result):
    _, _, text, _ = request(server, "GET", "/metrics")
    m = re.search(rb'(?m)^tarmac_reloads_total\{source="functions",'
                  rb'result="%s"\} (\d+)' % result.encode(), text)
    return int(m.group(1)) if m else 0


def service_config(with_b, failing_init=False):
    routes = [{"type": "http", "path": "/a", "methods": ["POST"],
               "function": "a"},
              {"type": "function", "function": "a"},
              {"type": "http", "path": "/call", "methods": ["POST"],
               "function": "caller"}]
    functions = {"a": {"filepath": "a.wasm"},
                 "caller": {"filepath": "caller.wasm"}}
    if failing_init:
        functions["broken"] = {"filepath": "broken.wasm"}
        routes.append({"type": "init", "function": "broken"})
    if with_b:
        functions["b"] = {"filepath": "b.wasm"}
        routes.append({"type": "http", "path": "/b", "methods": ["POST"],
                       "function": "b"})
    return {"services": {"reload": {"name": "reload",
                                    "functions": functions,
                                    "routes": routes}}}


def write_json(path, config):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(config, f, indent=1)
    os.rename(tmp, path)


def test_service(workdir):
    a = os.path.join(workdir, "a.wasm")
    shutil.copyfile(guest("v04_guest"), a)
    shutil.copyfile(guest("service_guest"), os.path.join(workdir,
                                                         "caller.wasm"))
    shutil.copyfile(guest("service_guest"), os.path.join(workdir, "b.wasm"))
    shutil.copyfile(guest("init_fail_guest"), os.path.join(workdir,
                                                           "broken.wasm"))
    path = os.path.join(workdir, "tarmac.json")
    write_json(path, service_config(False))
    with ServiceServer(workdir, path) as server:
        check(answers(server, "/a", b"x", b"v04:x")(), "first version")
        check(generation(server) == 1, "generation 1 at start")
        load = Load(workdir, server, "/a")
        try:
            # (a) a new module (compiled now), renamed into place, then
            # copied in place
            with open(guest("service_guest"), "rb") as f:
                fresh = with_custom_section(f.read())
            with open(a + ".tmp", "wb") as f:
                f.write(fresh)
            os.rename(a + ".tmp", a)
            expect_change(server, "/a", b"x", b"x", "module renamed")
            check(answers(server, "/call", b"call a y", b"a said: y")(),
                  "a function call reaches the callee's new version")
            # a request running across the switch finishes on the old one
            slow, result = start_post(server, "/a", b"sleep 2000")
            wait_for_log(server, "sleeping 2000")
            with open(guest("v04_guest"), "rb") as f:
                write_in_place(f.read(), a)
            expect_change(server, "/a", b"x", b"v04:x", "module copied")
            slow.join(60)
            check(result.get("status") == 200 and
                  result.get("body") == b"slept 2000",
                  "a request started before the switch is answered by the "
                  "old version (%r)" % result)
            # (b) a route added to the service file
            write_json(path, service_config(True))
            expect_change(server, "/b", b"z", b"z", "route added")
            # (c) a broken module: refused, the previous one serves
            failed = reloads(server, "failure")
            with open(a + ".tmp", "wb") as f:
                f.write(b"\x00asm garbage, not a module" * 10)
            os.rename(a + ".tmp", a)
            wait_until(lambda: reloads(server, "failure") > failed,
                       CHANGE_SECONDS)
            check(reloads(server, "failure") == failed + 1,
                  "the broken module counts one failed reload")
            log = server.log_text()
            check(re.search(r"reload failed: .*a\.wasm", log) is not None,
                  "the refusal names the module (%r)" % log[-600:])
            check(answers(server, "/a", b"x", b"v04:x")(),
                  "the previous version keeps answering /a")
            check(answers(server, "/b", b"z", b"z")(),
                  "the previous version keeps answering /b")
            # the module restored: served again
            before = generation(server)
            replace_by_rename(guest("service_guest"), a)
            expect_change(server, "/a", b"x", b"x", "module restored")
            check(generation(server) == before + 1,
                  "one generation more (%s -> %s)"
                  % (before, generation(server)))
            # an init function that fails refuses the new version
            failed = reloads(server, "failure")
            write_json(path, service_config(True, failing_init=True))
            wait_until(lambda: reloads(server, "failure") > failed,
                       CHANGE_SECONDS)
            check(re.search(r"reload failed: init function broken failed",
                            server.log_text()) is not None,
                  "a failing init function refuses the reload")
            check(answers(server, "/b", b"z", b"z")(),
                  "the previous version keeps answering after it")
            write_json(path, service_config(True))
            # (d) SIGHUP reloads files that did not change
            check(wait_until(lambda: generation(server) == before + 2,
                             CHANGE_SECONDS), "the file restored: served")
            settled = generation(server)
            server.proc.send_signal(signal.SIGHUP)
            check(wait_until(lambda: generation(server) == settled + 1,
                             CHANGE_SECONDS),
                  "SIGHUP makes generation %d" % (settled + 1))
            check(answers(server, "/a", b"x", b"x")(), "still answering")
        finally:
            load.stop()
        log = server.log_text()
        check("reload started" in log and
              re.search(r"reload succeeded: generation \d+ \(3 functions\)",
                        log) is not None, "reloads are logged")
        check(reloads(server, "success") >= 5,
              "tarmac_reloads_total counts the successes (%d)"
              % reloads(server, "success"))
        _, _, text, _ = request(server, "GET", "/metrics")
        check(re.search(rb'(?m)^tarmac_reload_last_success_timestamp_seconds'
                        rb'\{source="functions"\} 1\d{9}', text) is not None,
              "the time of the last successful reload is exported")


def test_single(workdir):
    fn = os.path.join(workdir, "fn.wasm")
    shutil.copyfile(guest("v04_guest"), fn)
    env = {"APP_WASM_FUNCTION": fn}
    with ServiceServer(workdir, "", env) as server:
        check(answers(server, "/any", b"x", b"v04:x")(), "first version")
        load = Load(workdir, server, "/any")
        try:
            replace_by_rename(guest("service_guest"), fn)
            expect_change(server, "/any", b"x", b"x", "single module renamed")
        finally:
            load.stop()
    # not watching: the change waits for SIGHUP
    shutil.copyfile(guest("v04_guest"), fn)
    env["APP_WATCH_CONFIG"] = "false"
    with ServiceServer(workdir, "", env) as server:
        wait_for_log(server, "not watching files")
        replace_by_rename(guest("service_guest"), fn)
        check(answers(server, "/any", b"x", b"v04:x")(),
              "APP_WATCH_CONFIG=false: the old version until SIGHUP")
        server.proc.send_signal(signal.SIGHUP)
        expect_change(server, "/any", b"x", b"x", "SIGHUP")


def tick_events(log):
    """[(kind, n)] for the tick guest's lines, and "reload" for each
    successful reload, in log order."""
    events = []
    for line in log.splitlines():
        m = re.search(r"tick (start|end) (\d+)", line)
        if m:
            events.append((m.group(1), int(m.group(2))))
        elif "reload succeeded" in line:
            events.append(("reload", 0))
    return events


def test_tasks(workdir):
    """A scheduled task across a reload: the old generation's task stops
    (its run in progress ends) before the new one's starts, so runs never
    overlap; the new one counts from 1 on its own instance."""
    shutil.copyfile(guest("tick_guest"), os.path.join(workdir, "tick.wasm"))
    shutil.copyfile(guest("v04_guest"), os.path.join(workdir, "a.wasm"))
    path = os.path.join(workdir, "tarmac.json")
    write_json(path, {"services": {"clock": {"name": "clock", "functions": {
        "ticker": {"filepath": "tick.wasm", "pool_size": 1,
                   "reuse_instances": True, "timeout": "5s"},
        "a": {"filepath": "a.wasm"}},
        "routes": [{"type": "scheduled_task", "frequency": 1,
                    "function": "ticker"},
                   {"type": "http", "path": "/a", "methods": ["POST"],
                    "function": "a"}]}}})
    with ServiceServer(workdir, path) as server:
        wait_for_log(server, "tick start 2")
        server.proc.send_signal(signal.SIGHUP)

        def new_second_run():
            ev = tick_events(server.log_text())
            after = ev[ev.index(("reload", 0)) + 1:] if ("reload", 0) in ev \
                else []
            return ("start", 2) in after
        check(wait_until(new_second_run, CHANGE_SECONDS),
              "the new generation's task runs twice")
        events = tick_events(server.log_text())
    running = None
    for kind, n in events:
        if kind == "start":
            check(running is None, "runs never overlap (%r)" % events)
            running = n
        elif kind == "end":
            running = None
    after = [n for kind, n in events[events.index(("reload", 0)) + 1:]
             if kind == "start"]
    print("ticks: %r" % events)
    check(after[:2] == [1, 2],
          "after the switch, only the new generation's task runs (%r)"
          % events)


GROUPS = {"service": test_service, "single": test_single, "tasks": test_tasks}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
