#!/usr/bin/env bash
# Builds the fuzz targets with clang + libFuzzer (build-fuzz/) and runs each
# for a bounded, seeded time, starting from its corpus in fuzz/corpus/<target>
# (new inputs go to a scratch directory: the committed corpus stays as it is).
#
# usage: fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]   (default 20, all)
# A target that finds a crash, leak or property violation fails; its input is
# saved as build-fuzz/artifacts/<target>-crash-<sha1>. The last line is
# "N passed, N failed" (targets); the exit status is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(wasm_binary config settings_file base64 envelope_request envelope_response
           http_framing router service_file callback_protobuf callback_json
           callback_kvstore callback_httpclient callback_sql)
fi

mkdir -p build-fuzz/artifacts
if ! { cmake -S fuzz -B build-fuzz -DCMAKE_C_COMPILER=clang \
         -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)"; } \
       >build-fuzz/build.log 2>&1; then
  tail -30 build-fuzz/build.log
  echo "fuzz: the targets do not build"
  echo "0 passed, ${#targets[@]} failed"
  exit 1
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# One target: libFuzzer from its corpus; its verdict in $scratch/<t>.result.
run_target() {
  local t=$1
  mkdir -p "$scratch/$t"
  local args=(-seed=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
              -artifact_prefix="build-fuzz/artifacts/$t-")
  case "$t" in
    envelope_response | callback_json | callback_kvstore | callback_httpclient)
      args+=(-dict=fuzz/json.dict) ;;
    callback_sql) args+=(-dict=fuzz/sql.dict) ;;
    service_file) args+=(-dict=fuzz/service_file.dict) ;;
    settings_file) args+=(-dict=fuzz/settings_file.dict) ;;
  esac
  if "build-fuzz/fuzz_$t" "${args[@]}" "$scratch/$t" "fuzz/corpus/$t" \
       >"build-fuzz/$t.log" 2>&1; then
    echo "fuzz_$t: passed ($(grep -o 'Done [0-9]* runs' "build-fuzz/$t.log"))" \
      >"$scratch/$t.result"
  else
    { echo "fuzz_$t: FAILED (build-fuzz/$t.log):"
      grep -aE 'property violated|ERROR:|SUMMARY:|runtime error|artifact' \
        "build-fuzz/$t.log" | head -10; } >"$scratch/$t.result"
  fi
}

# A libFuzzer process uses one core: as many targets at once as cores, so
# the stage takes targets x seconds / cores.
parallel=$(nproc 2>/dev/null || echo 2)
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_target "$t" &
  running=$((running + 1))
done
wait

passed=0
failed=0
for t in "${targets[@]}"; do
  cat "$scratch/$t.result" 2>/dev/null || echo "fuzz_$t: FAILED (no result)"
  if grep -q ': passed' "$scratch/$t.result" 2>/dev/null; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
