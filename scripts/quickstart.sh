#!/usr/bin/env bash
# Quick start: installs what is missing (Debian packages), builds Tarmac and
# the example functions, creates a development certificate, and starts the
# server on https://localhost:8443/ serving examples/hello with debug logs.
# Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"

certs=build/dev-certs
if [ ! -s "$certs/cert.crt" ] || [ ! -s "$certs/key.key" ]; then
  mkdir -p "$certs"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$certs/key.key" -out "$certs/cert.crt" 2>/dev/null
  echo "quickstart: development certificate in $certs/" >&2
fi

export APP_CERT_FILE="${APP_CERT_FILE:-$certs/cert.crt}"
export APP_KEY_FILE="${APP_KEY_FILE:-$certs/key.key}"
export APP_WASM_MODULE="${APP_WASM_MODULE:-build/examples/hello.wasm}"
export APP_DEBUG="${APP_DEBUG:-true}"
echo "quickstart: try  curl -k -d hello https://localhost:8443/" >&2
exec build/tarmac serve
