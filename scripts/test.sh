#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs the CTest suite,
# builds again with AddressSanitizer + UBSan and runs the suite there, then
# runs the fuzz targets for a bounded, seeded time (fuzz/run.sh;
# TARMAC_FUZZ_SECONDS per target, default 18; 0 skips them). See
# docs/testing.md. The last line is "N passed, N failed" over the three
# stages; the exit status is non-zero when any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${TARMAC_FUZZ_SECONDS:-18}
passed=0
failed=0
summary=()

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

record() { # stage name, exit status
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1)); summary+=("$1: passed")
  else
    failed=$((failed + 1)); summary+=("$1: FAILED")
  fi
}

echo "== test suite (release build) =="
run_suite build
record "release suite" $?

echo "== test suite under AddressSanitizer + UndefinedBehaviorSanitizer =="
ASAN_OPTIONS=detect_leaks=1:allow_user_segv_handler=1:handle_segv=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DTARMAC_SANITIZE=ON
record "ASan+UBSan suite" $?

if [ "$fuzz_seconds" != 0 ]; then
  echo "== fuzz targets, ${fuzz_seconds} s each (fuzz/run.sh) =="
  fuzz/run.sh "$fuzz_seconds"
  record "fuzzing" $?
fi

echo "== summary =="
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
