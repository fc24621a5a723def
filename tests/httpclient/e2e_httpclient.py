#!/usr/bin/env python3
"""End-to-end tests of tarmac/httpclient/call: a real C guest
(httpclient_guest.c, built with sdk/c) run by `tarmac call`, which builds
its host callbacks from the APP_* settings, against the servers of
server.py (started here; readiness is its READY line).

Covers: the exact JSON bytes of older SDKs and the protobuf of the current
SDK (hand-encoded here, as Go's SDK sends it) through the guest's raw host
call; the SDK helper tarmac_http_call (methods, repeated headers in and
out, a 1 MiB body); and the settings: APP_HTTP_CLIENT_ALLOW (refused host,
refused redirect), APP_HTTP_CLIENT_MAX_RESPONSE_BODY_SIZE,
APP_HTTP_CLIENT_TIMEOUT, APP_HTTP_CLIENT_MAX_REDIRECTS, a bad allow-list,
and the guest's deadline (--timeout) bounding a call to a server that
never answers.

Environment (set by CTest): TARMAC_BIN, TARMAC_GUEST_DIR, TARMAC_CACHE_DIR.
"""
import base64
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["TARMAC_BIN"]
GUEST = os.path.join(os.environ["TARMAC_GUEST_DIR"], "httpclient_guest.wasm")
FAILURES = []


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print("FAIL: " + what, file=sys.stderr)


def tarmac_call(op, payload, env=None, timeout=None):
    """(exit code, stdout bytes, stderr text, seconds)."""
    full = dict(os.environ)
    for k in list(full):
        if k.startswith("APP_HTTP_CLIENT_"):
            del full[k]
    full.update(env or {})
    args = [BIN, "call"] + (["--timeout", timeout] if timeout else []) + [GUEST, op, "-"]
    t0 = time.time()
    out = subprocess.run(args, input=payload, env=full, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=120)
    return out.returncode, out.stdout, out.stderr.decode("utf-8", "replace"), time.time() - t0


# ---- protobuf, by hand (proto/tarmac.proto) ----

def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def http_client(method, url, headers=(), body=b"", insecure=False):
    """HTTPClient{method=1, headers=2 map<string, Header{values=1}>, url=3,
    body=4, insecure=5}, fields in order as Go's marshaller writes them."""
    out = field(1, method.encode())
    for name, values in headers:
        header = b"".join(field(1, v.encode()) for v in values)
        out += field(2, field(1, name.encode()) + field(2, header))
    out += field(3, url.encode())
    if body:
        out += field(4, body)
    if insecure:
        out += varint(5 << 3) + b"\x01"
    return out


def read_fields(data):
    """[(number, bytes or int)] of one message."""
    fields, i = [], 0
    while i < len(data):
        tag, i = read_varint(data, i)
        if tag & 7 == 0:
            v, i = read_varint(data, i)
        elif tag & 7 == 2:
            n, i = read_varint(data, i)
            v, i = data[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % (tag & 7))
        fields.append((tag >> 3, v))
    return fields


def read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def http_client_response(data):
    """HTTPClientResponse -> {"status": {...}, "code", "headers", "body"}."""
    out = {"status": {}, "code": 0, "headers": {}, "body": b""}
    for number, v in read_fields(data):
        if number == 1:
            st = dict(read_fields(v))
            out["status"] = {"code": st.get(1, 0), "status": st.get(2, b"").decode()}
        elif number == 2:
            out["code"] = v
        elif number == 3:
            entry = dict(read_fields(v))
            values = [x.decode() for n, x in read_fields(entry.get(2, b"")) if n == 1]
            out["headers"][entry[1].decode()] = values
        elif number == 4:
            out["body"] = v
    return out


# ---- the servers ----

def start_servers():
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = p.stdout.readline().decode().split()
    if len(line) != 4 or line[0] != "READY":
        p.kill()
        sys.exit("server.py did not start: %r" % line)
    return p, int(line[1]), int(line[2]), int(line[3])


# ---- the tests ----

def test_json_form(http):
    # Byte for byte what an older SDK sends.
    payload = ('{"method":"GET","headers":{"X-A":"1"},"url":"http://127.0.0.1:%d/echo",'
               '"body":"","insecure":false}' % http).encode()
    code, out, err, _ = tarmac_call("raw", payload)
    check(code == 0, "json form: exit %d (%s)" % (code, err[-300:]))
    reply = json.loads(out or b"{}")
    check(reply.get("status") == {"code": 200, "status": "OK"}, "json status %r" % reply.get("status"))
    check(reply.get("code") == 200, "json code %r" % reply.get("code"))
    headers = reply.get("headers", {})
    check(headers.get("X-Method") == "GET" and headers.get("X-Got-X-A") == "1",
          "json headers %r" % headers)
    check(headers.get("X-Multi") == ["a", "b"], "json repeated header %r" % headers.get("X-Multi"))
    check(reply.get("body") == "", "json body %r" % reply.get("body"))
    payload = ('{"method":"POST","headers":{},"url":"http://127.0.0.1:%d/echo",'
               '"body":"%s","insecure":false}' % (http, base64.b64encode(b"hello").decode())).encode()
    code, out, err, _ = tarmac_call("raw", payload)
    reply = json.loads(out or b"{}")
    check(code == 0 and base64.b64decode(reply.get("body", "")) == b"hello",
          "json POST body: exit %d %r" % (code, out[:200]))


def test_protobuf_form(http):
    payload = http_client("POST", "http://127.0.0.1:%d/echo" % http,
                          [("X-Rep", ["p", "q"])], b"hello proto")
    code, out, err, _ = tarmac_call("raw", payload)
    check(code == 0, "protobuf form: exit %d (%s)" % (code, err[-300:]))
    reply = http_client_response(out)
    check(reply["status"] == {"code": 200, "status": "OK"}, "protobuf status %r" % reply["status"])
    check(reply["code"] == 200 and reply["body"] == b"hello proto", "protobuf reply %r" % reply)
    check(reply["headers"].get("X-Got-X-Rep") == ["p, q"], "protobuf headers %r" % reply["headers"])
    check(reply["headers"].get("X-Multi") == ["a", "b"], "protobuf repeated %r" % reply["headers"])


def test_sdk(http):
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        code, out, err, _ = tarmac_call("sdk", b"%s http://127.0.0.1:%d/echo\ndata" % (method.encode(), http))
        want = b"code=200 method=%s rep=p, q multi=2 len=4 body=data" % method.encode()
        check(code == 0 and out == want, "sdk %s: exit %d %r (%s)" % (method, code, out[:200], err[-200:]))
    big = bytes(range(256)) * 4096  # 1 MiB
    code, out, err, _ = tarmac_call("sdk", b"POST http://127.0.0.1:%d/echo\n" % http + big)
    check(code == 0 and out.endswith(b"len=1048576 body=" + big), "sdk 1 MiB: exit %d (%s)" % (code, err[-200:]))
    code, out, err, _ = tarmac_call("sdk", b"GET http://127.0.0.1:%d/redirect/2\n" % http)
    check(code == 0 and out.startswith(b"code=200 method=GET"), "sdk redirect: %d %r" % (code, out[:100]))


def test_settings(http):
    sdk_get = lambda path: b"GET http://127.0.0.1:%d%s\n" % (http, path.encode())
    code, out, err, _ = tarmac_call("sdk", sdk_get("/echo"), {"APP_HTTP_CLIENT_ALLOW": "localhost"})
    check(code == 1 and 'http: host "127.0.0.1" is not allowed (APP_HTTP_CLIENT_ALLOW)' in err,
          "allow-list refusal: exit %d (%s)" % (code, err[-300:]))
    redirect = b"GET http://localhost:%d/goto?http%%3A//127.0.0.1%%3A%d/echo\n" % (http, http)
    code, out, err, _ = tarmac_call("sdk", redirect, {"APP_HTTP_CLIENT_ALLOW": "localhost"})
    check(code == 1 and 'host "127.0.0.1" is not allowed' in err,
          "redirect off the allow-list: exit %d (%s)" % (code, err[-300:]))
    code, out, err, _ = tarmac_call("sdk", sdk_get("/big/2000"),
                                    {"APP_HTTP_CLIENT_MAX_RESPONSE_BODY_SIZE": "1000"})
    check(code == 1 and "larger than APP_HTTP_CLIENT_MAX_RESPONSE_BODY_SIZE" in err,
          "body cap: exit %d (%s)" % (code, err[-300:]))
    code, out, err, secs = tarmac_call("sdk", sdk_get("/hang"), {"APP_HTTP_CLIENT_TIMEOUT": "500ms"})
    check(code == 1 and "timed out" in err and secs < 10, "total timeout: exit %d in %.1fs (%s)"
          % (code, secs, err[-300:]))
    code, out, err, _ = tarmac_call("sdk", sdk_get("/redirect/2"), {"APP_HTTP_CLIENT_MAX_REDIRECTS": "1"})
    check(code == 1 and "too many redirects" in err, "redirect bound: exit %d (%s)" % (code, err[-300:]))
    code, out, err, _ = tarmac_call("sdk", sdk_get("/echo"), {"APP_HTTP_CLIENT_ALLOW": "a,,b"})
    check(code != 0 and "APP_HTTP_CLIENT_ALLOW has an empty entry" in err,
          "bad allow-list: exit %d (%s)" % (code, err[-300:]))
    # The guest's deadline ends the wait long before the client's 30 s:
    # curl stops at the deadline, then either the guest fails with the
    # timeout or the deadline traps it first (a race both ways are right).
    code, out, err, secs = tarmac_call("sdk", sdk_get("/hang"), timeout="700ms")
    check((code == 4 or (code == 1 and "timed out" in err)) and secs < 10, "deadline: exit %d in %.1fs (%s)" % (code, secs, err[-300:]))


def main():
    server, http, _https, _stuck = start_servers()
    try:
        test_json_form(http)
        test_protobuf_form(http)
        test_sdk(http)
        test_settings(http)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
