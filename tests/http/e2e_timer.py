#!/usr/bin/env python3
"""Timed waits of suspended guests (docs/architecture.md, "Guests on
fibers"): a sleeping guest's wait ends in its loop's heap of wait ends,
rung by one timerfd at nanosecond precision. The guest
(tests/http/timer_guest.c) measures its own sleep on the monotonic clock
the host sleeps by and answers it in X-Slept-Ns. One event loop throughout,
so that every wait lands in the same heap.

Usage: e2e_timer.py <group>
  never_early  sleeps from 0 to 50 ms, sub-millisecond ones among them,
               one after another and many at once: none returns before its
               length (as the guest measured it, and as the client saw)
  concurrent   sleepers of 50, 200 and 400 ms started together on their own
               connections all answer, in the order of their ends (of two
               whose ends, start + length by the guest's clock, are 100 ms
               apart or more, the earlier wakes first, however the load
               spread their starts); a short sleep that starts while a
               long one is suspended (its end is earlier than the one the
               timer is armed for) ends first"""
import os
import sys
import threading
import time

from e2e_test import Server, check, https_client, run_group, wait_until

TIMER_GUEST = os.environ["TIMER_GUEST"]


def timer_env():
    return {"APP_EVENT_LOOPS": "1", "APP_HANDOFF_MS": "60000",
            "APP_MAX_THREADS_PER_LOOP": "256",
            "APP_WASM_MAX_CONCURRENCY": "64", "APP_WASM_TIMEOUT": "30s"}


def header_int(res, name):
    value = res.getheader(name)
    return int(value) if value and value.isdigit() else None


def sleep_on(conn, us):
    """One /sleep/<us> on an open connection: a dict with the status, the
    guest's measured sleep (slept, ns), its clock before and after the
    sleep (start, woke: ns), and the seconds the client waited."""
    t0 = time.monotonic()
    conn.request("GET", "/sleep/%d" % us)
    res = conn.getresponse()
    res.read()
    return {"us": us, "status": res.status,
            "slept": header_int(res, "X-Slept-Ns"),
            "start": header_int(res, "X-Slept-From"),
            "woke": header_int(res, "X-Woke-At"),
            "waited": time.monotonic() - t0}


FAILED = {"us": 0, "status": None, "slept": None, "start": None,
          "woke": None, "waited": 0.0}


def check_not_early(results, us, how, quiet=False):
    """Each result answered 200, slept and waited at least us; prints the
    lateness unless quiet."""
    statuses = [r["status"] for r in results]
    check(all(s == 200 for s in statuses),
          "%s /sleep/%d answered 200 (%r)" % (how, us, statuses[:10]))
    slept = [r["slept"] for r in results if r["slept"] is not None]
    check(len(slept) == len(results) and min(slept) >= us * 1000,
          "%s /sleep/%d never slept less than %d ns in the guest (shortest "
          "%s)" % (how, us, us * 1000, min(slept) if slept else None))
    waited = min(r["waited"] for r in results)
    check(waited >= us / 1e6,
          "%s /sleep/%d was never answered before %d us (soonest %.0f us)"
          % (how, us, us, waited * 1e6))
    if slept and not quiet:
        late = sorted(s - us * 1000 for s in slept)
        print("%s /sleep/%d: %d answers, guest-measured lateness median "
              "%d us, max %d us" % (how, us, len(slept),
                                     late[len(late) // 2] // 1000,
                                     late[-1] // 1000))


SEPARATION_NS = 100 * 1000 * 1000


def check_wake_order(results, how):
    """Of two sleepers whose ends (start + length, by the guest's clock)
    are at least SEPARATION_NS apart, the earlier end woke first, however
    their starts were spread by the load. Returns the pairs compared."""
    timed = [r for r in results if r["start"] is not None and
             r["woke"] is not None]
    pairs = wrong = 0
    for a in timed:
        for b in timed:
            if a["start"] + a["us"] * 1000 + SEPARATION_NS > \
                    b["start"] + b["us"] * 1000:
                continue
            pairs += 1
            if a["woke"] >= b["woke"]:
                wrong += 1
                print("%s: /sleep/%d woke at +%d us after /sleep/%d at +%d"
                      % (how, a["us"], a["woke"] - a["start"], b["us"],
                         b["woke"] - b["start"]))
    check(wrong == 0, "%s: %d of %d well-separated pairs woke out of order"
          % (how, wrong, pairs))
    return pairs


def concurrently(port, lengths_us):
    """One request per length, each on its own connection, sent together
    (connected first, then released at once); results in the order of
    lengths_us."""
    conns = [https_client(port, tls=False) for _ in lengths_us]
    for conn in conns:
        conn.connect()
    results = [dict(FAILED) for _ in lengths_us]
    start = threading.Barrier(len(lengths_us))

    def run(i):
        start.wait()
        try:
            results[i] = sleep_on(conns[i], lengths_us[i])
        except OSError as e:
            print("request %d failed: %r" % (i, e))
        finally:
            conns[i].close()

    threads = [threading.Thread(target=run, args=(i,))
               for i in range(len(lengths_us))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_never_early(workdir):
    lengths = [0, 1, 50, 300, 999, 1000, 1001, 1500, 2500, 10000, 50000]
    with Server(workdir, module=TIMER_GUEST, tls=False,
                env=timer_env()) as server:
        conn = https_client(server.port, tls=False)
        for us in lengths:  # one after another, on one connection
            check_not_early([sleep_on(conn, us) for _ in range(20)], us,
                            "in sequence")
        conn.close()
        # many at once, ends a few microseconds apart: a full heap
        batch = [100 + 37 * i for i in range(48)]
        late = []
        for _ in range(5):
            results = concurrently(server.port, batch)
            for us, result in zip(batch, results):
                check_not_early([result], us, "in a batch", quiet=True)
                if result["slept"] is not None:
                    late.append(result["slept"] - us * 1000)
        late.sort()
        if late:
            print("%d at once, 100-1839 us: guest-measured lateness median "
                  "%d us, max %d us" % (len(batch), late[len(late) // 2] //
                                        1000, late[-1] // 1000))


def test_concurrent(workdir):
    groups = [50000, 200000, 400000]
    per_group = 10
    with Server(workdir, module=TIMER_GUEST, tls=False,
                env=timer_env()) as server:
        # interleaved, so that the heap receives ends out of order
        lengths = [groups[i % 3] for i in range(3 * per_group)]
        results = concurrently(server.port, lengths)
        for us in groups:
            check_not_early([r for r in results if r["us"] == us], us,
                            "together")
        pairs = check_wake_order(results, "together")
        print("together: %d well-separated pairs compared" % pairs)
        check(pairs > 0, "sleepers started close enough to be compared")
        # a long sleep suspended first, then a short one: its end is before
        # the one the timer is armed for
        long_conn = https_client(server.port, tls=False)
        out = {}
        started = "started /sleep/400000"
        before = server.log_text().count(started)
        long_thread = threading.Thread(
            target=lambda: out.update(long=sleep_on(long_conn, 400000)))
        long_thread.start()
        check(wait_until(lambda: server.log_text().count(started) > before,
                         60), "the long sleeper started")
        short_conn = https_client(server.port, tls=False)
        out["short"] = sleep_on(short_conn, 50000)
        long_thread.join(120)
        check("long" in out, "the long sleeper answered")
        if "long" in out:
            check_not_early([out["long"]], 400000, "long first")
            check_not_early([out["short"]], 50000, "short second")
            pairs = check_wake_order([out["long"], out["short"]],
                                     "short during long")
            print("short during long: %d pair(s) compared" % pairs)
        long_conn.close()
        short_conn.close()


GROUPS = {"never_early": test_never_early, "concurrent": test_concurrent}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
