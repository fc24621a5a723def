#!/usr/bin/env python3
"""End-to-end tests of the pipelined Redis connection per event loop
(src/kvstore/redis_pipe.c): `tarmac serve` running tests/state/kv_guest.c
against a redis-server started here (tests/state/e2e_kvstore.py's).

usage: e2e_redis_pipeline.py GROUP
  concurrent  64 clients at once, mixed set/get/delete on keys of their
              own, every answer checked against a model, the final state
              checked exactly in Redis; once every loop's pipe is up the
              guests open no connections (the pool would)
  killed      redis-server killed (SIGKILL) with requests in flight: each
              ends (200 or a clean 500), none hangs; a redis-server started
              again on the same port serves every request, no tarmac
              restart
  stopped     redis-server stopped (SIGSTOP) with requests in flight: they
              end with 500 within the read timeout while /health answers at
              once; SIGCONT: requests succeed again
  large       1 MiB values set and read back concurrently through the pipe
  takeover    guests that compute past the watchdog's period, taken over,
              then set through their loop's pipe from their own thread,
              next to guests of the new driver: all answers right, none
              waits for the read timeout
Environment: TARMAC_SERVE_BIN, STATE_GUEST_DIR (kv_guest.wasm),
TARMAC_CACHE_DIR.
"""
import os
import random
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "state"))
from e2e_kvstore import (DATABASE, PASSWORD, Redis, cmd,  # noqa: E402
                         redis_cmd, redis_env, serve)
from e2e_test import check, run_group, wait_until  # noqa: E402
from e2e_services import request  # noqa: E402

READ_TIMEOUT_S = 1.0


def env_for(port):
    env = redis_env(port)
    env["APP_REDIS_READ_TIMEOUT"] = "%dms" % int(READ_TIMEOUT_S * 1000)
    # room for a connection per waiting guest: the pool would open many,
    # the loops' pipes open one each
    env["APP_REDIS_POOL_SIZE"] = "64"
    # every client's guest admitted at once, as in the bench: a guest
    # waiting for admission hands its loop on and uses the pool
    env["APP_WASM_MAX_CONCURRENCY"] = "128"
    return env


def run_threads(count, target):
    """Runs target(i) on `count` threads at once; their results."""
    results = [None] * count
    start = threading.Barrier(count)

    def body(i):
        start.wait()
        results[i] = target(i)
    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def connections_received(port):
    info = redis_cmd(port, ["AUTH", PASSWORD], ["INFO", "stats"])
    for line in info.split(b"\r\n"):
        if line.startswith(b"total_connections_received:"):
            return int(line.split(b":")[1])
    raise RuntimeError("no total_connections_received in INFO")


def mixed_ops(server, client, ops, rng):
    """ops random operations on the client's 4 keys; the errors and the
    model of what its keys hold."""
    model, errors = {}, []
    for _ in range(ops):
        key = "c%d-k%d" % (client, rng.randrange(4))
        op = rng.choice(("set", "set", "get", "delete"))
        if op == "set":
            value = "v%d" % rng.randrange(1 << 30)
            want = (200, b"ok")
            model[key] = value
            body = "sdk set %s %s" % (key, value)
        elif op == "get":
            want = (200, model[key].encode()) if key in model else (404, None)
            body = "sdk get %s" % key
        else:
            want = (200, b"ok") if key in model else (404, None)
            model.pop(key, None)
            body = "sdk delete %s" % key
        status, _, got, _ = request(server, "POST", "/", body.encode())
        # a missing key fails kv_guest's call: a 500 naming the key
        if want[0] == 404:
            ok = status == 500 and b"not found" in got
        else:
            ok = status == 200 and got == want[1]
        if not ok:
            errors.append((body, status, got[:80], want))
    return errors, model


def stored_value(port, key):
    reply = redis_cmd(port, ["AUTH", PASSWORD], ["SELECT", DATABASE],
                      ["GET", key])
    body = reply.split(b"\r\n", 2)[2]  # after +OK +OK
    if body.startswith(b"$-1"):
        return None
    return body.split(b"\r\n")[1].decode()


def test_concurrent(workdir):
    clients, ops = 64, 40
    with Redis(workdir) as redis, serve(workdir, env_for(redis.port)) as srv:
        # one at a time, each on a new connection (spread over the
        # loops): every loop's pipe connects without a burst waiting (a
        # burst meets a pipe being connected uses the pool meanwhile)
        for n in range(20):
            cmd(srv, "sdk set warm up", 200, b"ok", what="warm-up")
        before = connections_received(redis.port)
        results = run_threads(clients, lambda i: mixed_ops(
            srv, i, ops, random.Random(i)))
        errors = [e for errs, _ in results for e in errs]
        check(not errors, "every answer as the model says (%d wrong: %r)"
              % (len(errors), errors[:3]))
        wrong = []
        for i, (_, model) in enumerate(results):
            for k in range(4):
                key = "c%d-k%d" % (i, k)
                if stored_value(redis.port, key) != model.get(key):
                    wrong.append(key)
        check(not wrong, "Redis holds exactly the model's values (%d keys "
              "differ: %r)" % (len(wrong), wrong[:5]))
        # our own connections count too: a GET per key, the second INFO
        guests = connections_received(redis.port) - before - clients * 4 - 1
        check(guests <= 4, "the guests' commands went through few "
              "connections (%d opened)" % guests)


def set_loop(server, client, count):
    """count sets; the statuses (None: the request failed or hung)."""
    statuses = []
    for n in range(count):
        status, _, _, secs = request(server, "POST", "/",
                                     b"sdk set k%d v%d" % (client, n),
                                     timeout=20)
        statuses.append(status)
    return statuses


def test_killed(workdir):
    redis = Redis(workdir)
    port = redis.port
    with serve(workdir, env_for(port)) as srv:
        cmd(srv, "sdk set a 1", 200, b"ok", what="redis up")
        killer = threading.Timer(0.3, lambda: redis.proc.kill())
        killer.start()
        t0 = time.time()
        results = run_threads(32, lambda i: set_loop(srv, i, 40))
        killer.join()
        redis.proc.wait()
        redis.log.close()
        statuses = [s for r in results for s in r]
        check(all(s in (200, 500) for s in statuses),
              "every request ended with 200 or 500 (%r)"
              % sorted(set(map(str, statuses))))
        check(500 in statuses, "requests after the kill answered 500")
        check(time.time() - t0 < 30, "no request hung (%.1fs)"
              % (time.time() - t0))
        redis = Redis(workdir, port)
        try:
            check(wait_until(lambda: request(srv, "GET", "/ready")[0] == 200,
                             10), "/ready is 200 once Redis is back")
            results = run_threads(32, lambda i: set_loop(srv, i, 20))
            statuses = [s for r in results for s in r]
            check(statuses.count(200) == len(statuses),
                  "after the restart every request succeeds (%d of %d)"
                  % (statuses.count(200), len(statuses)))
            cmd(srv, "sdk get k5", 200, b"v19", what="restarted: get")
        finally:
            redis.stop()


def timed_get(server, key):
    t0 = time.time()
    status = request(server, "POST", "/", b"sdk get " + key.encode(),
                     timeout=20)[0]
    return status, time.time() - t0


def test_stopped(workdir):
    with Redis(workdir) as redis, serve(workdir, env_for(redis.port)) as srv:
        cmd(srv, "sdk set a 1", 200, b"ok", what="redis up")
        redis.proc.send_signal(signal.SIGSTOP)
        try:
            out = []
            getter = threading.Thread(target=lambda: out.extend(
                run_threads(16, lambda i: timed_get(srv, "a"))))
            getter.start()
            health = []
            while getter.is_alive() and len(health) < 50:
                status, _, _, secs = request(srv, "GET", "/health",
                                             timeout=10)
                health.append((status, secs))
            getter.join()
            check(health and all(s == 200 for s, _ in health),
                  "/health answers while guests wait on a stopped Redis")
            slowest = max(secs for _, secs in health)
            check(slowest < 0.5, "/health at once (slowest %.2fs)" % slowest)
            check(all(s == 500 for s, _ in out),
                  "requests on a stopped Redis end with 500 (%r)" % out[:4])
            longest = max(secs for _, secs in out)
            print("stopped: longest %.2fs, /health slowest %.3fs" % (longest, slowest))
            check(longest < READ_TIMEOUT_S * 2 + 0.5,
                  "within the read timeout (longest %.1fs)" % longest)
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        check(wait_until(lambda: request(srv, "POST", "/", b"sdk get a")[0]
                         == 200, 10), "SIGCONT: requests succeed again")
        results = run_threads(16, lambda i: timed_get(srv, "a"))
        check(all(s == 200 for s, _ in results),
              "after SIGCONT every request succeeds (%r)" % results[:4])


def test_large(workdir):
    size = 1 << 20
    with Redis(workdir) as redis, serve(workdir, env_for(redis.port)) as srv:
        values = [(b"%c" % (ord("a") + i)) * size for i in range(8)]

        def set_get(i):
            st = request(srv, "POST", "/", b"sdk set big%d " % i + values[i])
            got = request(srv, "POST", "/", b"sdk get big%d" % i)
            return st[0], got[0], got[2] == values[i]
        results = run_threads(8, set_get)
        check(all(r == (200, 200, True) for r in results),
              "1 MiB values set and read back intact (%r)" % results)


def spin_then_set(server, i, spins):
    t0 = time.time()
    status, _, got, _ = request(
        server, "POST", "/", b"spin %d sdk set s%d v%d" % (spins, i, i),
        timeout=30)
    return status, got[:80], time.time() - t0


def test_takeover(workdir):
    """Guests that compute past the watchdog's period (APP_HANDOFF_MS)
    are taken over: their loop goes to another thread while they finish
    on theirs, then use the loop's pipe from that thread (mutex, command
    written by themselves, reply handed over through a condition
    variable) next to guests of the new driver."""
    spins = 0
    with Redis(workdir) as redis, serve(workdir, dict(
            env_for(redis.port), APP_REDIS_READ_TIMEOUT="5s",
            APP_HANDOFF_MS="5")) as srv:
        # a spin of at least 50 ms: several watchdog periods
        spins, took = 1 << 20, 0.0
        while took < 0.05 and spins < 1 << 34:
            spins *= 2
            t0 = time.time()
            cmd(srv, "spin %d sdk set warm x" % spins, 200, b"ok",
                what="calibrating the spin")
            took = time.time() - t0
        check(took >= 0.05, "a spin of 50 ms (%.3fs)" % took)

        def client(i):
            if i % 2 == 0:
                return spin_then_set(srv, i, spins)
            return mixed_ops(srv, 1000 + i, 30, random.Random(i))
        results = run_threads(16, client)
        spun = [r for i, r in enumerate(results) if i % 2 == 0]
        check(all(st == 200 and got == b"ok" for st, got, _ in spun),
              "taken-over guests' sets succeed (%r)" % spun[:3])
        slowest = max(secs for _, _, secs in spun)
        check(slowest < 4, "none waited for the read timeout (%.1fs)"
              % slowest)
        errors = [e for i, r in enumerate(results) if i % 2 for e in r[0]]
        check(not errors, "the other guests' answers as the model says "
              "(%r)" % errors[:3])
        for i in range(0, 16, 2):
            check(stored_value(redis.port, "s%d" % i) == "v%d" % i,
                  "s%d stored" % i)


GROUPS = {"concurrent": test_concurrent, "killed": test_killed,
          "stopped": test_stopped, "large": test_large,
          "takeover": test_takeover}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
