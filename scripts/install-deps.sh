#!/usr/bin/env bash
# Installs, from Debian packages, whatever Tarmac needs to build and test
# that is missing. Idempotent: when everything is present it does nothing
# (no apt-get update). wrk is here (the hot-reload test's load); nginx, the
# HTTP benchmark's reference, is not (its package would start a server on
# port 80): see bench/http/install-tools.sh.
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
  wrk # steady load while tests/services/e2e_reload.py reloads files
  prometheus # promtool checks the /metrics exposition (unit_metrics_promtool)
  # key-value store: LMDB and hiredis; tests/state starts its own redis-server
  liblmdb-dev libhiredis-dev redis-server
  # SQL callbacks (src/sql): the client libraries, and the servers that
  # tests/sql starts in temporary folders (never as system services)
  libsqlite3-dev libpq-dev libmariadb-dev postgresql-15 mariadb-server
  mariadb-client
  # container image and its test (deploy/): podman with the runc runtime
  # (crun refuses hybrid cgroups), its networking, mmdebstrap for the
  # Debian base image; python3-yaml for the manifest check (tests/deploy)
  podman runc mmdebstrap uidmap netavark aardvark-dns
  containernetworking-plugins iptables slirp4netns passt fuse-overlayfs
  python3-yaml
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
# Server packages (redis-server, postgresql-15, mariadb-server) must not
# start their system service: the tests start their own servers on free
# ports. policy-rc.d exit 101 = "action forbidden" for invoke-rc.d, for the
# install only.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=true
fi
cleanup() { if $own_policy; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
