#!/usr/bin/env python3
"""spec_modules_test: the module reader's rules must not refuse valid
modules. Every module the WebAssembly spec test suite states as valid
(`module` commands in binary form, after wast2json with default features)
must be accepted by engine/wasm_binary (reader_check), except the few
listed in EXEMPT with the reason. Malformed and invalid modules are not
checked here: the reader refuses what it can see, wasm2c the rest.

Usage: spec_modules_test.py READER_CHECK TESTSUITE_DIR. Prints
"N passed, N failed" last.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

# Valid modules the engine cannot take, and why.
EXEMPT = {
    # an export named "\0": imports and exports are looked up as C strings
    "names.2.wasm": "a NUL byte in an export name",
}


def main():
    reader, suite = sys.argv[1], sys.argv[2]
    wasts = sorted(glob.glob(os.path.join(suite, "*.wast")))
    if not wasts:
        sys.exit("no .wast files in " + suite)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        modules = []
        for wast in wasts:
            name = os.path.splitext(os.path.basename(wast))[0]
            out = os.path.join(tmp, name + ".json")
            subprocess.run(["wast2json", wast, "-o", out], check=True,
                           capture_output=True)
            with open(out) as f:
                for c in json.load(f)["commands"]:
                    if c["type"] == "module" and "filename" in c and \
                            c.get("module_type", "binary") == "binary":
                        modules.append(os.path.join(tmp, c["filename"]))
        result = subprocess.run([reader] + modules, capture_output=True,
                                text=True, check=True)
        for line in result.stdout.splitlines():
            verdict, rest = line.split(" ", 1)
            base = os.path.basename(rest.split(":", 1)[0])
            if (verdict == "ACCEPT") != (base not in EXEMPT):
                failed += 1
                print("FAIL: " + line, file=sys.stderr)
            else:
                passed += 1
    print("%d modules from %d files" % (len(modules), len(wasts)))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or passed != len(modules) else 0)


main()
