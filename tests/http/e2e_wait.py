#!/usr/bin/env python3
"""Hand-off before a wait (APP_HANDOFF_BEFORE_WAIT): a guest sleeping in
WASI poll_oneoff gives its event loop to a spare thread before the sleep,
not after the watchdog period (docs/architecture.md, "Threading model").

One event loop and a watchdog period of a minute, so that only the
hand-off before the wait can free the loop while guests sleep:
  before_wait  32 guests sleeping 200 ms each run at once and a quick
               request is answered while they sleep; with the knob off the
               same sleepers run one after the other (the loop is held).

  pool_wait    a pool of 1 with a guest sleeping 1 s and three more
               requests waiting for its instance: /health on the same loop
               is answered at once, and every request is served in turn
  admission_wait
               the same with APP_WASM_MAX_CONCURRENCY=2 and a request
               waiting for an invocation slot

Usage: e2e_wait.py <group>"""
import sys
import threading
import time

from e2e_test import Server, check, https_client, run_group

SLEEPERS = 32
SLEEP_MS = 200
# A watchdog period far beyond anything measured here: whatever overlaps
# did so through the hand-off before the wait.
WATCHDOG_MS = 60000


def server_env(before_wait):
    return {"APP_EVENT_LOOPS": "1", "APP_HANDOFF_MS": str(WATCHDOG_MS),
            "APP_MAX_THREADS_PER_LOOP": "64",
            "APP_WASM_MAX_CONCURRENCY": "64",
            "APP_HANDOFF_BEFORE_WAIT": "true" if before_wait else "false"}


def start_sleepers(server, results):
    """SLEEPERS clients, each on its own connection, GET /sleep/SLEEP_MS;
    results collects (status, body) per client."""
    def client():
        conn = https_client(server.port, tls=False)
        try:
            conn.request("GET", "/sleep/%d" % SLEEP_MS)
            res = conn.getresponse()
            results.append((res.status, res.read()))
        except Exception as e:  # noqa: BLE001 - any failure is an error
            results.append(("exception", repr(e)))
        finally:
            conn.close()
    threads = [threading.Thread(target=client) for _ in range(SLEEPERS)]
    for t in threads:
        t.start()
    return threads


def all_sleepers_started(server):
    return server.log_text().count("started /sleep/%d" % SLEEP_MS) >= SLEEPERS


def run_sleepers(workdir, before_wait):
    """Runs the sleepers (and, with the knob on, a quick request while they
    all sleep); returns the seconds until every sleeper was answered."""
    with Server(workdir, tls=False, env=server_env(before_wait)) as server:
        results = []
        t0 = time.time()
        threads = start_sleepers(server, results)
        if before_wait:
            # readiness, not a sleep: every sleeper's guest has started
            deadline = time.time() + 60
            while not all_sleepers_started(server) and time.time() < deadline:
                time.sleep(0.02)
            check(all_sleepers_started(server),
                  "all %d sleepers run at once on one loop" % SLEEPERS)
            status, _, seconds = quick_get(server)
            check(status == 200 and seconds < WATCHDOG_MS / 1000 / 10,
                  "a quick request on the same loop is answered while %d "
                  "guests sleep (%d, %.3f s; watchdog period %d s)"
                  % (SLEEPERS, status, seconds, WATCHDOG_MS // 1000))
            print("quick request while %d sleep: %.3f s" % (SLEEPERS, seconds))
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        bad = [r for r in results if r[0] != 200]
        check(len(results) == SLEEPERS and not bad,
              "every sleeper answered 200: %r" % bad[:3])
        return elapsed


def quick_get(server):
    """GET /fast on a new plain-HTTP connection: (status, body, seconds)."""
    conn = https_client(server.port, tls=False)
    t0 = time.time()
    try:
        conn.request("GET", "/fast")
        res = conn.getresponse()
        return res.status, res.read(), time.time() - t0
    finally:
        conn.close()


def test_before_wait(workdir):
    serial = SLEEPERS * SLEEP_MS / 1000
    on = run_sleepers(workdir, before_wait=True)
    print("%d sleepers of %d ms, hand-off before wait: %.2f s"
          % (SLEEPERS, SLEEP_MS, on))
    # overlapping sleeps: far below running them one after the other (the
    # bound is generous for a loaded machine)
    check(on < serial / 2,
          "%d sleepers of %d ms finish in %.2f s, under half of %.1f s"
          % (SLEEPERS, SLEEP_MS, on, serial))
    off = run_sleepers(workdir, before_wait=False)
    print("%d sleepers of %d ms, knob off: %.2f s" % (SLEEPERS, SLEEP_MS, off))
    # a lower bound, not a timing guess: with the loop held by each sleeper
    # in turn the sleeps cannot overlap
    check(off >= serial * 0.95,
          "knob off: the held loop serialises the sleepers (%.2f s >= %.1f s)"
          % (off, serial))


# ------------------------------------------- waits for an instance or a slot

HOLD_MS = 1000


def get_in_thread(server, path, results, sent):
    """GET path on its own connection in a thread; sets `sent` once the
    request is written, appends (status, body) when answered."""
    def client():
        conn = https_client(server.port, tls=False)
        try:
            conn.request("GET", path)
            sent.set()
            res = conn.getresponse()
            results.append((res.status, res.read()))
        except Exception as e:  # noqa: BLE001 - any failure is an error
            results.append(("exception", repr(e)))
            sent.set()
        finally:
            conn.close()
    t = threading.Thread(target=client)
    t.start()
    return t


def health_while_waiting(workdir, env, running, waiting, what):
    """`running` guests sleeping HOLD_MS hold what the function may use;
    `waiting` more are sent behind them; /health, sent last on the same
    (only) loop, must be answered long before the first sleeper ends."""
    env = dict(server_env(True), **env)
    with Server(workdir, tls=False, env=env) as server:
        results, threads = [], []
        path = "/sleep/%d" % HOLD_MS
        for _ in range(running):
            threads.append(get_in_thread(server, path, results,
                                         threading.Event()))
        deadline = time.time() + 60
        while (server.log_text().count("started " + path) < running and
               time.time() < deadline):
            time.sleep(0.02)
        check(server.log_text().count("started " + path) == running,
              "%d guests sleeping" % running)
        for _ in range(waiting):
            sent = threading.Event()
            threads.append(get_in_thread(server, path, results, sent))
            check(sent.wait(30), "waiting request sent")
        conn = https_client(server.port, tls=False)
        t0 = time.time()
        conn.request("GET", "/health")
        res = conn.getresponse()
        res.read()
        seconds = time.time() - t0
        conn.close()
        check(res.status == 200 and seconds < HOLD_MS / 1000 * 0.4,
              "/health answered while %d requests wait for %s (%d in "
              "%.3f s)" % (waiting, what, res.status, seconds))
        print("/health while %d wait for %s: %.3f s" % (waiting, what,
                                                        seconds))
        for t in threads:
            t.join()
        bad = [r for r in results if r[0] != 200]
        check(len(results) == running + waiting and not bad,
              "every request served in turn: %r" % bad[:3])


def test_pool_wait(workdir):
    health_while_waiting(workdir, {"APP_WASM_POOL_SIZE": "1",
                                   "APP_WASM_POOL_WAIT": "10s"},
                         running=1, waiting=3, what="the pool's instance")


def test_admission_wait(workdir):
    # a limit of 2 has 2 waiting places; the first hands its loop on
    health_while_waiting(workdir, {"APP_WASM_MAX_CONCURRENCY": "2",
                                   "APP_WASM_QUEUE_TIMEOUT_MS": "10000"},
                         running=2, waiting=1, what="an invocation slot")


GROUPS = {"before_wait": test_before_wait, "pool_wait": test_pool_wait,
          "admission_wait": test_admission_wait}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
