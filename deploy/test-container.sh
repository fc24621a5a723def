#!/usr/bin/env bash
# End-to-end check of the container image (docs/deployment.md): builds it
# (deploy/build-image.sh), then runs it as the seed's quick start does,
#   docker run -p 443:8443 -v ./certs:/certs -v ./module:/module tarmac
# plus --read-only and a tmpfs for the compile cache, and checks HTTPS over
# HTTP/1.1 and HTTP/2, the non-root user, the read-only root filesystem and
# a clean exit (status 0) on SIGTERM; then serves a service file mounted at
# /functions/tarmac.json and checks two of its routes.
#
#   deploy/test-container.sh [EXAMPLES_DIR]
#
# EXAMPLES_DIR holds the example functions (hello.wasm, service/greet.wasm,
# service/upper.wasm); default build/examples (cmake --build build).
# TARMAC_IMAGE names the image (default tarmac). The last line is
# "N passed, N failed"; the exit status is non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/.."

examples=${1:-build/examples}
image=${TARMAC_IMAGE:-tarmac}
podman=(podman --runtime runc)
# At or below the host's own limits: podman's defaults are higher, and
# runc may not raise them here ("error setting rlimit type 6").
limit() { local n; n=$(ulimit "$1"); [ "$n" = unlimited ] || [ "$n" -gt 16384 ] && n=16384; echo "$n"; }
nofile=$(limit -n)
nproc=$(limit -u)
# --read-only-tmpfs=false: podman would add writable /tmp, /var/tmp and
# /run to a read-only container, which Docker and Kubernetes do not; without
# them a write the image does not send to /var/cache/tarmac fails here too.
run_flags=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc"
           --read-only --read-only-tmpfs=false
           --tmpfs /var/cache/tarmac:rw,exec,mode=1777,size=256m)
ready_timeout=${TARMAC_CONTAINER_READY_SECONDS:-90}
passed=0
failed=0
work=
containers=()

cleanup() {
  local c
  for c in "${containers[@]}"; do "${podman[@]}" rm -f -t 0 "$c" >/dev/null 2>&1; done
  [ -n "$work" ] && rm -rf "$work"
}
pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAILED: $1" >&2; }
trap cleanup EXIT
trap 'fail "interrupted by a signal"; echo "$passed passed, $failed failed"; exit 130' INT TERM
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
check() { # description, command...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

for f in hello.wasm service/greet.wasm service/upper.wasm; do
  if [ ! -s "$examples/$f" ]; then
    fail "example function $examples/$f is missing (build with cmake --build build)"
    finish
  fi
done

# A certificate for localhost and the mounted folders, readable by the
# container's user (uid 10001) as a Secret or volume would be.
work=$(mktemp -d /tmp/tarmac-container-test.XXXXXX)
chmod 0755 "$work"

started=$SECONDS
if deploy/build-image.sh >"$work/build.log" 2>&1; then
  pass "image $image built ($((SECONDS - started)) s; $(tail -1 "$work/build.log"))"
else
  tail -40 "$work/build.log" >&2
  fail "image $image built"
  finish
fi
mkdir -p "$work/certs" "$work/module" "$work/functions"
if ! openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
     -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
     -keyout "$work/certs/key.key" -out "$work/certs/cert.crt" 2>/dev/null; then
  fail "openssl made a certificate"
  finish
fi
cp "$examples/hello.wasm" "$work/module/tarmac_module.wasm"
cp "$examples/hello.wasm" "$examples/service/greet.wasm" \
   "$examples/service/upper.wasm" "$work/functions/"
cat >"$work/functions/tarmac.json" <<'EOF'
{
  "services": {
    "greeter": {
      "name": "greeter",
      "functions": {
        "greet": {"filepath": "greet.wasm", "pool_size": 4},
        "upper": {"filepath": "upper.wasm", "pool_size": 4},
        "hello": {"filepath": "hello.wasm", "contract": "seed", "pool_size": 4}
      },
      "routes": [
        {"type": "http", "path": "/greet", "methods": ["POST"], "function": "greet"},
        {"type": "http", "path": "/hello", "methods": ["POST"], "function": "hello"},
        {"type": "function", "function": "upper"}
      ]
    }
  }
}
EOF
chmod -R a+rX "$work"

# Starts a container (name, podman run flags...) and sets `url` to its
# published HTTPS port; 1 when it does not start.
start() {
  local name=$1; shift
  containers+=("$name")
  "${podman[@]}" run -d --name "$name" "${run_flags[@]}" \
    -p 127.0.0.1::8443 -v "$work/certs:/certs:ro" "$@" "$image" >/dev/null || return 1
  local port
  port=$("${podman[@]}" port "$name" 8443/tcp) || return 1
  url="https://${port/0.0.0.0/127.0.0.1}"
}

# Polls /health until it answers 200, the container stops, or the bound.
wait_ready() { # name
  local deadline=$((SECONDS + ready_timeout))
  while [ $SECONDS -lt $deadline ]; do
    curl -skf -o /dev/null --max-time 2 "$url/health" && return 0
    [ "$("${podman[@]}" inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || break
    sleep 0.2 # a poll interval, not a wait for readiness
  done
  echo "container $1 did not become ready; its log:" >&2
  "${podman[@]}" logs "$1" 2>&1 | tail -20 >&2
  return 1
}

# curl's answer as "<http version> <status> <body>".
ask() { # path, body, curl flags...
  local path=$1 body=$2; shift 2
  curl -sk --max-time 30 "$@" -d "$body" -w ' %{http_version} %{http_code}' \
    "$url$path"
}
expect() { # description, expected "<body> <version> <status>", path, body, curl flags...
  local what=$1 want=$2; shift 2
  local got
  got=$(ask "$@")
  if [ "$got" = "$want" ]; then pass "$what"; else fail "$what: got '$got', want '$want'"; fi
}

not_root() { # name
  local uid
  uid=$("${podman[@]}" exec "$1" id -u) || return 1
  [[ $uid =~ ^[0-9]+$ ]] && [ "$uid" != 0 ] || { echo "uid '$uid'" >&2; return 1; }
}

# /data is writable by anyone in the image (mode 1777): only a read-only
# root filesystem refuses the write.
read_only_root() { # name
  local out
  out=$("${podman[@]}" exec "$1" touch /data/probe 2>&1) && return 1
  [[ $out == *"Read-only file system"* ]] || { echo "touch: $out" >&2; return 1; }
}

stop_with_term() { # name: SIGTERM, then the exit status must be 0
  "${podman[@]}" kill -s TERM "$1" >/dev/null || return 1
  local status
  status=$("${podman[@]}" wait "$1") || return 1
  [ "$status" = 0 ] || { echo "exit status $status" >&2; "${podman[@]}" logs "$1" 2>&1 | tail -5 >&2; return 1; }
}

# As a ConfigMap update does: a new tarmac.json renamed into the mounted
# folder; the server inside watches it and reloads. Polls (bounded) until
# the added route answers.
add_route_and_wait() {
  sed 's|{"type": "function", "function": "upper"}|&,\n        {"type": "http", "path": "/again", "methods": ["POST"], "function": "hello"}|' \
    "$work/functions/tarmac.json" >"$work/functions/.tarmac.json.new" || return 1
  chmod a+r "$work/functions/.tarmac.json.new"
  mv "$work/functions/.tarmac.json.new" "$work/functions/tarmac.json" || return 1
  local deadline=$((SECONDS + ready_timeout))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(ask /again again --http2)" = "again 2 200" ] && return 0
    sleep 0.2 # a poll interval, not a wait for readiness
  done
  "${podman[@]}" logs "$svc" 2>&1 | tail -5 >&2
  return 1
}

# --- the seed's layout: one function at /module/tarmac_module.wasm -------
seed=tarmac-test-seed-$$
if start "$seed" -v "$work/module:/module:ro" && wait_ready "$seed"; then
  pass "seed layout: container ready (/health)"
  expect "seed layout: HTTPS over HTTP/1.1" "hello 1.1 200" / hello --http1.1
  expect "seed layout: HTTPS over HTTP/2" "hello 2 200" / hello --http2
  check "runs as a non-root user" not_root "$seed"
  check "root filesystem is read-only" read_only_root "$seed"
  check "compiled function cached in /var/cache/tarmac" \
    bash -c "${podman[*]} exec $seed sh -c 'ls /var/cache/tarmac/modules/*.so' >/dev/null"
  check "SIGTERM: exit status 0" stop_with_term "$seed"
else
  fail "seed layout: container ready (/health)"
fi

# --- a service file at /functions/tarmac.json ----------------------------
svc=tarmac-test-service-$$
if start "$svc" -v "$work/functions:/functions:ro" \
     -e APP_WASM_FUNCTION_CONFIG=/functions/tarmac.json && wait_ready "$svc"; then
  pass "service file: container ready (/health)"
  expect "service file: POST /greet" "Hello, WORLD! 2 200" /greet world --http2
  expect "service file: POST /hello" "hi 1.1 200" /hello hi --http1.1
  check "service file changed on the host: its new route answers (hot reload)" \
    add_route_and_wait
  check "service file: SIGTERM: exit status 0" stop_with_term "$svc"
else
  fail "service file: container ready (/health)"
fi

finish
