#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, runs the CTest suite,
# builds again with AddressSanitizer + UBSan and runs the suite there, then
# runs the fuzz targets for a bounded, seeded time (fuzz/run.sh;
# TARMAC_FUZZ_SECONDS per target, default 12; 0 skips them), then builds
# the container image and checks it end to end (deploy/test-container.sh;
# TARMAC_CONTAINER_TEST=0 skips it). See
# docs/testing.md. The last line is "N passed, N failed" over every test
# of the two suites and every fuzz target; the exit status is non-zero when
# anything failed. A test that fails is run once more (ctest's
# --repeat until-pass:2, visible in the log): the suite runs two builds'
# worth of timing-sensitive server tests on a shared 2-core machine, and a
# test that fails twice fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${TARMAC_FUZZ_SECONDS:-12}
passed=0
failed=0
summary=()

# Both builds compile the same spec-test modules: they share one engine
# cache for them (tests/conformance/CMakeLists.txt).
conformance_cache="$PWD/build/conformance-cache"

run_suite() { # build-dir, extra cmake args...
  local dir=$1; shift
  rm -f "$dir/ctest.log" # no stale summary when the build breaks
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTARMAC_CONFORMANCE_CACHE="$conformance_cache" "$@" >/dev/null || return 1
  cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1 || { tail -50 "$dir/build.log"; return 1; }
  ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 600 \
    --repeat until-pass:2 | tee "$dir/ctest.log"
}

count() { # log file with a CTest or "N passed, N failed" summary; failed stage adds 1
  local log=$1 status=$2 p=0 f=0 line
  line=$(grep -aE 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -n "$line" ]; then
    local total
    f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$line")
    p=$((total - f))
  else
    line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    [ -n "$line" ] && { p=${line%% passed*}; f=${line#*, }; f=${f%% failed}; }
  fi
  [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1 # a build that broke
  passed=$((passed + p)); failed=$((failed + f))
}

record() { # stage name, exit status, log
  if [ "$2" -eq 0 ]; then summary+=("$1: passed"); else summary+=("$1: FAILED"); fi
  count "$3" "$2"
}

echo "== test suite (release build) =="
run_suite build
record "release suite" $? build/ctest.log

echo "== test suite under AddressSanitizer + UndefinedBehaviorSanitizer =="
ASAN_OPTIONS=detect_leaks=1:allow_user_segv_handler=1:handle_segv=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DTARMAC_SANITIZE=ON
record "ASan+UBSan suite" $? build-asan/ctest.log

if [ "$fuzz_seconds" != 0 ]; then
  echo "== fuzz targets, ${fuzz_seconds} s each (fuzz/run.sh) =="
  fuzz/run.sh "$fuzz_seconds" | tee build/fuzz.log
  record "fuzzing" $? build/fuzz.log
fi

if [ "${TARMAC_CONTAINER_TEST:-1}" != 0 ]; then
  echo "== container (deploy/test-container.sh) =="
  deploy/test-container.sh build/examples 2>&1 | tee build/container.log
  record "container" "${PIPESTATUS[0]}" build/container.log
else
  echo "== container: skipped (TARMAC_CONTAINER_TEST=0) =="
fi

echo "== summary =="
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
