#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs the CTest suite,
# then builds again with AddressSanitizer + UBSan and runs the suite there.
# The last line is CTest's summary of the sanitizer run; the exit status is
# non-zero when any test failed in either run.
set -uo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
status=0

# Both builds compile the same spec-test modules: they share one engine
# cache for them (tests/conformance/CMakeLists.txt).
conformance_cache="$PWD/build/conformance-cache"

run_suite() { # build-dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTARMAC_CONFORMANCE_CACHE="$conformance_cache" "$@" >/dev/null || return 1
  cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1 || { tail -50 "$dir/build.log"; return 1; }
  ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 600
}

echo "== test suite (release build) =="
run_suite build || status=1

echo "== test suite under AddressSanitizer + UndefinedBehaviorSanitizer =="
ASAN_OPTIONS=detect_leaks=1:allow_user_segv_handler=1:handle_segv=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DTARMAC_SANITIZE=ON || status=1

exit $status
