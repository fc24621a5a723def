#!/usr/bin/env python3
"""bench/http: wrk against the hello function served by Tarmac and, in the
same run, against nginx returning the same body over the same number of
connections; prints both request rates and their ratio, for HTTP/1.1
keep-alive over plain HTTP and over TLS.

usage: run_bench.py TARMAC_BIN GUEST_WASM [--duration S] [--connections N]
                    [--threads N] [--rounds N]
                    [--fresh-vs-reuse | --routes | --sleep | --kvstore]
                    [--baseline OTHER_TARMAC_BIN]
GUEST_WASM is the hello function, except with --sleep (the 1 ms sleeping
guest, bench/http/sleep_guest.c) and --kvstore (the kvstore get guest,
bench/http/kv_guest.c).
--fresh-vs-reuse compares Tarmac with itself instead: fresh instances (the
default) against APP_WASM_REUSE_INSTANCES=true, same binary, plain HTTP.
--routes compares, in one run over plain HTTP, single-function mode with
metrics off (the baseline), a 50-route service file with metrics off, and
the same service with metrics on: the cost of routing and of metrics.
--sleep compares, over plain HTTP, a guest that sleeps 1 ms per request
(WASI poll_oneoff) with the hand-off before waits on (the default) and off
(APP_HANDOFF_BEFORE_WAIT=false): the guest's fiber is suspended for
the sleep (or, off a fiber, the loop is handed to a spare thread), or the
loop is held until the watchdog's period. Target: 20,000
req/s at 64 connections on 2 cores with it on.
--kvstore compares one kvstore get per request on APP_KVSTORE_TYPE=in-memory
and on redis (redis-server started here on a free port in a temporary
directory). Target: redis at least 50% of in-memory.
Both give the server threads and concurrency for every connection to wait
at once (APP_MAX_THREADS_PER_LOOP, APP_WASM_MAX_CONCURRENCY), and print
the CPU time per request of each server (and of redis-server): utime +
stime from /proc over each run divided by its requests, median of the
rounds, after a 1 s warm-up, with the load average.
--baseline OTHER_TARMAC_BIN (with --sleep or --kvstore): the second server
is that build in the same mode (hand-off on; redis), to measure a change
before and after side by side.
TARMAC_BIN is run as `TARMAC_BIN serve`. Needs wrk, nginx (nginx-light),
openssl: bench/http/install-tools.sh installs them (the bench-http build
target runs it first). TARMAC_CACHE_DIR is honoured.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BODY = "hello"

POST_LUA = """
wrk.method = "POST"
wrk.body = "%s"
wrk.headers["Content-Type"] = "text/plain"
""" % BODY

NGINX_CONF = """
worker_processes %(workers)d;
daemon off;
user root;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  server {
    listen 127.0.0.1:%(plain)d reuseport;
    listen 127.0.0.1:%(tls)d ssl reuseport;
    ssl_certificate %(cert)s;
    ssl_certificate_key %(key)s;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      default_type text/plain;
      return 200 "%(body)s";
    }
  }
}
"""


def free_ports(names):
    """Distinct free ports (all held open until every one is chosen)."""
    holders = []
    for _ in names:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        holders.append(s)
    ports = {name: s.getsockname()[1] for name, s in zip(names, holders)}
    for s in holders:
        s.close()
    return ports


def wait_port(port, proc, what):
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("%s exited during start-up" % what)
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit("%s did not start" % what)


def wrk_run(url, script, args):
    """One wrk run: (requests per second, requests completed)."""
    out = subprocess.run(
        ["wrk", "-t%d" % args.threads, "-c%d" % args.connections,
         "-d%ds" % args.duration, "-s", script, url],
        capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if rate is None or count is None:
        sys.exit("wrk gave no rate:\n" + out)
    if errors:
        sys.exit("wrk saw %s error responses from %s" % (errors.group(1), url))
    return float(rate.group(1)), int(count.group(1))


def wrk(url, script, args):
    return wrk_run(url, script, args)[0]


def cpu_seconds(pid):
    """utime + stime of a process (all its threads) from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_tarmac(args, port, tls, cert, key, extra=None, binary=None):
    env = dict(os.environ, APP_LISTEN_ADDR="127.0.0.1:%d" % port,
               APP_ENABLE_TLS=tls, APP_CERT_FILE=cert, APP_KEY_FILE=key,
               APP_WASM_MODULE=args.hello_wasm,
               APP_EVENT_LOOPS=str(os.cpu_count() or 1), **(extra or {}))
    proc = subprocess.Popen([binary or args.tarmac_bin, "serve"], env=env,
                            stdout=subprocess.DEVNULL)
    wait_port(port, proc, "tarmac")
    return proc


def median_rates(urls, script, args, pids=None):
    """Alternates wrk over the urls `rounds` times (so other load on the
    machine hits all alike); the median rate of each. With pids (a list
    of process ids per url), also prints the CPU time those processes took
    per request (utime + stime over the run / requests; the median of the
    rounds), a figure less at the mercy of other load than the rate."""
    rates = [[] for _ in urls]
    cpu = [[] for _ in urls]
    if pids:  # threads, pooled instances and connections made before
        for url in urls:
            subprocess.run(["wrk", "-t%d" % args.threads,
                            "-c%d" % args.connections, "-d1s", "-s", script,
                            url], capture_output=True, check=True)
    for _ in range(args.rounds):
        for i, url in enumerate(urls):
            watched = pids[i] if pids else []
            before = [cpu_seconds(p) for p in watched]
            rate, count = wrk_run(url, script, args)
            after = [cpu_seconds(p) for p in watched]
            rates[i].append(rate)
            cpu[i].append([1e6 * (a - b) / max(count, 1)
                           for a, b in zip(after, before)])
    if pids:
        print("CPU per request (us, median of %d runs; load average %s):"
              % (args.rounds, " ".join("%.1f" % x for x in os.getloadavg())))
        for i, url in enumerate(urls):
            per = [sorted(run[j] for run in cpu[i])[len(cpu[i]) // 2]
                   for j in range(len(pids[i]))]
            print("  %s: %s" % (url, ", ".join("%.1f" % x for x in per)))
    return [sorted(r)[len(r) // 2] for r in rates]


def fresh_vs_reuse(args, d, script):
    cert, key = os.path.join(d, "cert.crt"), os.path.join(d, "key.key")
    ports = free_ports(["fresh", "reuse"])
    procs = []
    try:
        procs.append(start_tarmac(args, ports["fresh"], "false", cert, key))
        procs.append(start_tarmac(args, ports["reuse"], "false", cert, key,
                                  {"APP_WASM_REUSE_INSTANCES": "true"}))
        urls = ["http://127.0.0.1:%d/" % ports[n] for n in ("fresh", "reuse")]
        fresh, reuse = median_rates(urls, script, args)
        print("wrk: %d threads, %d connections, %d s per run, median of %d "
              "alternating runs, POST %r, HTTP/1.1 keep-alive, plain HTTP"
              % (args.threads, args.connections, args.duration, args.rounds,
                 BODY))
        print("%14s %14s %8s" % ("fresh req/s", "reuse req/s", "ratio"))
        print("%14.0f %14.0f %7.0f%%" % (fresh, reuse, 100.0 * fresh / reuse))
    finally:
        stop(procs)


def service_file(d, hello_wasm):
    """50 HTTP routes to one seed-contract function (the hello guest):
    literals and parameters, several depths; the benchmark requests the
    last one added, with two parameters."""
    import json
    routes = []
    for i in range(48):
        routes.append({"type": "http", "path": "/api/v1/items%d" % i,
                       "methods": ["GET", "POST"], "function": "hello"})
    routes.append({"type": "http", "path": "/api/v1/users/:id",
                   "methods": ["GET"], "function": "hello"})
    routes.append({"type": "http", "path": "/api/v1/users/:id/orders/:order",
                   "methods": ["POST"], "function": "hello"})
    doc = {"services": {"bench": {
        "name": "bench",
        "functions": {"hello": {"filepath": hello_wasm, "contract": "seed"}},
        "routes": routes}}}
    path = os.path.join(d, "tarmac.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def routes_and_metrics(args, d, script):
    cert, key = os.path.join(d, "cert.crt"), os.path.join(d, "key.key")
    config = service_file(d, os.path.abspath(args.hello_wasm))
    ports = free_ports(["single", "routes", "metrics"])
    procs = []
    try:
        procs.append(start_tarmac(args, ports["single"], "false", cert, key,
                                  {"APP_ENABLE_METRICS": "false"}))
        procs.append(start_tarmac(args, ports["routes"], "false", cert, key,
                                  {"APP_WASM_FUNCTION_CONFIG": config,
                                   "APP_ENABLE_METRICS": "false"}))
        procs.append(start_tarmac(args, ports["metrics"], "false", cert, key,
                                  {"APP_WASM_FUNCTION_CONFIG": config}))
        path = "/api/v1/users/42/orders/7"
        urls = ["http://127.0.0.1:%d%s" % (ports["single"], path),
                "http://127.0.0.1:%d%s" % (ports["routes"], path),
                "http://127.0.0.1:%d%s" % (ports["metrics"], path)]
        single, routed, metered = median_rates(urls, script, args)
        print("wrk: %d threads, %d connections, %d s per run, median of %d "
              "alternating runs, POST %r %s, HTTP/1.1 keep-alive, plain HTTP"
              % (args.threads, args.connections, args.duration, args.rounds,
                 BODY, path))
        print("%14s %14s %8s %14s %8s" % ("single req/s", "50 routes", "ratio",
                                          "+ metrics", "ratio"))
        print("%14.0f %14.0f %7.0f%% %14.0f %7.0f%%" % (
            single, routed, 100.0 * routed / single, metered,
            100.0 * metered / single))
    finally:
        stop(procs)


def waiting_env(args):
    """Room for every connection's request to wait at once: threads on any
    one loop (the kernel spreads connections over the loops unevenly) and
    guest concurrency."""
    return {"APP_MAX_THREADS_PER_LOOP": str(args.connections + 2),
            "APP_WASM_MAX_CONCURRENCY": str(args.connections * 2),
            "APP_ENABLE_METRICS": "false"}


def print_pair(what, args, labels, rates):
    print("wrk: %d threads, %d connections, %d s per run, median of %d "
          "alternating runs, %d cores, POST %r, HTTP/1.1 keep-alive, plain "
          "HTTP; %s" % (args.threads, args.connections, args.duration,
                        args.rounds, os.cpu_count() or 1, BODY, what))
    print("%18s %18s %8s" % (labels[0] + " req/s", labels[1] + " req/s",
                             "ratio"))
    print("%18.0f %18.0f %7.0f%%" % (rates[0], rates[1],
                                     100.0 * rates[0] / rates[1]))


def sleeping(args, d, script):
    cert, key = os.path.join(d, "cert.crt"), os.path.join(d, "key.key")
    ports = free_ports(["before", "held"])
    procs = []
    try:
        env = waiting_env(args)
        procs.append(start_tarmac(args, ports["before"], "false", cert, key,
                                  dict(env, APP_HANDOFF_BEFORE_WAIT="true")))
        # the other server: the knob off, or the baseline build with it on
        procs.append(start_tarmac(
            args, ports["held"], "false", cert, key,
            dict(env, APP_HANDOFF_BEFORE_WAIT=(
                "true" if args.baseline else "false")), args.baseline))
        urls = ["http://127.0.0.1:%d/" % ports[n] for n in ("before", "held")]
        print("CPU per request: each server")
        rates = median_rates(urls, script, args,
                             [[procs[0].pid], [procs[1].pid]])
        print_pair("guest sleeps 1 ms per request (poll_oneoff)", args,
                   ["hand-off before", "baseline" if args.baseline
                    else "knob off"], rates)
    finally:
        stop(procs)


def start_redis(d):
    """redis-server on a free port, its files in d, nothing saved."""
    port = free_ports(["redis"])["redis"]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--dir", d, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL)
    wait_port(port, proc, "redis-server")
    return proc, port


def kvstore(args, d, script):
    cert, key = os.path.join(d, "cert.crt"), os.path.join(d, "key.key")
    ports = free_ports(["memory", "redis"])
    procs = []
    try:
        redis, redis_port = start_redis(d)
        procs.append(redis)
        env = dict(waiting_env(args), APP_ENABLE_KVSTORE="true")
        redis_env = dict(env, APP_KVSTORE_TYPE="redis",
                         APP_REDIS_SERVER="127.0.0.1:%d" % redis_port,
                         # a connection for every request that may wait
                         APP_REDIS_POOL_SIZE=str(args.connections))
        # the other server: in-memory, or the baseline build on redis
        procs.append(start_tarmac(
            args, ports["memory"], "false", cert, key,
            redis_env if args.baseline else
            dict(env, APP_KVSTORE_TYPE="in-memory"), args.baseline))
        procs.append(start_tarmac(args, ports["redis"], "false", cert, key,
                                  redis_env))
        urls = ["http://127.0.0.1:%d/" % ports[n] for n in ("redis", "memory")]
        other = "baseline on redis" if args.baseline else "in-memory"
        print("CPU per request: the redis server, redis-server; the %s "
              "server%s" % (other, ", redis-server" if args.baseline else ""))
        rates = median_rates(urls, script, args,
                             [[procs[2].pid, redis.pid],
                              [procs[1].pid] + ([redis.pid] if args.baseline
                                                else [])])
        print_pair("one kvstore get per request (JSON form)", args,
                   ["redis", other], rates)
    finally:
        stop(procs)


def stop(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tarmac_bin")
    parser.add_argument("hello_wasm")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fresh-vs-reuse", action="store_true")
    parser.add_argument("--routes", action="store_true")
    parser.add_argument("--sleep", action="store_true")
    parser.add_argument("--kvstore", action="store_true")
    parser.add_argument("--baseline", metavar="OTHER_TARMAC_BIN",
                        help="with --sleep or --kvstore: the other server is "
                        "this build in the same mode (before/after)")
    args = parser.parse_args()
    search = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    tools = ["wrk", "openssl"]
    if args.kvstore:
        tools.append("redis-server")
    if not (args.sleep or args.kvstore):
        tools.append("nginx")
    for tool in tools:
        if shutil.which(tool, path=search) is None:
            sys.exit("run_bench: %s is missing; run bench/http/install-tools.sh"
                     % tool)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "cert.crt"), os.path.join(d, "key.key")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
             "-out", cert, "-subj", "/CN=localhost", "-days", "2"],
            check=True, capture_output=True)
        script = os.path.join(d, "post.lua")
        with open(script, "w") as f:
            f.write(POST_LUA)
        if args.fresh_vs_reuse:
            fresh_vs_reuse(args, d, script)
            return 0
        if args.routes:
            routes_and_metrics(args, d, script)
            return 0
        if args.sleep:
            sleeping(args, d, script)
            return 0
        if args.kvstore:
            kvstore(args, d, script)
            return 0
        ports = free_ports(["tarmac_plain", "tarmac_tls", "nginx_plain",
                            "nginx_tls"])
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {"workers": cores, "dir": d,
                                  "plain": ports["nginx_plain"],
                                  "tls": ports["nginx_tls"], "cert": cert,
                                  "key": key, "body": BODY})
        procs = []
        try:
            nginx = subprocess.Popen(["nginx", "-p", d, "-c", conf],
                                     stderr=subprocess.DEVNULL)
            procs.append(nginx)
            for name, tls in [("tarmac_plain", "false"), ("tarmac_tls", "true")]:
                procs.append(start_tarmac(args, ports[name], tls, cert, key))
            wait_port(ports["nginx_plain"], nginx, "nginx")
            print("wrk: %d threads, %d connections, %d s per run, median of "
                  "%d alternating runs, %d cores, POST %r, HTTP/1.1 keep-alive"
                  % (args.threads, args.connections, args.duration,
                     args.rounds, cores, BODY))
            print("%-10s %14s %14s %8s" % ("transport", "tarmac req/s",
                                           "nginx req/s", "ratio"))
            for label, scheme, t_port, n_port in [
                    ("http", "http", ports["tarmac_plain"], ports["nginx_plain"]),
                    ("https", "https", ports["tarmac_tls"], ports["nginx_tls"])]:
                n_url = "%s://127.0.0.1:%d/" % (scheme, n_port)
                t_url = "%s://127.0.0.1:%d/" % (scheme, t_port)
                n_rate, t_rate = median_rates([n_url, t_url], script, args)
                print("%-10s %14.0f %14.0f %7.0f%%" %
                      (label, t_rate, n_rate, 100.0 * t_rate / n_rate),
                      flush=True)
        finally:
            stop(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
