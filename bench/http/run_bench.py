#!/usr/bin/env python3
"""bench/http: wrk against the hello function served by Tarmac and, in the
same run, against nginx returning the same body over the same number of
connections; prints both request rates and their ratio, for HTTP/1.1
keep-alive over plain HTTP and over TLS.

usage: run_bench.py TARMAC_BIN HELLO_WASM [--duration S] [--connections N]
                    [--threads N] [--rounds N]
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


def wrk(url, script, args):
    out = subprocess.run(
        ["wrk", "-t%d" % args.threads, "-c%d" % args.connections,
         "-d%ds" % args.duration, "-s", script, url],
        capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if rate is None:
        sys.exit("wrk gave no rate:\n" + out)
    if errors:
        sys.exit("wrk saw %s error responses from %s" % (errors.group(1), url))
    return float(rate.group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tarmac_bin")
    parser.add_argument("hello_wasm")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    search = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    for tool in ("wrk", "nginx", "openssl"):
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
                env = dict(os.environ, APP_LISTEN_ADDR="127.0.0.1:%d" % ports[name],
                           APP_ENABLE_TLS=tls, APP_CERT_FILE=cert,
                           APP_KEY_FILE=key, APP_WASM_MODULE=args.hello_wasm,
                           APP_EVENT_LOOPS=str(cores))
                procs.append(subprocess.Popen([args.tarmac_bin, "serve"],
                                              env=env, stdout=subprocess.DEVNULL))
                wait_port(ports[name], procs[-1], "tarmac")
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
                # alternate the two servers and keep the median of each, so
                # that other load on the machine hits both alike
                n_rates, t_rates = [], []
                for _ in range(args.rounds):
                    n_rates.append(wrk(n_url, script, args))
                    t_rates.append(wrk(t_url, script, args))
                n_rate = sorted(n_rates)[len(n_rates) // 2]
                t_rate = sorted(t_rates)[len(t_rates) // 2]
                print("%-10s %14.0f %14.0f %7.0f%%" %
                      (label, t_rate, n_rate, 100.0 * t_rate / n_rate),
                      flush=True)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
