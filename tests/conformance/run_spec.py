#!/usr/bin/env python3
"""run_spec: runs the WebAssembly core spec tests (.wast) against Tarmac's
runtime. For each .wast file: wast2json splits it into commands and binary
modules; the engine compiles every module (spec_compile: the server's
wasm2c run, compile flags, link line and cache, under the build tree); a
generated C driver (c_driver.py), linked with spec_harness.c, the engine and
the runtime, loads the modules through the engine (dlopen, as the server
does) and checks every command.

Results are compared with the committed baseline (baseline.json): the run
fails when a command that passed in the baseline no longer passes. Commands
that newly pass are listed; --update-baseline records them.

Exit codes: 0 ok, 1 regression, runner error or test suite not found."""

import sys
sys.dont_write_bytecode = True  # keep the source tree clean

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from c_driver import DriverWriter, Forwarders  # noqa: E402
from plan import FAIL, PASS, SKIP, Outcome, Planner  # noqa: E402
import report  # noqa: E402

MEMORY_LIMIT = 4 << 30  # the spec tests grow memories to thousands of pages
DRIVER_TIMEOUT = 600
SELFTEST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "selftest")
RESULT_LINE = re.compile(r"^(PASS|FAIL) (\d+) (\d+) (\S+)(?:: (.*))?$")


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True,
                          errors="replace", **kwargs)


def first_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


class Toolchain:
    """Compiler settings from the CMake-generated config."""

    def __init__(self, config):
        self.cc = config["cc"]
        self.includes = ["-I" + d for d in config["include_dirs"]]
        self.driver_cflags = config["driver_cflags"]
        self.ldflags = config["ldflags"]
        self.link_objects = (config["harness_objects"]
                             + config["engine_objects"]
                             + config["runtime_objects"])
        self.spec_compile = config["spec_compile"]
        self.engine_cache = config["engine_cache"]

    def compile(self, source, output, flags, cwd):
        return run([self.cc] + flags + self.includes + ["-c", source, "-o",
                                                        output], cwd=cwd)


# tarmac_load_status_t values spec_compile reports (engine/engine.h)
LOAD_INVALID, LOAD_TOOLCHAIN = 3, 6


class Translator:
    """The engine's verdict on each module of one .wast file: all binary
    modules are compiled into the engine cache by one spec_compile run
    before planning; translate() applies the verdict to a record."""

    def __init__(self, toolchain, workdir, commands):
        self.toolchain = toolchain
        self.workdir = workdir
        paths = sorted({os.path.join(workdir, c["filename"])
                        for c in commands if c.get("filename", "")
                        .endswith(".wasm") and c["type"] in
                        ("module", "assert_uninstantiable",
                         "assert_unlinkable")})
        self.verdicts = self._compile(paths) if paths else {}

    def _compile(self, paths):
        result = run([self.toolchain.spec_compile,
                      self.toolchain.engine_cache] + paths)
        lines = result.stdout.splitlines()
        if result.returncode != 0 or len(lines) != len(paths):
            raise RuntimeError("spec_compile failed (exit %d): %s" % (
                result.returncode, first_line(result.stderr)))
        return dict(zip(paths, lines))

    def _refused(self, rec, status, message):
        if status == LOAD_INVALID and "killed by signal" in message:
            text = run(["wasm2wat", rec.path]).stdout
            if "v128" in text:
                rec.status = SKIP
                rec.why = "wasm2c 1.0.32 cannot translate SIMD (v128) code"
            else:
                rec.status, rec.why = FAIL, "wasm2c crashed: " + message
        elif status == LOAD_INVALID and "wasm2c" in message:
            rec.status = FAIL
            rec.why = "wasm2c rejected a valid module: " + message
        elif status == LOAD_INVALID:
            rec.status = FAIL
            rec.why = ("the engine's module reader (engine/wasm_binary.c) "
                       "rejected a valid module: " + message)
        elif status == LOAD_TOOLCHAIN:
            rec.status = FAIL
            rec.why = "the engine cannot compile it: " + message
        else:
            rec.status, rec.why = FAIL, "the engine refused it: " + message

    def translate(self, rec):
        verdict = self.verdicts.get(rec.path, "FAIL 0 not compiled")
        if verdict != "OK":
            _, status, message = (verdict.split(" ", 2) + [""])[:3]
            self._refused(rec, int(status), message[:300])

    def check_invalid(self, path):
        result = run(["wasm2c", "-n", "invalid", path, "-o",
                      os.path.join(self.workdir, "invalid.c")])
        if result.returncode > 0:
            return Outcome(PASS, "rejected: " + first_line(result.stderr))
        if result.returncode == 0:
            return Outcome(FAIL, "wasm2c accepted the module")
        return Outcome(FAIL, "wasm2c crashed (signal %d)"
                       % -result.returncode)


class FileRun:
    """Runs one .wast file; `results` is a list of dicts (id, line, type,
    status, why) in command order."""

    def __init__(self, wast, toolchain, work):
        self.wast = wast
        self.name = os.path.basename(wast)
        self.toolchain = toolchain
        self.workdir = os.path.join(work, "files", self.name[:-5])
        self.results = []
        self.seconds = 0.0

    def _commands(self):
        shutil.rmtree(self.workdir, ignore_errors=True)
        os.makedirs(self.workdir)
        out = os.path.join(self.workdir, "commands.json")
        result = run(["wast2json", self.wast, "-o", out])
        if result.returncode != 0:
            raise RuntimeError("wast2json failed: " +
                               first_line(result.stderr))
        with open(out, encoding="utf-8") as f:
            return json.load(f)["commands"]

    def _build_driver(self, planner, forwarders):
        writer = DriverWriter(planner.linked, forwarders)
        for step in planner.steps:
            getattr(writer, step["kind"])(step)
        source = os.path.join(self.workdir, "driver.c")
        with open(source, "w", encoding="utf-8") as f:
            f.write(writer.text(MEMORY_LIMIT, self.toolchain.engine_cache))
        tc = self.toolchain
        result = tc.compile(source, source + ".o", tc.driver_cflags,
                            self.workdir)
        if result.returncode != 0:
            return None, "driver does not compile: " + \
                first_line(result.stderr)
        exe = os.path.join(self.workdir, "driver")
        result = run([tc.cc, source + ".o"] + tc.link_objects
                     + tc.ldflags + ["-o", exe])
        if result.returncode != 0:
            return None, "driver does not link: " + first_line(result.stderr)
        return exe, ""

    def _run_driver(self, exe, planner):
        outcomes = planner.outcomes
        try:
            result = run([exe], cwd=self.workdir, timeout=DRIVER_TIMEOUT)
            stdout, ended = result.stdout, result.returncode
        except subprocess.TimeoutExpired as err:
            stdout = err.stdout.decode(errors="replace") if err.stdout else ""
            ended, result = "timeout", None
        for line in stdout.splitlines():
            match = RESULT_LINE.match(line)
            if match:
                status = PASS if match.group(1) == "PASS" else FAIL
                outcomes[int(match.group(2))] = Outcome(status,
                                                        match.group(5) or "")
        if ended != 0:
            detail = "driver ended early (%s)%s" % (
                "timed out" if ended == "timeout" else "exit %d" % ended,
                ": " + first_line(result.stderr[-2000:]) if result else "")
            for step in planner.steps:
                if step["kind"] != "register":
                    outcomes.setdefault(step["id"], Outcome(FAIL, detail))

    def run(self):
        started = time.monotonic()
        commands = self._commands()
        forwarders = Forwarders()
        translator = Translator(self.toolchain, self.workdir, commands)
        planner = Planner(translator, forwarders)
        planner.plan(commands, self.workdir, translator.check_invalid)
        steps = planner.steps
        if steps:
            exe, why = self._build_driver(planner, forwarders)
            if exe:
                self._run_driver(exe, planner)
            for step in steps:
                if step["kind"] != "register":
                    planner.outcomes.setdefault(step["id"], Outcome(
                        FAIL, why or "driver reported nothing"))
        for cid, command in enumerate(commands):
            outcome = planner.outcomes.get(cid)
            if command["type"] == "register" and outcome is None:
                continue  # bookkeeping, not an assertion
            if outcome is None:
                outcome = Outcome(FAIL, "runner produced no outcome")
            self.results.append({"id": cid, "line": command["line"],
                                 "type": command["type"],
                                 "status": outcome.status,
                                 "why": outcome.why})
        self.seconds = time.monotonic() - started
        return self


def select_files(testsuite, args):
    files = sorted(f for f in os.listdir(testsuite) if f.endswith(".wast"))
    if args.files:
        wanted = {f if f.endswith(".wast") else f + ".wast"
                  for f in args.files}
        unknown = wanted - set(files)
        if unknown:
            raise SystemExit("unknown .wast files: " + ", ".join(
                sorted(unknown)))
        files = [f for f in files if f in wanted]
    paths = [os.path.join(testsuite, f) for f in files]
    if args.group:
        index, count = (int(x) for x in args.group.split("/"))
        if not 1 <= index <= count:
            raise SystemExit("--group must be K/N with 1 <= K <= N")
        paths = balanced_groups(paths, count)[index - 1]
    return paths


def estimated_cost(path):
    """Relative cold-run cost of a .wast file: each module is a wasm2c + gcc
    run; assertions cost a little driver code."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return text.count("(module") * 40 + len(text) // 1000


def balanced_groups(paths, count):
    """Splits the files into `count` groups of similar estimated cost
    (largest first, each into the cheapest group so far); deterministic."""
    groups = [[] for _ in range(count)]
    costs = [0] * count
    for cost, path in sorted(((estimated_cost(p), p) for p in paths),
                             reverse=True):
        cheapest = costs.index(min(costs))
        groups[cheapest].append(path)
        costs[cheapest] += cost
    return [sorted(group) for group in groups]


def locate_testsuite(args, config):
    if args.selftest:
        return SELFTEST_DIR
    return (args.testsuite or os.environ.get("TARMAC_WASM_TESTSUITE")
            or config["testsuite"])


def selftest_violations(runs):
    """In selftest/must_pass.wast every command must pass; in
    must_fail.wast every module must pass and every assertion fail."""
    violations = 0
    for run in runs:
        for r in run.results:
            want = PASS if (run.name == "must_pass.wast"
                            or r["type"] == "module") else FAIL
            if r["status"] != want:
                violations += 1
                print("SELFTEST %s line %d %s: %s, expected %s (%s)" % (
                    run.name, r["line"], r["type"], r["status"], want,
                    r["why"]))
    print("selftest: %s" % ("%d violations" % violations if violations
                            else "every command judged as expected"))
    return violations


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True,
                   help="config.json written by CMake into the build tree")
    p.add_argument("--testsuite", help="folder of .wast files (default: "
                   "$TARMAC_WASM_TESTSUITE, else shared/wasm-testsuite)")
    p.add_argument("--group", help="run every N-th file only: K/N")
    p.add_argument("--files", nargs="*", help="run only these .wast files")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--update-baseline", action="store_true",
                   help="record this run's passes in the baseline")
    p.add_argument("--write-doc", action="store_true",
                   help="rewrite docs/conformance.md (needs a full run)")
    p.add_argument("--verbose", action="store_true",
                   help="list every failed command")
    p.add_argument("--selftest", action="store_true",
                   help="check the runner itself on selftest/*.wast")
    return p.parse_args()


def main():
    args = parse_args()
    with open(args.config, encoding="utf-8") as f:
        config = json.load(f)
    testsuite = locate_testsuite(args, config)
    if not os.path.isdir(testsuite):
        print("conformance: FAILED: the WebAssembly spec test suite is not "
              "at %s. Put the team's copy there (shared/wasm-testsuite next "
              "to the source tree), or point TARMAC_WASM_TESTSUITE (or "
              "--testsuite) at a folder of .wast files." % testsuite,
              file=sys.stderr)
        return 1
    files = select_files(testsuite, args)
    toolchain = Toolchain(config)
    work = config["work_dir"]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max(args.jobs, 1)) as pool:
        runs = list(pool.map(lambda w: FileRun(w, toolchain, work).run(),
                             files))
    elapsed = time.monotonic() - started
    report.print_summary(runs, elapsed, args.verbose)
    if args.selftest:
        return 1 if selftest_violations(runs) else 0
    report.save_results(work, runs)
    baseline_path = config["baseline"]
    regressions = report.compare_baseline(baseline_path, runs)
    if args.update_baseline:
        report.update_baseline(baseline_path, runs)
        print("baseline updated: %s" % baseline_path)
    if args.write_doc:
        report.write_doc(config["doc"], testsuite, work)
        print("wrote %s" % config["doc"])
    return 1 if regressions and not args.update_baseline else 0


if __name__ == "__main__":
    sys.exit(main())
