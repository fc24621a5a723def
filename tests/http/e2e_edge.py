#!/usr/bin/env python3
"""End-to-end tests of the server's edge: TLS cipher suites and protocol
versions, and clients that do not read their responses (send timeout and
the bound on buffered response bytes).

usage: e2e_edge.py GROUP   (tls slow_readers)
Environment: as e2e_test.py.
"""
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

from e2e_test import Server, check, curl, run_group


def make_rsa_cert(directory):
    cert = os.path.join(directory, "rsa.crt")
    key = os.path.join(directory, "rsa.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", cert, "-subj", "/CN=localhost", "-days", "2"],
        check=True, capture_output=True)
    return cert, key


def handshake(server, *args):
    """Runs openssl s_client with args; returns the negotiated cipher, or
    None when the handshake failed."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.port,
           "-servername", "localhost"] + list(args)
    out = subprocess.run(cmd, input=b"", capture_output=True, timeout=30)
    text = out.stdout.decode("latin-1")
    match = re.search(r"Cipher is (\S+)", text)
    if out.returncode != 0 or match is None or match.group(1) == "(NONE)":
        return None
    return match.group(1)


# Every client offer is made at security level 0, so that a refusal is the
# server's and not the client's own policy.
def offer(cipher):
    return ["-tls1_2", "-cipher", cipher + ":@SECLEVEL=0"]


def test_tls(workdir):
    rsa_cert, rsa_key = make_rsa_cert(workdir)
    with Server(workdir, env={"APP_CERT_FILE": rsa_cert,
                              "APP_KEY_FILE": rsa_key}) as server:
        for refused in ["AES128-SHA", "AES256-GCM-SHA384",
                        "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384"]:
            got = handshake(server, *offer(refused))
            check(got is None, "RSA certificate: TLS 1.2 %s refused (got %s)"
                  % (refused, got))
        for accepted in ["ECDHE-RSA-AES128-GCM-SHA256",
                         "ECDHE-RSA-AES256-GCM-SHA384",
                         "ECDHE-RSA-CHACHA20-POLY1305"]:
            got = handshake(server, *offer(accepted))
            check(got == accepted, "RSA certificate: TLS 1.2 %s accepted "
                  "(got %s)" % (accepted, got))
        got = handshake(server, "-tls1_1", "-cipher", "ALL:@SECLEVEL=0")
        check(got is None, "TLS 1.1 refused (got %s)" % got)
        got = handshake(server, "-tls1_3")
        check(got is not None and got.startswith("TLS_"),
              "TLS 1.3 accepted (got %s)" % got)
    with Server(workdir) as server:  # e2e_test makes an EC certificate
        for refused in ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                        "ECDHE-ECDSA-AES128-SHA256"]:
            got = handshake(server, *offer(refused))
            check(got is None, "EC certificate: TLS 1.2 %s refused (got %s)"
                  % (refused, got))
        for accepted in ["ECDHE-ECDSA-AES128-GCM-SHA256",
                         "ECDHE-ECDSA-AES256-GCM-SHA384",
                         "ECDHE-ECDSA-CHACHA20-POLY1305"]:
            got = handshake(server, *offer(accepted))
            check(got == accepted, "EC certificate: TLS 1.2 %s accepted "
                  "(got %s)" % (accepted, got))
        got = handshake(server, "-tls1_1", "-cipher", "ALL:@SECLEVEL=0")
        check(got is None, "TLS 1.1 refused with an EC certificate (got %s)"
              % got)


# ------------------------------------------------------------ slow readers

BIG_COUNT = 2796203            # /repeat/BIG_COUNT: 8 MiB + 1 byte
BIG_LEN = 3 * BIG_COUNT
SEND_TIMEOUT_MS = 4000
BOUND_MIB = 64


def tls_socket(port, alpn):
    """A TLS connection with a tiny receive buffer, so that a client that
    does not read stalls the server's writes at once."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([alpn])
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(60)
    raw.connect(("127.0.0.1", port))
    return ctx.wrap_socket(raw, server_hostname="localhost")


def http1_stalled(port, path):
    """Sends a request and reads only the response head; returns (socket,
    status, headers)."""
    sock = tls_socket(port, "http/1.1")
    sock.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path)
                 .encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise RuntimeError("connection closed in the response head")
        head += byte
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return sock, int(lines[0].split()[1]), headers


def h2_frame(kind, flags, stream, payload):
    return (struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) +
            struct.pack(">I", stream) + payload)


def h2_read_frame(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise RuntimeError("HTTP/2 connection closed")
            data += chunk
        return data
    head = exactly(9)
    length = struct.unpack(">I", b"\0" + head[:3])[0]
    return head[3], struct.unpack(">I", head[5:9])[0] & 0x7fffffff, \
        exactly(length)


def h2_stalled(port, path):
    """Opens HTTP/2 with huge flow-control windows, sends one request and
    reads up to its response HEADERS; returns the socket and the status
    byte of the HPACK block (0x88 is :status 200 from the static table)."""
    sock = tls_socket(port, "h2")
    check(sock.selected_alpn_protocol() == "h2", "ALPN h2 for the h2 client")
    block = (b"\x82\x87" + b"\x04" + bytes([len(path)]) + path.encode() +
             b"\x01\x09localhost")
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
                 h2_frame(4, 0, 0, struct.pack(">HI", 4, 0x7fffffff)) +
                 h2_frame(8, 0, 0, struct.pack(">I", 0x7fffffff - 65535)) +
                 h2_frame(1, 5, 1, block))
    while True:
        kind, stream, payload = h2_read_frame(sock)
        if kind == 1 and stream == 1:
            return sock, payload[:1]


def drain(sock):
    """Reads until the server closes; returns the byte count."""
    total = 0
    sock.settimeout(30)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            total += len(chunk)
    except (OSError, ssl.SSLError):
        pass
    return total


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_log(server, words, count, seconds):
    """Polls the server's log until `count` lines hold `words`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.log_text().count(words) >= count:
            return True
        time.sleep(0.05)
    return False


def slow_reader(port, rate_per_s):
    """Reads a large response steadily but slowly; returns the body."""
    sock = tls_socket(port, "http/1.1")
    sock.sendall(("GET /repeat/%d HTTP/1.1\r\nHost: localhost\r\n"
                  "Connection: close\r\n\r\n" % BIG_COUNT).encode())
    data = b""
    while True:
        chunk = sock.recv(32768)
        if not chunk:
            break
        data += chunk
        time.sleep(len(chunk) / rate_per_s)
    sock.close()
    return data.partition(b"\r\n\r\n")[2]


def stall_clients(server):
    """3 HTTP/2 clients, then 20 HTTP/1.1 clients at once, each asking for
    8 MiB and reading nothing of the body. Returns (stalled sockets with a
    200, statuses, retry-after values)."""
    stalled, statuses, retry = [], [], []
    for _ in range(3):
        sock, status = h2_stalled(server.port, "/repeat/%d" % BIG_COUNT)
        statuses.append(200 if status == b"\x88" else 503)
        stalled.append(sock) if status == b"\x88" else sock.close()
    lock = threading.Lock()

    def one():
        sock, status, headers = http1_stalled(server.port,
                                              "/repeat/%d" % BIG_COUNT)
        with lock:
            statuses.append(status)
            if status == 200:
                stalled.append(sock)
                return
            retry.append(headers.get("retry-after"))
        sock.close()
    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stalled, statuses, retry


def test_slow_readers(workdir):
    # one loop that does not hand off: guests run one at a time on one thread
    # with one instance, so the memory measured is the responses' own
    env = {"APP_EVENT_LOOPS": "1", "APP_WASM_POOL_SIZE": "1",
           "APP_HANDOFF_MS": "5000",
           "APP_SEND_TIMEOUT_MS": str(SEND_TIMEOUT_MS),
           "APP_MAX_BUFFERED_RESPONSE_BYTES": "%dMiB" % BOUND_MIB,
           # under AddressSanitizer, freed memory must not linger in its
           # quarantine, or RSS measures the frees too (ignored otherwise)
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
           ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0"}
    with Server(workdir, env=env) as server:
        status, _, body, _ = curl(server, "/repeat/%d" % BIG_COUNT)
        check(status == 200 and body == b"abc" * BIG_COUNT,
              "an 8 MiB response read at once (%s, %d)"
              % (status, len(body or b"")))
        warm = rss_kib(server.proc.pid)
        started = time.time()
        stalled, statuses, retry = stall_clients(server)
        held = rss_kib(server.proc.pid)
        print("RSS %d KiB warm, %d KiB with %d stalled clients; statuses %s"
              % (warm, held, len(stalled), statuses), flush=True)
        check(held - warm < (BOUND_MIB + 48) * 1024,
              "RSS stays bounded with 23 clients that do not read (%d KiB "
              "over %d KiB)" % (held - warm, warm))
        check(statuses.count(503) > 0 and len(stalled) > 0,
              "over the bound, large answers are 503 (%d of 23)"
              % statuses.count(503))
        check(all(r and r.isdigit() and int(r) >= 1 for r in retry),
              "503 answers carry Retry-After (%s)" % retry)
        for extra in [(), ("--http2",)]:
            status, _, body, _ = curl(server, "/health", *extra)
            check(status == 200, "others are served meanwhile %s (%s)"
                  % (extra, status))
            status, _, body, _ = curl(server, "/echo", *extra, data=b"hi")
            check(status == 200 and body == b"hi",
                  "a small function answer meanwhile %s (%s)" % (extra, status))
        closed = wait_log(server, "made no progress", len(stalled), 60)
        elapsed = time.time() - started
        check(closed, "every stalled connection is closed by the send "
              "timeout (%d of %d)" % (server.log_text().count(
                  "made no progress"), len(stalled)))
        check(elapsed >= SEND_TIMEOUT_MS / 1000.0,
              "not before the send timeout (%.1f s)" % elapsed)
        got = [drain(sock) for sock in stalled]
        check(all(n < BIG_LEN for n in got),
              "stalled clients got a cut response (%s)" % got)
        body = slow_reader(server.port, 1.5 * 1024 * 1024)
        check(body == b"abc" * BIG_COUNT,
              "a slow but steady reader gets the whole body (%d bytes)"
              % len(body))
        check(server.log_text().count("made no progress") == len(stalled),
              "the slow but steady reader was not cut")
        status, _, body, _ = curl(server, "/repeat/%d" % BIG_COUNT)
        check(status == 200 and len(body) == BIG_LEN,
              "large answers again once the stalled ones are gone (%s)"
              % status)


GROUPS = {"tls": test_tls, "slow_readers": test_slow_readers}


if __name__ == "__main__":
    sys.exit(run_group(GROUPS, __doc__))
