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
               connections all answer, in the order of their lengths; a
               short sleep that starts while a long one is suspended (its
               end is earlier than the one the timer is armed for) ends
               first"""
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


def sleep_on(conn, us):
    """One /sleep/<us> on an open connection: (status, slept ns as the
    guest measured it or None, seconds the client waited, end time)."""
    t0 = time.monotonic()
    conn.request("GET", "/sleep/%d" % us)
    res = conn.getresponse()
    res.read()
    end = time.monotonic()
    slept = res.getheader("X-Slept-Ns")
    return (res.status, int(slept) if slept and slept.isdigit() else None,
            end - t0, end)


def check_not_early(results, us, how, quiet=False):
    """Each result answered 200, slept and waited at least us; prints the
    lateness unless quiet."""
    statuses = [r[0] for r in results]
    check(all(s == 200 for s in statuses),
          "%s /sleep/%d answered 200 (%r)" % (how, us, statuses[:10]))
    slept = [r[1] for r in results if r[1] is not None]
    check(len(slept) == len(results) and min(slept) >= us * 1000,
          "%s /sleep/%d never slept less than %d ns in the guest (shortest "
          "%s)" % (how, us, us * 1000, min(slept) if slept else None))
    waited = min(r[2] for r in results)
    check(waited >= us / 1e6,
          "%s /sleep/%d was never answered before %d us (soonest %.0f us)"
          % (how, us, us, waited * 1e6))
    if slept and not quiet:
        late = sorted(s - us * 1000 for s in slept)
        print("%s /sleep/%d: %d answers, guest-measured lateness median "
              "%d us, max %d us" % (how, us, len(slept),
                                     late[len(late) // 2] // 1000,
                                     late[-1] // 1000))


def concurrently(port, lengths_us):
    """One request per length, each on its own connection, sent together
    (connected first, then released at once); results in the order of
    lengths_us."""
    conns = [https_client(port, tls=False) for _ in lengths_us]
    for conn in conns:
        conn.connect()
    results = [None] * len(lengths_us)
    start = threading.Barrier(len(lengths_us))

    def run(i):
        start.wait()
        try:
            results[i] = sleep_on(conns[i], lengths_us[i])
        except OSError as e:
            results[i] = (None, None, 0.0, time.monotonic())
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
                if result[1] is not None:
                    late.append(result[1] - us * 1000)
        late.sort()
        print("%d at once, 100-1839 us: guest-measured lateness median %d "
              "us, max %d us" % (len(batch), late[len(late) // 2] // 1000,
                                 late[-1] // 1000))


def test_concurrent(workdir):
    groups = [50000, 200000, 400000]
    per_group = 10
    with Server(workdir, module=TIMER_GUEST, tls=False,
                env=timer_env()) as server:
        # interleaved, so that the heap receives ends out of order
        lengths = [groups[i % 3] for i in range(3 * per_group)]
        results = concurrently(server.port, lengths)
        for us in groups:
            check_not_early([r for n, r in zip(lengths, results) if n == us],
                            us, "together")
        ends = {us: [r[3] for n, r in zip(lengths, results) if n == us]
                for us in groups}
        for shorter, longer in zip(groups, groups[1:]):
            check(max(ends[shorter]) < min(ends[longer]),
                  "every %d ms sleeper answered before every %d ms one"
                  % (shorter // 1000, longer // 1000))
        # a long sleep suspended first, then a short one: its end is before
        # the one the timer is armed for
        long_conn = https_client(server.port, tls=False)
        out = {}
        long_thread = threading.Thread(
            target=lambda: out.update(long=sleep_on(long_conn, 400000)))
        started = "started /sleep/400000"
        before = server.log_text().count(started)
        long_thread.start()
        check(wait_until(lambda: server.log_text().count(started) > before,
                         60), "the long sleeper started")
        short_conn = https_client(server.port, tls=False)
        out["short"] = sleep_on(short_conn, 50000)
        long_thread.join(120)
        check("long" in out and out["long"][0] == 200
              and out["short"][0] == 200,
              "the long and the short sleeper answered (%r)" % out)
        if "long" in out:
            check(out["short"][3] < out["long"][3],
                  "a short sleep started during a long one ended first")
            check_not_early([out["long"]], 400000, "long first")
            check_not_early([out["short"]], 50000, "short second")
        long_conn.close()
        short_conn.close()


GROUPS = {"never_early": test_never_early, "concurrent": test_concurrent}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
