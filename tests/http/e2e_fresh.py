#!/usr/bin/env python3
"""End-to-end tests of fresh instances: a guest that keeps every request
body in a global and answers the previous one (http_guest's /previous).

usage: e2e_fresh.py GROUP   (isolation reuse budget)
  isolation  fresh instances (the default): 10,000 requests with unique
             bodies over 8 keep-alive connections; every answer is empty,
             so no request ever sees another's data
  reuse      APP_WASM_REUSE_INSTANCES=true: the same guest does hand
             earlier bodies to later requests (the check above can fail)
  budget     a process guest memory budget with room for the snapshot and
             one instance: a second request while the first runs is
             answered 503, and served again once the first is done
Environment: as e2e_test.py.
"""
import sys
import threading
import time

from e2e_test import (Server, check, https_client, run_group, start_request,
                      wait_for_log)

CONNECTIONS = 8
REQUESTS = 10000


def run_clients(server):
    """Sends REQUESTS unique bodies over CONNECTIONS connections; returns
    the (status, answer) pairs and the errors."""
    answers, errors = [], []
    lock = threading.Lock()

    def client(n):
        conn = https_client(server.port, tls=False)
        mine = []
        try:
            for i in range(REQUESTS // CONNECTIONS):
                body = ("secret-%d-%d" % (n, i)).encode()
                conn.request("POST", "/previous", body=body)
                res = conn.getresponse()
                mine.append((res.status, res.read()))
        except Exception as e:  # noqa: BLE001 - report any client failure
            errors.append((n, repr(e)))
        finally:
            conn.close()
        with lock:
            answers.extend(mine)

    threads = [threading.Thread(target=client, args=(n,))
               for n in range(CONNECTIONS)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("%d requests over %d connections in %.1f s"
          % (len(answers), CONNECTIONS, time.time() - start))
    return answers, errors


def test_isolation(workdir):
    with Server(workdir, tls=False) as server:
        answers, errors = run_clients(server)
    check(not errors, "no client failed: %r" % errors[:3])
    check(len(answers) == REQUESTS, "%d answers" % len(answers))
    bad = [a for a in answers if a != (200, b"")]
    check(not bad, "every fresh instance answers empty, none another "
          "request's body: %d did not, e.g. %r" % (len(bad), bad[:3]))


def test_reuse(workdir):
    env = {"APP_WASM_REUSE_INSTANCES": "true"}
    with Server(workdir, tls=False, env=env) as server:
        answers, errors = run_clients(server)
    check(not errors, "no client failed: %r" % errors[:3])
    leaked = [a for a in answers if a[0] == 200 and a[1].startswith(b"secret-")]
    print("%d of %d answers carried an earlier request's body"
          % (len(leaked), len(answers)))
    check(len(leaked) > REQUESTS // 2,
          "reused instances keep the guest's global between requests")


# http_guest's memory: 6 pages of 64 KiB. Twice that holds the snapshot's
# image (its non-zero pages: more than none, less than the memory) and one
# instance, not two.
GUEST_MEMORY = 6 * 65536


def test_budget(workdir):
    # a pool of 2: the second instance is refused by the budget, not by
    # the pool's bound
    env = {"APP_WASM_POOL_SIZE": "2",
           "APP_WASM_MEMORY_TOTAL_LIMIT": str(2 * GUEST_MEMORY)}
    with Server(workdir, env=env) as server:
        check("guest memory budget %d bytes" % (2 * GUEST_MEMORY)
              in server.log_text(), "the budget is logged at start")
        slow, slow_result = start_request(server, "/sleep/3000")
        wait_for_log(server, "started /sleep/3000")
        busy, busy_result = start_request(server, "/echo")
        busy.join()
        check(busy_result.get("status") == 503 and
              b"budget" in busy_result.get("body", b""),
              "a second instance past the budget is a 503: %r" % busy_result)
        slow.join()
        check(slow_result.get("status") == 200, "the first request finished")
        again, again_result = start_request(server, "/echo")
        again.join()
        check(again_result.get("status") == 200,
              "served again once the budget has room: %r" % again_result)


GROUPS = {"isolation": test_isolation, "reuse": test_reuse,
          "budget": test_budget}

if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
