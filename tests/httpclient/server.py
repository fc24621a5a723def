#!/usr/bin/env python3
"""The servers the tarmac/httpclient/call tests talk to, on free ports of
127.0.0.1: HTTP, HTTPS (a self-signed certificate made with openssl in a
temporary directory), and a "stuck" port whose accept queue is full, so
connecting to it never completes (the connect timeout).

Prints one line "READY <http> <https> <stuck>" when every socket listens
(the tests' readiness signal), then serves until stdin closes (the test
process holds the pipe, so the servers die with it).

Paths (any method):
  /echo              200; body = the request body; headers X-Method (the
                     method), X-Got-<name> for each request header (all
                     values joined by ", "), X-Multi twice (a, b), and
                     X-Peer-Port (the client's port: connection reuse),
                     X-Latin1 (a value that is not UTF-8)
  /redirect/<n>      302 to /redirect/<n-1>; /redirect/0 is /echo
  /goto?<url>        302 to the URL (percent-encoded)
  /see-other         303 to /echo
  /big/<n>           200 with n bytes of 'x' (Content-Length set)
  /stream/<n>        200 with n bytes, chunked (no Content-Length)
  /hang              reads the request, never answers
  /headers/<n>       200 with n headers X-H-<i>
"""
import http.server
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def echo(self, data):
        headers = [("X-Method", self.command), ("X-Multi", "a"), ("X-Multi", "b"),
                   ("X-Latin1", "caf\xe9"),  # sent as one byte 0xE9: not UTF-8
                   ("X-Peer-Port", str(self.client_address[1]))]
        for name in sorted(set(self.headers.keys())):
            headers.append(("X-Got-" + name, ", ".join(self.headers.get_all(name))))
        self.send(200, data, headers)

    def stream(self, n):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        while n > 0:
            part = chunk[: min(n, len(chunk))]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            n -= len(part)
        self.wfile.write(b"0\r\n\r\n")

    def handle_any(self):
        data = self.body()
        path, _, query = self.path.partition("?")
        parts = path.strip("/").split("/")
        if parts[0] == "echo":
            self.echo(data)
        elif parts[0] == "redirect":
            n = int(parts[1])
            self.send(302, b"", [("Location", "/redirect/%d" % (n - 1) if n > 0 else "/echo")])
        elif parts[0] == "goto":
            self.send(302, b"", [("Location", urllib.parse.unquote(query))])
        elif parts[0] == "see-other":
            self.send(303, b"", [("Location", "/echo")])
        elif parts[0] == "big":
            self.send(200, b"x" * int(parts[1]))
        elif parts[0] == "stream":
            self.stream(int(parts[1]))
        elif parts[0] == "headers":
            self.send(200, b"", [("X-H-%d" % i, "v") for i in range(int(parts[1]))])
        elif parts[0] == "hang":
            threading.Event().wait()
        else:
            self.send(404, b"no such path")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any
    do_OPTIONS = do_PURGE = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def self_signed(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def stuck_port():
    """A listener that never accepts, its queue filled: SYNs are dropped."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    return s, fillers, port


def main():
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(tmp)
        plain = Server(("127.0.0.1", 0), Handler)
        tls = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        stuck, fillers, stuck_at = stuck_port()
        for s in (plain, tls):
            threading.Thread(target=s.serve_forever, daemon=True).start()
        print("READY %d %d %d" % (plain.server_address[1], tls.server_address[1], stuck_at),
              flush=True)
        sys.stdin.read()  # until the test closes the pipe (or dies)
        plain.shutdown()
        tls.shutdown()
        stuck.close()
        for c in fillers:
            c.close()


if __name__ == "__main__":
    main()
