#!/usr/bin/env bash
# Installs, from Debian packages, whatever Tarmac needs to build and test
# that is missing. Idempotent: when everything is present it does nothing
# (no apt-get update). The HTTP benchmark's tools (wrk, nginx) are not
# installed here (nginx's package would start a server on port 80): see
# bench/http/install-tools.sh.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config
  # engine: wasm2c and the guest toolchain (clang for wasm32-wasi)
  wabt clang lld wasi-libc libclang-rt-14-dev-wasm32
  # libraries
  libssl-dev libjansson-dev libh2o-evloop-dev libyajl-dev
  libbwa-dev # klib khash.h, which h2o/http2_internal.h includes
  # callback payloads: protoc-c and libprotobuf-c (proto/tarmac.proto)
  protobuf-c-compiler libprotobuf-c-dev
  # tarmac/httpclient/call (src/callbacks/httpclient*.c)
  libcurl4-openssl-dev
  # fuzz targets: clang's libFuzzer runtime (fuzz/)
  libclang-rt-14-dev
  # tests (h2load from nghttp2-client drives HTTP/2 load)
  python3 curl openssl nghttp2-client procps
  prometheus # promtool checks the /metrics exposition (unit_metrics_promtool)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
