#!/usr/bin/env python3
"""hostile_test: hostile local inputs given to the `tarmac` command (TARMAC_BIN)
must fail cleanly, with an exit status and one message naming the problem,
never with a crash:

  modules  `tarmac call` on hand-made malformed modules: exit 3 and
           "invalid module: <section>: <problem>" on stderr
  config   `tarmac serve` / `tarmac call` with configuration values the
           engine cannot honour: exit 1 / 3, naming the variable and value

Usage: hostile_test.py GROUP. Prints "N passed, N failed" last.
"""
import os
import subprocess
import sys
import tempfile

BIN = os.environ["TARMAC_BIN"]
ECHO = os.path.join(os.environ["TARMAC_EXAMPLES_DIR"], "echo.wasm")
HEADER = b"\0asm\x01\0\0\0"

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what, file=sys.stderr)


def run(args, env=None):
    """(exit status, stderr); a command still running after 60 s (a server
    that accepted a bad value) is killed and reported as status None."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        p = subprocess.run([BIN] + args, capture_output=True, env=full_env,
                           timeout=60)
    except subprocess.TimeoutExpired as e:
        return None, (e.stderr or b"").decode(errors="replace")
    return p.returncode, p.stderr.decode(errors="replace")


def section(sid, content):
    assert len(content) < 128
    return bytes([sid, len(content)]) + content


# The 50-byte module: two types, then a second type section with
# none, then an import of type 1 (a host function). It crashed (SIGSEGV).
FIFTY = (HEADER + section(1, b"\x02\x60\x00\x00\x60\x00\x00") +
         section(1, b"\x00") +
         section(2, b"\x01\x04wapc\x0d__console_log\x00\x01") +
         section(0, b"\x03pad"))

MODULES = [
    (FIFTY, "invalid module: the type section appears more than once"),
    (HEADER + section(2, b"\x00") + section(1, b"\x00"),
     "invalid module: the type section comes after the import section"),
    (HEADER + section(1, b"\x01\x60\x00\x00") +
     section(2, b"\x01\x04wapc\x0d__console_log\x00\x07"),
     "invalid module: import section: a function import refers to type 7 "
     "but the module has 1 types"),
    (HEADER + section(7, b"\x01\x0c__guest_call\x00\x05"),
     "invalid module: export section: export \"__guest_call\" refers to "
     "function 5 but the module has 0 functions"),
    (HEADER + section(1, b"\x01\x60\x00\x00") + section(3, b"\x01\x00"),
     "invalid module: the function section declares 1 functions but the "
     "code section has 0 bodies"),
    (HEADER + section(1, b"\xff\xff\xff\xff\x0f"),
     "invalid module: type section: 4294967295 types declared"),
]


def group_modules():
    with tempfile.TemporaryDirectory() as tmp:
        for i, (data, message) in enumerate(MODULES):
            path = os.path.join(tmp, "m%d.wasm" % i)
            with open(path, "wb") as f:
                f.write(data)
            code, err = run(["call", path, "op"])
            check(code == 3, "module %d: exit %s, want 3 (%s)" % (i, code,
                                                                 err.strip()))
            check(message in err,
                  "module %d: stderr %r lacks %r" % (i, err, message))
    check(len(FIFTY) == 50, "the issue's module is 50 bytes")


SERVE_REFUSED = [
    ("APP_WASM_MEMORY_LIMIT", "5G", "is out of range"),
    ("APP_WASM_MEMORY_LIMIT", "4GiB", "is out of range"),
    ("APP_WASM_MEMORY_LIMIT", "1000", "is out of range"),
    ("APP_MAX_BODY_SIZE", "0", "is out of range"),
    ("APP_MAX_BODY_SIZE", "99999999999G", "is out of range"),
    ("APP_MAX_HEADER_SIZE", "64KiB!", "is not a byte size"),
    ("APP_EVENT_LOOPS", "-1", "is not a whole number"),
    ("APP_WASM_POOL_SIZE", "+2", "is not a whole number"),
    ("APP_IDLE_TIMEOUT_MS", "10 ", "is not a whole number"),
]


def group_config():
    for name, value, problem in SERVE_REFUSED:
        code, err = run(["serve"], {name: value, "APP_ENABLE_TLS": "false",
                                    "APP_LISTEN_ADDR": "127.0.0.1:0",
                                    "APP_WASM_MODULE": ECHO})
        want = "%s=%s %s" % (name, value, problem)
        check(code == 1, "serve %s=%s: exit %s, want 1" % (name, value, code))
        check(want in err, "serve: stderr %r lacks %r" % (err, want))
    code, err = run(["call", ECHO, "echo", "hi"],
                    {"APP_WASM_MEMORY_LIMIT": "5G"})
    check(code == 3, "call with APP_WASM_MEMORY_LIMIT=5G: exit %s" % code)
    check("APP_WASM_MEMORY_LIMIT=5G is out of range" in err,
          "call: stderr %r" % err)


def main():
    groups = {"modules": group_modules, "config": group_config}
    if len(sys.argv) != 2 or sys.argv[1] not in groups:
        sys.exit("usage: hostile_test.py " + "|".join(groups))
    groups[sys.argv[1]]()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
