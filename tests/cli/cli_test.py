#!/usr/bin/env python3
"""cli_test: drives `tarmac` (TARMAC_BIN) the way a user does and checks the
command-line contract:

  tarmac call [--timeout DURATION] MODULE OPERATION [PAYLOAD | -]
    stdout: the guest's response bytes, exactly
    exit 0 success; 1 guest error (message on stderr); 2 trap (stderr names
    it); 3 module could not be loaded (stderr says why); 4 the guest ran
    past its deadline (start-up or call); 64 usage error
  tarmac compile MODULE   compiles into the cache, prints the artifact path
  tarmac version, tarmac --help

Usage: cli_test.py GROUP   (one CTest test per group; see GROUPS below).
Environment: TARMAC_BIN, TARMAC_GUEST_DIR, TARMAC_EXAMPLES_DIR,
TARMAC_CACHE_DIR (shared cache; groups that need a fresh one make their own).
"""
import math
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time

BIN = os.environ["TARMAC_BIN"]
GUESTS = os.environ["TARMAC_GUEST_DIR"]
ECHO = os.path.join(os.environ["TARMAC_EXAMPLES_DIR"], "echo.wasm")
TIMEOUT = 240

failures = []
checks = 0


def guest(name):
    return os.path.join(GUESTS, name + ".wasm")


def run(args, stdin=None, env=None):
    """Runs tarmac; returns (exit code, stdout bytes, stderr text). `env`
    adds to the environment; a value of None removes the variable."""
    full_env = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            full_env.pop(name, None)
        else:
            full_env[name] = value
    proc = subprocess.run([BIN] + args, input=stdin, env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=TIMEOUT)
    return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")


def check(what, ok, detail=""):
    global checks
    checks += 1
    if not ok:
        failures.append(what + (": " + detail if detail else ""))
        print("FAIL", what, detail, file=sys.stderr)


def expect(args, code, stdout=None, stderr_has=(), stdin=None, env=None,
           what=None):
    """Runs tarmac and checks the exit code, the exact stdout (bytes) when
    given, and that stderr contains each text (case-insensitive; a tuple
    means any one of its texts). Returns (code, stdout, stderr)."""
    what = what or "tarmac " + " ".join(a if len(a) < 40 else a[:37] + "..."
                                        for a in args)
    got_code, out, err = run(args, stdin=stdin, env=env)
    check(what + " exits %d" % code, got_code == code,
          "got %d, stderr: %s" % (got_code, err.strip()[-500:]))
    if stdout is not None:
        check(what + " stdout", out == stdout,
              "got %r, want %r" % (out[:200], stdout[:200]))
    for text in stderr_has:
        options = text if isinstance(text, tuple) else (text,)
        check(what + " stderr mentions %s" % " or ".join(options),
              any(o.lower() in err.lower() for o in options),
              "stderr: %s" % err.strip()[-500:])
    return got_code, out, err


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


# ---------------------------------------------------------------- groups

def test_usage():
    code, out, _ = expect(["--help"], 0)
    text = out.decode(errors="replace")
    check("--help mentions call and compile",
          "call" in text and "compile" in text, text)
    code, out, _ = expect(["version"], 0)
    check("version prints a version number",
          re.search(rb"\d+\.\d+\.\d+", out) is not None, repr(out))
    expect(["call"], 64, stdout=b"")
    expect(["call", ECHO], 64, stdout=b"")
    expect(["call", ECHO, "echo", "a", "b"], 64, stdout=b"")
    expect(["compile"], 64, stdout=b"")
    expect(["no-such-command"], 64, stdout=b"",
           stderr_has=["no-such-command"])


def test_echo():
    expect(["call", ECHO, "echo", "hello"], 0, stdout=b"hello")
    expect(["call", ECHO, "echo"], 0, stdout=b"")
    expect(["call", ECHO, "echo", "two\nlines\n"], 0, stdout=b"two\nlines\n")
    binary = b"\x00a\x00b\xff\xfe\n\r\x00"
    expect(["call", ECHO, "echo", "-"], 0, stdout=binary, stdin=binary,
           what="echo of binary stdin")
    expect(["call", ECHO, "echo", "-"], 0, stdout=b"", stdin=b"",
           what="echo of empty stdin")
    expect(["call", ECHO, "nope"], 1, stdout=b"",
           stderr_has=['Could not find function "nope"'])


def test_results():
    ops = guest("wapc_ops")
    expect(["call", ops, "ok"], 0, stdout=b"ok")
    expect(["call", ops, "respond", "abc"], 0, stdout=b"abc")
    expect(["call", ops, "no_response"], 0, stdout=b"")
    for op in ("error_return_1", "error_return_0", "respond_then_error"):
        expect(["call", ops, op], 1, stdout=b"", stderr_has=["guest says no"])
    for op in ("return_0", "return_2"):
        expect(["call", ops, op], 1, stdout=b"",
               stderr_has=['call to "%s" was unsuccessful' % op])
    expect(["call", ops, "no_such_op"], 1, stdout=b"",
           stderr_has=['Could not find function "no_such_op"'])


TRAPS = {
    "oob_load": "out-of-bounds",
    "oob_store": "out-of-bounds",
    "unreachable": "unreachable",
    "div_zero": "integer divide by zero",
    "rem_zero": "integer divide by zero",
    "int_overflow": "integer overflow",
    "trunc_overflow": "integer overflow",
    "bad_conversion": "invalid conversion to integer",
    "null_indirect": "indirect call",
    "indirect_mismatch": "indirect call",
    "indirect_out_of_range": "indirect call",
    "recursion": "call stack exhausted",
    # bad pointers handed to the host are the guest's out-of-bounds access
    "bad_response_ptr": "out-of-bounds",
    "response_len_wrap": "out-of-bounds",
    "bad_error_ptr": "out-of-bounds",
    "bad_request_ptr": "out-of-bounds",
    "bad_host_call_ptr": "out-of-bounds",
    "bad_host_error_ptr": "out-of-bounds",
}


def test_traps():
    ops = guest("wapc_ops")
    for op, name in TRAPS.items():
        expect(["call", ops, op], 2, stdout=b"", stderr_has=[name])
    expect(["call", ops, "abort"], 2, stdout=b"",
           stderr_has=["abort", "boom"])
    _, _, err = expect(["call", ops, "exit3"], 2, stdout=b"",
                       stderr_has=["exit"])
    check("proc_exit trap gives the exit code",
          re.search(r"\b3\b", err) is not None, err)


def test_load_errors():
    invalid = ("invalid", "malformed", "truncated", "unexpected end")
    expect(["call", guest("not_wasm"), "x"], 3, stdout=b"",
           stderr_has=["not a wasm"])
    expect(["call", guest("truncated"), "x"], 3, stdout=b"",
           stderr_has=[invalid])
    expect(["call", guest("invalid_body"), "x"], 3, stdout=b"",
           stderr_has=[invalid])
    expect(["call", guest("import_unknown"), "x"], 3, stdout=b"",
           stderr_has=["foo.bar"])
    expect(["call", guest("import_bad_signature"), "x"], 3, stdout=b"",
           stderr_has=["wapc.__guest_request"])
    expect(["call", guest("no_guest_call"), "x"], 3, stdout=b"",
           stderr_has=["__guest_call"])
    expect(["call", guest("guest_call_bad_signature"), "x"], 3, stdout=b"",
           stderr_has=["__guest_call"])
    expect(["call", guest("simd"), "x"], 3, stdout=b"",
           stderr_has=["SIMD"], what="a SIMD module wasm2c cannot translate")
    expect(["call", guest("no_memory"), "x"], 3, stdout=b"",
           stderr_has=["memory"])
    missing = os.path.join(GUESTS, "does_not_exist.wasm")
    expect(["call", missing, "x"], 3, stdout=b"",
           stderr_has=["does_not_exist.wasm"])
    with tempfile.TemporaryDirectory() as cache:
        expect(["call", ECHO, "echo", "hi"], 3, stdout=b"",
               stderr_has=["compiler"],
               env={"TARMAC_CACHE_DIR": cache, "CC": "/nonexistent/cc"},
               what="call with no C compiler")


def test_memory():
    ops = guest("wapc_ops")  # starts with 2 pages; ceiling 4096 pages
    expect(["call", ops, "grow", "0"], 0, stdout=b"2")
    expect(["call", ops, "grow", "100"], 0, stdout=b"102")
    expect(["call", ops, "grow", "4094"], 0, stdout=b"4096",
           what="grow to exactly the 256 MiB ceiling")
    for pages in ("4095", "65533", "65534", "70000"):
        expect(["call", ops, "grow", pages], 1, stdout=b"",
               stderr_has=["memory.grow failed"],
               what="grow by %s pages past the ceiling" % pages)
    one_mib = {"APP_WASM_MEMORY_LIMIT": "1MiB"}
    expect(["call", ops, "grow", "14"], 0, stdout=b"16", env=one_mib,
           what="grow to a configured 1 MiB ceiling")
    expect(["call", ops, "grow", "15"], 1, stdout=b"", env=one_mib,
           stderr_has=["memory.grow failed"],
           what="grow past a configured 1 MiB ceiling")


def test_startup():
    expect(["call", guest("startup_order"), "x"], 0,
           stdout=b"start-section _start _initialize wapc_init ")
    expect(["call", guest("proc_exit_start"), "x"], 0,
           stdout=b"_start wapc_init ")


def test_timeout():
    """--timeout (and APP_WASM_TIMEOUT) bound start-up and the call: a
    runaway exits 4 soon after the deadline; honest work within it runs."""
    http_guest = os.environ["HTTP_GUEST"]
    op = "request:handler"
    runaways = [(["call", "--timeout", "200ms", guest("spin_init"), "x"],
                 None, ["wapc_init", "deadline exceeded"]),
                (["call", "--timeout", "200", http_guest, op,
                  '{"HTTP_PATH":"/runaway/spin"}'], None,
                 ["timed out", "deadline exceeded"]),
                (["call", http_guest, op, '{"HTTP_PATH":"/runaway/sleep"}'],
                 {"APP_WASM_TIMEOUT": "200ms"}, ["deadline exceeded"])]
    run(["call", http_guest, op, "{}"])  # compiled before anything is timed
    for args, env, words in runaways:
        start = time.time()
        expect(args, 4, stdout=b"", stderr_has=words, env=env)
        elapsed = time.time() - start
        print("%s: exit after %.0f ms (deadline 200 ms, with process start)"
              % (" ".join(args[1:4]), elapsed * 1000))
        check("stopped near its deadline", 0.19 < elapsed < 3.0,
              "%.3f s" % elapsed)
    # --timeout wins over APP_WASM_TIMEOUT; work inside the deadline is done
    expect(["call", "--timeout", "10s", http_guest, op,
            '{"HTTP_PATH":"/sleep/300"}'], 0,
           env={"APP_WASM_TIMEOUT": "100ms"})
    for value, words in [("5x", "not a duration"), ("1.5s", "not a duration"),
                         ("-1", "not a duration"), ("2h", "out of range"),
                         ("0", "out of range"),
                         ("99999999999999999999999ms", "out of range")]:
        expect(["call", "--timeout", value, ECHO, "echo"], 64, stdout=b"",
               stderr_has=[words])
    expect(["call", "--timeout"], 64, stdout=b"")
    expect(["call", ECHO, "echo"], 3, env={"APP_WASM_TIMEOUT": "soon"},
           stderr_has=["APP_WASM_TIMEOUT"])
    code, out, _ = expect(["--help"], 0)
    check("--help documents --timeout and exit 4",
          b"--timeout" in out and b"4 deadline exceeded" in out)


def test_host_calls():
    ops = guest("wapc_ops")
    code, out, _ = expect(["call", ops, "host_unknown_route", "p"], 0)
    for name in (b"nope", b"nothing", b"nowhere"):
        check("unknown route error names %r" % name, name in out, repr(out))
    expect(["call", ops, "host_log", "a log line"], 0, stdout=b"1")
    expect(["call", ops, "host_state_replaced"], 0, stdout=b"0")
    table = guest("table_imports")
    code, out, err = expect(["call", table, "go"], 0, stdout=b"via table:go:1",
                            what="every wapc import called through a table")
    check("__console_log, fd_write and the logger through a table are logged",
          err.count("table log") == 3 and "stream=stdout" in err, repr(err))
    expect(["call", table, "go", "bad"], 2, stdout=b"",
           stderr_has=["out-of-bounds", "__guest_response"],
           what="bad pointer to an import called through a table")
    expect(["call", table, "go", "err"], 1, stdout=b"",
           stderr_has=["via table"],
           what="__guest_error called through a table")
    sdk = guest("sdk_guest")
    expect(["call", sdk, "host_call", "tarmac/logger/info/hello"], 0,
           stdout=b"ok:")
    code, out, _ = expect(["call", sdk, "host_call", "a/b/c/d"], 0)
    check("SDK host call to an unknown route gives the error",
          out.startswith(b"error:") and b'"a"' in out and b'"c"' in out,
          repr(out))
    expect(["call", sdk, "log", "from the guest"], 0, stdout=b"logged")


def test_sdk():
    sdk = guest("sdk_guest")
    expect(["call", sdk, "echo", "hi"], 0, stdout=b"hi")
    expect(["call", sdk, "operation"], 0, stdout=b"operation")
    expect(["call", sdk, "register_twice"], 0, stdout=b"rejected")
    expect(["call", sdk, "fail", "why"], 1, stdout=b"",
           stderr_has=["failed on purpose: why"])
    expect(["call", sdk, "unsuccessful"], 1, stdout=b"",
           stderr_has=['call to "unsuccessful" was unsuccessful'])
    expect(["call", sdk, "nope"], 1, stdout=b"",
           stderr_has=['Could not find function "nope"'])
    mib = os.urandom(1 << 20)
    expect(["call", sdk, "echo", "-"], 0, stdout=mib, stdin=mib,
           what="1 MiB echo through stdin")
    expect(["call", sdk, "checksum", "-"], 0, stdin=mib,
           stdout=b"%d %08x" % (len(mib), fnv1a(mib)),
           what="1 MiB payload checksum")
    pattern = bytes(i % 251 for i in range(1 << 20))
    expect(["call", sdk, "generate", str(1 << 20)], 0, stdout=pattern,
           what="1 MiB response")


def test_wasi():
    wasi = guest("wasi_guest")
    # guest stdout goes to the log, never into the response stream
    expect(["call", wasi, "print", "guest-output"], 0, stdout=b"printed")
    expect(["call", wasi, "clock"], 0, stdout=b"ok")
    _, first, _ = expect(["call", wasi, "random"], 0)
    _, second, _ = expect(["call", wasi, "random"], 0)
    check("random gives 64 hex digits",
          re.fullmatch(rb"[0-9a-f]{64}", first) is not None, repr(first))
    check("random differs between calls", first != second)
    expect(["call", wasi, "sleep", "50"], 0, stdout=b"slept")
    expect(["call", wasi, "environ"], 0, stdout=b"")
    expect(["call", wasi, "stdin"], 0, stdout=b"0")
    _, out, _ = expect(["call", wasi, "open"], 0)
    check("no filesystem access", out.startswith(b"denied:"), repr(out))
    expect(["call", guest("wasi_unstable"), "x"], 0, stdout=b"0 25",
           what="fd_write imported from wasi_unstable")


def artifact_of(module, env):
    """Compiles module with `tarmac compile` and returns the artifact path."""
    code, out, err = run(["compile", module], env=env)
    check("compile %s exits 0" % os.path.basename(module), code == 0, err)
    path = out.decode().strip()
    check("compile prints an existing artifact", os.path.isfile(path), path)
    return path


def test_compile():
    with tempfile.TemporaryDirectory() as cache:
        env = {"TARMAC_CACHE_DIR": cache}
        path = artifact_of(ECHO, env)
        check("artifact is inside the cache dir",
              os.path.realpath(path).startswith(os.path.realpath(cache)),
              path)
        check("compile is idempotent", artifact_of(ECHO, env) == path)
        expect(["compile", guest("not_wasm")], 3, stdout=b"",
               stderr_has=["not a wasm"], env=env)


def counting_compiler(directory):
    """A C compiler that records each compilation (an invocation naming a .c
    file) in directory/compilations, then runs gcc. Returns (path, log)."""
    log = os.path.join(directory, "compilations")
    path = os.path.join(directory, "counting-cc")
    with open(path, "w") as f:
        f.write('#!/bin/sh\n'
                'for a in "$@"; do case "$a" in *.c) echo "$*" >> "%s";; esac; done\n'
                'exec gcc "$@"\n' % log)
    os.chmod(path, 0o755)
    return path, log


def compilations(log):
    if not os.path.exists(log):
        return 0
    with open(log) as f:
        return len(f.readlines())


def test_cache():
    with tempfile.TemporaryDirectory() as cache, \
         tempfile.TemporaryDirectory() as tools:
        cc, log = counting_compiler(tools)
        env = {"TARMAC_CACHE_DIR": cache, "CC": cc}
        expect(["call", ECHO, "echo", "first"], 0, stdout=b"first", env=env)
        check("first call compiles", compilations(log) >= 1)
        artifact = artifact_of(ECHO, env)
        before = os.stat(artifact)
        compiled = compilations(log)
        time.sleep(0.05)
        expect(["call", ECHO, "echo", "second"], 0, stdout=b"second",
               env=env, what="second call")
        check("second call compiles nothing", compilations(log) == compiled,
              "%d compilations, want %d" % (compilations(log), compiled))
        after = os.stat(artifact)
        check("second call leaves the artifact untouched",
              (after.st_mtime_ns, after.st_ino) ==
              (before.st_mtime_ns, before.st_ino))

        original_size = before.st_size
        with open(artifact, "r+b") as f:
            f.truncate(original_size // 2)
        expect(["call", ECHO, "echo", "again"], 0, stdout=b"again", env=env,
               what="call after the artifact was truncated")
        check("truncated artifact rebuilt",
              os.path.getsize(artifact) == original_size,
              "size %d, want %d" % (os.path.getsize(artifact), original_size))

        foreign = artifact_of(guest("wapc_ops"), env)
        check("different modules get different artifacts", foreign != artifact)
        shutil.copyfile(foreign, artifact)
        expect(["call", ECHO, "echo", "still"], 0, stdout=b"still", env=env,
               what="call after a foreign artifact replaced ours")
        compiled = compilations(log)
        expect(["call", guest("wapc_ops"), "ok"], 0, stdout=b"ok", env=env,
               what="the foreign artifact's own module")
        check("the foreign artifact's own module is still cached",
              compilations(log) == compiled)
        check_cache_contents(cache, "compiles and rebuilds")


def test_concurrent():
    with tempfile.TemporaryDirectory() as cache:
        full_env = dict(os.environ, TARMAC_CACHE_DIR=cache)
        procs = [subprocess.Popen([BIN, "call", ECHO, "echo", "hello %d" % i],
                                  env=full_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
                 for i in range(6)]
        for i, proc in enumerate(procs):
            out, err = proc.communicate(timeout=TIMEOUT)
            check("concurrent call %d exits 0" % i, proc.returncode == 0,
                  err.decode(errors="replace")[-300:])
            check("concurrent call %d output" % i,
                  out == b"hello %d" % i, repr(out))
        check_cache_contents(cache, "concurrent calls")


# ------------------------------------------------------- cache and trust

CACHE_ENTRY = re.compile(r"^(?:[0-9a-f]{64}\.(?:so|lock|failed)"
                         r"|wasm2c-[0-9a-f]{16}\.version)$")


def check_cache_contents(cache, what):
    """The cache holds only artifacts, lock files, failure records and
    wasm2c version notes: no work directories, no temporary files."""
    strays = []
    for entry in sorted(os.listdir(cache)):
        path = os.path.join(cache, entry)
        if not CACHE_ENTRY.match(entry) or os.path.islink(path) or \
                not os.path.isfile(path):
            strays.append(entry)
    check("%s leaves only artifacts, locks, failure records and version "
          "notes in the cache" % what, not strays, repr(strays))


def planted_library(directory, witness):
    """A shared object whose constructor creates `witness`: what another
    local user would plant. Returns its path."""
    source = os.path.join(directory, "planted.c")
    path = os.path.join(directory, "planted.so")
    with open(source, "w") as f:
        f.write('#include <fcntl.h>\n#include <unistd.h>\n'
                '__attribute__((constructor)) static void planted(void) {\n'
                '  close(open("%s", O_CREAT | O_WRONLY, 0600));\n}\n' % witness)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", path, source], check=True)
    return path


def test_cache_trust():
    with tempfile.TemporaryDirectory() as top:
        fresh = os.path.join(top, "new", "cache")
        expect(["call", ECHO, "echo", "hi"], 0, stdout=b"hi",
               env={"TARMAC_CACHE_DIR": fresh}, what="call with a new cache")
        for d in (fresh, os.path.dirname(fresh)):
            mode = os.stat(d).st_mode & 0o7777
            check("created cache directory %s is mode 0700" % d,
                  mode == 0o700, "mode %04o" % mode)
        foreign = os.path.join(top, "foreign")
        os.mkdir(foreign, 0o700)
        os.chown(foreign, 65534, 65534)
        expect(["call", ECHO, "echo", "hi"], 3, stdout=b"",
               env={"TARMAC_CACHE_DIR": foreign},
               stderr_has=[foreign, "owned by uid 65534", "TARMAC_CACHE_DIR"],
               what="call with a cache directory owned by nobody")
        for mode, whom in ((0o770, "group"), (0o777, "others"),
                           (0o1777, "others")):
            shared = os.path.join(top, "shared-%o" % mode)
            os.mkdir(shared)
            os.chmod(shared, mode)
            expect(["call", ECHO, "echo", "hi"], 3, stdout=b"",
                   env={"TARMAC_CACHE_DIR": shared},
                   stderr_has=[shared, "writable by", whom],
                   what="call with a cache directory of mode %04o" % mode)
            check("refused directory %04o left empty" % mode,
                  os.listdir(shared) == [], repr(os.listdir(shared)))
        expect(["call", ECHO, "echo", "hi"], 3, stdout=b"",
               env={"TARMAC_CACHE_DIR": None, "XDG_CACHE_HOME": None,
                    "HOME": None},
               stderr_has=["TARMAC_CACHE_DIR", "no cache directory"],
               what="call with no cache setting at all")


def test_artifact_trust():
    """A planted artifact is never opened (its constructor never runs)
    unless it is a regular file of ours that no one else can write."""
    with tempfile.TemporaryDirectory() as cache, \
         tempfile.TemporaryDirectory() as tools:
        env = {"TARMAC_CACHE_DIR": cache}
        artifact = artifact_of(ECHO, env)
        witness = os.path.join(tools, "constructor-ran")
        planted = planted_library(tools, witness)
        cases = (("a symbolic link", "symbolic link",
                  lambda: os.symlink(planted, artifact)),
                 ("owned by another user", "owned by uid 65534",
                  lambda: (shutil.copyfile(planted, artifact),
                           os.chown(artifact, 65534, 65534))),
                 ("group-writable", "writable by its group",
                  lambda: (shutil.copyfile(planted, artifact),
                           os.chmod(artifact, 0o660))),
                 ("world-writable", "writable by others",
                  lambda: (shutil.copyfile(planted, artifact),
                           os.chmod(artifact, 0o606))))
        for what, message, plant in cases:
            os.unlink(artifact)
            plant()
            expect(["call", ECHO, "echo", "hi"], 0, stdout=b"hi", env=env,
                   stderr_has=[message, artifact],
                   what="call with a planted artifact that is " + what)
            check("the planted artifact (%s) was never loaded" % what,
                  not os.path.exists(witness))
            st = os.lstat(artifact)
            check("the artifact was rebuilt as ours (%s)" % what,
                  stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and
                  not st.st_mode & 0o022, "mode %o uid %d" % (st.st_mode,
                                                             st.st_uid))
        check_cache_contents(cache, "rebuilding planted artifacts")


# --------------------------------------------- toolchain and failure records

def logging_tool(directory, name, real, fail=False, extra=()):
    """A wrapper for program `real` that appends its arguments to
    directory/<name>.log, then fails (exit 1) or runs `real` with the
    arguments and then `extra`. Returns (path, log)."""
    log = os.path.join(directory, name + ".log")
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write('#!/bin/sh\necho "$*" >> "%s"\n' % log +
                ('echo "%s: refusing on purpose" >&2\nexit 1\n' % name if fail
                 else 'exec %s "$@"%s\n' % (real, "".join(
                     ' "%s"' % e for e in extra))))
    os.chmod(path, 0o755)
    return path, log


def log_lines(log, containing=""):
    if not os.path.exists(log):
        return 0
    with open(log) as f:
        return sum(1 for line in f if containing in line)


def test_toolchain():
    with tempfile.TemporaryDirectory() as cache, \
         tempfile.TemporaryDirectory() as tools:
        real = shutil.which("wasm2c")
        wasm2c, log = logging_tool(tools, "wasm2c", real)
        env = {"TARMAC_CACHE_DIR": cache, "TARMAC_WASM2C": wasm2c}
        expect(["call", ECHO, "echo", "a"], 0, stdout=b"a", env=env)
        check("the first call asks wasm2c its version once",
              log_lines(log, "--version") == 1, "%d" % log_lines(log))
        runs = log_lines(log)
        expect(["call", ECHO, "echo", "b"], 0, stdout=b"b", env=env)
        check("a cached call runs no wasm2c at all", log_lines(log) == runs,
              "%d runs, want %d" % (log_lines(log), runs))
        old, _ = logging_tool(tools, "old-wasm2c", real)
        with open(old, "w") as f:
            f.write('#!/bin/sh\necho 1.0.31\n')
        expect(["call", ECHO, "echo", "c"], 3, stdout=b"",
               env=dict(env, TARMAC_WASM2C=old),
               stderr_has=[old, "1.0.31", "requires wasm2c 1.0.32",
                           "TARMAC_WASM2C"],
               what="call with a wasm2c of another version")
        with open(old, "w") as f:  # a changed binary is asked again
            f.write('#!/bin/sh\n[ "$1" = --version ] && echo 1.0.32 && exit\n'
                    'exec %s "$@"\n' % real)
        expect(["call", ECHO, "echo", "d"], 0, stdout=b"d",
               env=dict(env, TARMAC_WASM2C=old),
               what="call after that wasm2c was replaced by 1.0.32")
        expect(["call", ECHO, "echo", "e"], 3, stdout=b"",
               env=dict(env, TARMAC_WASM2C=os.path.join(tools, "none")),
               stderr_has=["wasm2c not found", "TARMAC_WASM2C"],
               what="call with no wasm2c")
        check_cache_contents(cache, "version checks")


def test_failures():
    """A module that cannot compile or load is tried once: the failure is
    recorded under its cache key and reported again without compiling."""
    with tempfile.TemporaryDirectory() as cache, \
         tempfile.TemporaryDirectory() as tools:
        wasm2c, wasm2c_log = logging_tool(tools, "wasm2c",
                                          shutil.which("wasm2c"))
        env = {"TARMAC_CACHE_DIR": cache, "TARMAC_WASM2C": wasm2c}
        for name, text in (("invalid_body", "invalid"), ("simd", "SIMD")):
            for attempt in ("first", "second"):
                expect(["call", guest(name), "x"], 3, stdout=b"", env=env,
                       stderr_has=[text], what="%s call of %s" % (attempt,
                                                                  name))
            check("%s is translated once" % name,
                  log_lines(wasm2c_log, ".wasm") == 1 + (name == "simd"),
                  "%d translations" % log_lines(wasm2c_log, ".wasm"))
        failing, cc_log = logging_tool(tools, "failing-cc", "", fail=True)
        env_cc = dict(env, CC=failing)
        for attempt in ("first", "second", "third"):
            expect(["call", ECHO, "echo", "x"], 3, stdout=b"", env=env_cc,
                   stderr_has=["C compilation failed", "refusing on purpose"],
                   what="%s call with a failing compiler" % attempt)
        check("a failing compilation is run once", log_lines(cc_log) == 1,
              "%d compilations" % log_lines(cc_log))
        # a module that compiles but cannot load (the libm defect was one:
        # an undefined symbol); the compiler adds a reference no host has
        missing = os.path.join(tools, "missing.c")
        with open(missing, "w") as f:
            f.write("extern void tarmac_test_no_such_symbol(void);\n"
                    "void (*tarmac_test_keep)(void) = "
                    "tarmac_test_no_such_symbol;\n")
        unloadable, unloadable_log = logging_tool(
            tools, "cc-unloadable", "gcc", extra=(missing,))
        env_unloadable = dict(env, CC=unloadable)
        for attempt in ("first", "second"):
            expect(["call", guest("float_ops"), "run"], 3, stdout=b"",
                   env=env_unloadable,
                   stderr_has=["undefined symbol", "tarmac_test_no_such_symbol"],
                   what="%s call of a module that cannot load" % attempt)
        check("a module that does not load is compiled once",
              log_lines(unloadable_log) == 1, "%d" % log_lines(unloadable_log))
        markers = [f for f in os.listdir(cache) if f.endswith(".failed")]
        check("one failure record per failed key", len(markers) == 4,
              repr(markers))
        for marker in markers:
            os.unlink(os.path.join(cache, marker))
        expect(["call", ECHO, "echo", "x"], 3, stdout=b"", env=env_cc,
               what="call after the failure record was deleted")
        check("deleting the record retries", log_lines(cc_log) == 2)
        check_cache_contents(cache, "failed compilations")


# ------------------------------------------------------------ float guest

NAN, INF = float("nan"), float("inf")


def f32(x):
    """x rounded to the nearest f32 (as a Python float)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def integral(fn):
    """ceil/floor/trunc/nearest keeping wasm's results for -0, inf, NaN."""
    def apply(x):
        if math.isnan(x) or math.isinf(x):
            return x
        return math.copysign(float(fn(x)), x)
    return apply


def wasm_min(a, b):
    if math.isnan(a) or math.isnan(b):
        return NAN
    if a == b == 0:
        return a if math.copysign(1, a) < 0 else b
    return min(a, b)


def wasm_max(a, b):
    if math.isnan(a) or math.isnan(b):
        return NAN
    if a == b == 0:
        return b if math.copysign(1, a) < 0 else a
    return max(a, b)


def saturate(bits, signed):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed \
        else (0, (1 << bits) - 1)

    def apply(x):
        if math.isnan(x):
            return 0
        if math.isinf(x):
            return hi if x > 0 else lo
        return max(lo, min(hi, int(x)))
    return apply


def signed(bits):
    return lambda v: v - (1 << bits) if v >= 1 << (bits - 1) else v


UNARY = [2.0, -1.5, 2.5, -0.5, 3.5, 0.1, -INF, NAN, 1e-40]
BINARY = [(-0.0, 0.0), (0.0, -0.0), (1.0, NAN), (-2.5, 7.25), (1.5, -0.0),
          (-INF, 3.0), (NAN, 1.0)]
I32S = [0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 16777217, 123456789]
I64S = [0, 0xFFFFFFFFFFFFFFFF, 2**53 + 1, 2**63, 0x7FFFFFFFFFFFFFFF,
        123456789012345, 2**24 + 1]
SATURATING = [NAN, -5.0, 1e10, -1e30, 1e30, INF, -INF, 3.7, -3.7]
FLOAT_OPS = {
    "sqrt": lambda x: NAN if x < 0 else math.sqrt(x), "ceil": integral(math.ceil),
    "floor": integral(math.floor), "trunc": integral(math.trunc),
    "nearest": integral(round), "abs": math.fabs, "neg": lambda x: -x,
}
# (instruction, operand types, result type, function, inputs), in the order
# of tests/guests/float_ops.wat. Functions take and return Python numbers;
# f32 operands arrive already rounded to f32.
FLOAT_CASES = (
    [("f32." + n, ("f32",), "f32", f, UNARY) for n, f in FLOAT_OPS.items()] +
    [("f32.min", ("f32", "f32"), "f32", wasm_min, BINARY),
     ("f32.max", ("f32", "f32"), "f32", wasm_max, BINARY),
     ("f32.copysign", ("f32", "f32"), "f32", math.copysign, BINARY)] +
    [("f64." + n, ("f64",), "f64", f, UNARY) for n, f in FLOAT_OPS.items()] +
    [("f64.min", ("f64", "f64"), "f64", wasm_min, BINARY),
     ("f64.max", ("f64", "f64"), "f64", wasm_max, BINARY),
     ("f64.copysign", ("f64", "f64"), "f64", math.copysign, BINARY)] +
    [("%s.convert_%s_%s" % (r, t, s), (t,), r,
      (lambda s, t: lambda v: float(signed(32 if t == "i32" else 64)(v)
                                    if s == "s" else v))(s, t),
      I32S if t == "i32" else I64S)
     for r in ("f32", "f64") for t in ("i32", "i64") for s in ("s", "u")] +
    [("f32.demote_f64", ("f64",), "f32", lambda x: x,
      [1 / 3, 1.0000000000000002, -0.0, 1e-50, 3.4028234663852886e38, NAN,
       -INF]),
     ("f64.promote_f32", ("f32",), "f64", lambda x: x, UNARY)] +
    [("i32.trunc_f32_s", ("f32",), "i32", int, [-1.9, 3.9, -0.0, -2e9]),
     ("i32.trunc_f32_u", ("f32",), "i32", int, [0.9, 3.9, 100.5, 4e9]),
     ("i32.trunc_f64_s", ("f64",), "i32", int, [-1.9, 3.9, -0.0, -2e9]),
     ("i32.trunc_f64_u", ("f64",), "i32", int, [0.9, 3.9, 100.5, 4e9]),
     ("i64.trunc_f32_s", ("f32",), "i64", int, [-1.9, 3.9, -9e18, 9e18]),
     ("i64.trunc_f32_u", ("f32",), "i64", int, [0.9, 3.9, 1e19, 1.8e19]),
     ("i64.trunc_f64_s", ("f64",), "i64", int, [-1.9, 3.9, -9e18, 9e18]),
     ("i64.trunc_f64_u", ("f64",), "i64", int, [0.9, 3.9, 1e19, 1.8e19])] +
    [("%s.trunc_sat_%s_%s" % (r, t, s), (t,), r,
      saturate(32 if r == "i32" else 64, s == "s"), SATURATING)
     for r in ("i32", "i64") for t in ("f32", "f64") for s in ("s", "u")] +
    [("f32.reinterpret_i32", ("i32",), "f32", None, I32S),
     ("i64.reinterpret_f64", ("f64",), "i64", None, UNARY)])


def pack_value(vtype, value):
    """A value in its 8-byte slot (little-endian, low bytes first)."""
    if vtype == "f32":
        return struct.pack("<f", value) + bytes(4)
    if vtype == "f64":
        return struct.pack("<d", value)
    if vtype == "i32":
        return struct.pack("<I", value & 0xFFFFFFFF) + bytes(4)
    return struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF)


def float_expectation(case, operands):
    """(expected 8-byte slot, or None for "any NaN") of one case."""
    name, types, result, fn, _ = case
    if fn is None:  # reinterpret: the same bits
        return pack_value(types[0], operands[0])[:4 if result == "f32"
                                                else 8].ljust(8, b"\0")
    value = fn(*operands)
    if result in ("f32", "f64") and math.isnan(value):
        return None
    return pack_value(result, f32(value) if result == "f32" else value)


def read_slot(vtype, slot):
    if vtype == "f32":
        return struct.unpack("<f", slot[:4])[0]
    if vtype == "f64":
        return struct.unpack("<d", slot)[0]
    return slot


def float_round(index):
    """The payload of input round `index` and the expected slots."""
    payload, expected = b"", []
    for case in FLOAT_CASES:
        inputs = case[4][index % len(case[4])]
        operands = inputs if isinstance(inputs, tuple) else (inputs,)
        operands = tuple(f32(v) if t == "f32" else v
                         for t, v in zip(case[1], operands))
        slots = b"".join(pack_value(t, v) for t, v in zip(case[1], operands))
        payload += slots.ljust(16, b"\0")
        expected.append((case, operands, float_expectation(case, operands)))
    return payload, expected


def test_float():
    rounds = max(len(case[4]) for case in FLOAT_CASES)
    module = guest("float_ops")
    for index in range(rounds):
        payload, expected = float_round(index)
        code, out, err = expect(["call", module, "run", "-"], 0, stdin=payload,
                                what="float_ops round %d" % index)
        check("float_ops round %d answers every case" % index,
              len(out) == 8 * len(FLOAT_CASES), "%d bytes: %s" % (len(out),
                                                                  err[-300:]))
        if len(out) != 8 * len(FLOAT_CASES):
            continue
        for k, (case, operands, want) in enumerate(expected):
            slot = out[8 * k:8 * k + 8]
            got = read_slot(case[2], slot)
            ok = (isinstance(got, float) and math.isnan(got)) if want is None \
                else slot == want
            check("%s%r" % (case[0], operands), ok,
                  "got %s, want %s" % (slot.hex(), want.hex() if want
                                       else "NaN"))


GROUPS = {name[len("test_"):]: fn for name, fn in globals().items()
          if name.startswith("test_")}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in GROUPS:
        print("usage: cli_test.py {%s}" % "|".join(GROUPS), file=sys.stderr)
        return 64
    GROUPS[sys.argv[1]]()
    print("%d checks, %d failed" % (checks, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
