#!/usr/bin/env bash
# Installs what bench/http/run_bench.py needs beyond scripts/install-deps.sh:
# wrk (the load generator), nginx (nginx-light, the reference server) and
# redis-server (run_bench.py --kvstore). run_bench.py starts nginx and
# redis-server itself, with its own configuration, on free ports: the
# packages' system services are not wanted. When this script installs
# either, it keeps Debian from starting the service (a policy-rc.d for the
# install; a service already running is not touched) and disables it
# afterwards, so nothing is left listening on ports 80 or 6379.
# Idempotent: when all are present it does nothing.
set -euo pipefail

missing=()
for pkg in wrk nginx-light redis-server; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
installing_nginx=false
[[ " ${missing[*]} " == *" nginx-light "* ]] && installing_nginx=true
installing_redis=false
[[ " ${missing[*]} " == *" redis-server "* ]] && installing_redis=true

policy=/usr/sbin/policy-rc.d
own_policy=false
if ($installing_nginx || $installing_redis) && [ ! -e "$policy" ]; then
  # exit status 101: "action forbidden", invoke-rc.d starts no service
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=true
fi
cleanup() { if $own_policy; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

echo "bench/http: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Not started at boot either (systemd, or sysvinit links).
disable_service() {
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now "$1" >/dev/null 2>&1 || true
  elif command -v update-rc.d >/dev/null; then
    $SUDO update-rc.d "$1" disable >/dev/null 2>&1 || true
  fi
}
if $installing_nginx; then disable_service nginx; fi
if $installing_redis; then disable_service redis-server; fi
