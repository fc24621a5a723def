#!/usr/bin/env python3
"""Guests on fibers (docs/architecture.md, "Guests on fibers"): a guest
that waits (a WASI sleep) is suspended on its fiber and its loop's thread
goes on; no spare thread is started for it. One event loop and a watchdog
period of a minute throughout, so that whatever overlaps does so on fibers.

Usage: e2e_fiber.py <group>
  waits       sleepers suspended on one loop while other requests trap
              (divide by zero), overflow their native stack, run past
              their deadline computing and sleeping: each answered as
              alone; the thread count does not grow
  nested      function-to-function calls that sleep in the callee,
              several at once on one loop, while a chain as deep as the
              depth limit runs: the call depth is each fiber's own
  disconnect  clients that disconnect while their guests sleep: the
              server goes on serving and exits cleanly
  shutdown    SIGTERM with guests suspended: they are answered; a guest
              suspended for longer than the shutdown timeout does not hold
              the exit"""
import os
import signal
import socket
import sys
import threading
import time

from e2e_test import (Server, check, https_client, run_group, wait_for_log,
                      wait_until)

WATCHDOG_MS = 60000
SLEEPERS = 8


def fiber_env(extra=None):
    env = {"APP_EVENT_LOOPS": "1", "APP_HANDOFF_MS": str(WATCHDOG_MS),
           "APP_MAX_THREADS_PER_LOOP": "64",  # 16 fibers
           "APP_WASM_MAX_CONCURRENCY": "64"}
    env.update(extra or {})
    return env


def threads_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


def get(server, path, method="GET", body=None, results=None):
    """One request on its own plain-HTTP connection: (status, body,
    seconds); appended to results when given."""
    conn = https_client(server.port, tls=False)
    t0 = time.time()
    try:
        conn.request(method, path, body=body)
        res = conn.getresponse()
        out = (res.status, res.read(), time.time() - t0)
    except OSError as e:
        out = (None, repr(e).encode(), time.time() - t0)
    finally:
        conn.close()
    if results is not None:
        results.append(out)
    return out


def in_background(server, paths, method="GET", body=None):
    """Starts one request per path, each on its own thread; returns the
    threads and the list their results land in."""
    results = []
    threads = [threading.Thread(target=get, args=(server, p, method, body,
                                                  results))
               for p in paths]
    for t in threads:
        t.start()
    return threads, results


def started_count(server, text):
    return server.log_text().count(text)


def test_waits(workdir):
    env = fiber_env({"APP_WASM_TIMEOUT": "2s"})
    with Server(workdir, tls=False, env=env) as server:
        get(server, "/echo", "POST", b"warm")  # lazily started threads
        base = threads_of(server.proc.pid)
        sleepers, slept = in_background(server, ["/sleep/1500"] * SLEEPERS)
        check(wait_until(lambda: started_count(server, "started /sleep/1500")
                         >= SLEEPERS, 60),
              "%d sleepers suspended on one loop" % SLEEPERS)
        status, body, _ = get(server, "/trap/div")
        check(status == 500 and b"divide" in body,
              "a trap while others sleep answers its own 500 (%s %r)"
              % (status, body[:120]))
        status, body, _ = get(server, "/trap/stack")
        check(status == 500 and b"call stack exhausted" in body,
              "a native stack overflow on a fiber is the guest's trap "
              "(%s %r)" % (status, body[:120]))
        status, body, seconds = get(server, "/runaway/sleep")
        check(status == 504 and b"deadline" in body and 1.9 < seconds < 4,
              "a guest suspended past its deadline ends there (%s %r after "
              "%.1f s)" % (status, body[:100], seconds))
        for t in sleepers:
            t.join()
        check(len(slept) == SLEEPERS and
              all(s == 200 for s, _, _ in slept),
              "every sleeper answered 200 (%r)" % [s for s, _, _ in slept])
        print("sleepers: %s s" % ", ".join("%.2f" % s for _, _, s in slept))
        # computing, it holds its fiber and the loop (the watchdog's period
        # is a minute here) until the deadline stops it
        status, body, seconds = get(server, "/runaway/spin")
        check(status == 504 and b"deadline" in body and 1.9 < seconds < 4,
              "a guest computing on its fiber ends at its deadline (%s %r "
              "after %.1f s)" % (status, body[:100], seconds))
        now = threads_of(server.proc.pid)
        print("threads: %d before the sleepers, %d after" % (base, now))
        check(now == base, "no thread was started for the waits (%d -> %d)"
              % (base, now))


NESTED = 6  # of the caller's pool of 8: room for the chain's caller


def test_nested(workdir):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                    "services"))
    from e2e_services import (ServiceServer, load_template,  # noqa: E402
                              request, write_service_file)
    path = write_service_file(workdir, load_template("calls.json"))
    env = fiber_env({"APP_WASM_CALL_DEPTH_LIMIT": "4"})
    with ServiceServer(workdir, path, env) as server:
        base = threads_of(server.proc.pid)
        callers, answers = in_background(
            server, ["/call"] * NESTED, "POST", b"call a sleep 500")
        check(wait_until(lambda: started_count(server, "sleeping 500")
                         >= NESTED, 60),
              "%d callees asleep at once, nested in their callers" % NESTED)
        status, _, body, _ = request(server, "POST", "/call", b"chain a,b,c")
        check(status == 200 and body == b"chain end",
              "a chain as deep as the limit runs while %d nested calls are "
              "suspended (%s %r)" % (NESTED, status, body[:200]))
        status, _, body, _ = request(server, "POST", "/call",
                                     b"chain a,b,c,a,b,c")
        check(status == 500 and b"depth" in body.lower(),
              "one deeper fails naming the depth (%s %r)"
              % (status, body[:200]))
        for t in callers:
            t.join()
        check(len(answers) == NESTED and
              all(s == 200 and b == b"a said: slept 500"
                  for s, b, _ in answers),
              "every nested sleeper answered (%r)" % answers[:3])
        check(threads_of(server.proc.pid) == base,
              "no thread was started for the nested waits")


def test_disconnect(workdir):
    with Server(workdir, tls=False, env=fiber_env()) as server:
        socks = []
        for _ in range(SLEEPERS):
            s = socket.create_connection(("127.0.0.1", server.port), 10)
            s.sendall(b"GET /sleep/800 HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        check(wait_until(lambda: started_count(server, "started /sleep/800")
                         >= SLEEPERS, 60),
              "%d guests asleep" % SLEEPERS)
        for s in socks:  # gone while their fibers are suspended
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        status, body, seconds = get(server, "/echo", "POST", b"still here")
        check(status == 200 and body == b"still here" and seconds < 0.5,
              "served at once meanwhile (%s %r %.3f s)"
              % (status, body, seconds))
        # the abandoned guests finish; every fiber comes back (16 more
        # sleepers than there are fibers left otherwise would queue)
        _, more = in_background(server, ["/sleep/100"] * 16)
        check(wait_until(lambda: len(more) == 16, 30),
              "16 more sleepers answered after the abandoned ones")
        check(all(s == 200 for s, _, _ in more),
              "all 200 (%r)" % [s for s, _, _ in more])


def test_shutdown(workdir):
    server = Server(workdir, tls=False, env=fiber_env())
    sleepers, slept = in_background(server, ["/sleep/1000"] * SLEEPERS)
    check(wait_until(lambda: started_count(server, "started /sleep/1000")
                     >= SLEEPERS, 60), "%d guests asleep" % SLEEPERS)
    t0 = time.time()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(30)
    for t in sleepers:
        t.join()
    server.log.close()
    check(code == 0, "exit 0 after SIGTERM with suspended guests (%s)" % code)
    check(all(s == 200 for s, _, _ in slept) and len(slept) == SLEEPERS,
          "the suspended guests were answered (%r)" % [s for s, _, _ in slept])
    check(time.time() - t0 < 10, "shutdown bounded")
    # suspended past the shutdown timeout: the exit does not wait for it
    server = Server(workdir, tls=False,
                    env=fiber_env({"APP_SHUTDOWN_TIMEOUT_MS": "500",
                                   "APP_WASM_TIMEOUT": "60s"}))
    forever, _ = in_background(server, ["/runaway/sleep"])
    wait_for_log(server, "started /runaway/sleep")
    t0 = time.time()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(30)
    elapsed = time.time() - t0
    server.log.close()
    for t in forever:
        t.join()
    check(code == 0, "exit 0 with a guest suspended for good (%s)" % code)
    check(elapsed < 5, "exit within the shutdown timeout (%.1f s)" % elapsed)


GROUPS = {"waits": test_waits, "nested": test_nested,
          "disconnect": test_disconnect, "shutdown": test_shutdown}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
