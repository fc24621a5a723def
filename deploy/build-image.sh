#!/usr/bin/env bash
# Builds the container image `tarmac` (the Dockerfile at the repository's
# root) with podman, from a Debian base image made here from Debian packages:
# no image registry is needed (none is reachable on our machines).
#
#   deploy/build-image.sh            # base image if missing, then the image
#   TARMAC_IMAGE=name deploy/build-image.sh
#
# The base, localhost/debian:bookworm-slim, is `mmdebstrap --variant=minbase`
# from the Debian mirror apt is configured with (the host's
# /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list), with
# merged /usr and without documentation, man pages or locales, piped into
# `podman import`. It is made once; podman's layer cache then makes
# rebuilds of an unchanged tree take seconds. See docs/deployment.md.
#
# podman runs with the runc runtime: crun refuses these machines' hybrid
# cgroup hierarchy. Builds use the host's network (only apt reaches out).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${TARMAC_IMAGE:-tarmac}
base=localhost/debian:bookworm-slim
# podman's own flags, shared with deploy/test-container.sh.
podman_cmd=(podman --runtime runc)

need() { # program, Debian package
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "build-image: $1 is missing (Debian package $2; scripts/install-deps.sh installs it)" >&2
  exit 1
}
need podman podman
need runc runc

# The mirror apt uses here: a deb822 .sources file or a one-line list.
debian_sources() {
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [ -s "$f" ]; then echo "$f"; return 0; fi
  done
  echo "build-image: no Debian apt sources found (looked for" \
       "/etc/apt/sources.list.d/debian.sources and /etc/apt/sources.list)" >&2
  return 1
}

make_base() {
  need mmdebstrap mmdebstrap
  local sources
  sources=$(debian_sources)
  echo "build-image: making $base with mmdebstrap from $sources" >&2
  # Excluded paths keep the base small; dpkg honours them for every
  # package installed later in the image too (the file stays in the base).
  # force-unsafe-io: no fsync per file (as Debian's official images do);
  # an interrupted build is thrown away anyway.
  mmdebstrap --quiet --variant=minbase --format=tar \
    --dpkgopt=force-unsafe-io \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --aptopt='APT::Install-Recommends "false"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm - "$sources" |
    "${podman_cmd[@]}" import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
}

if ! "${podman_cmd[@]}" image exists "$base"; then
  make_base
fi

# nofile/nproc at or below the host's own limits (podman's defaults are
# higher and fail here).
limit() { local n; n=$(ulimit "$1"); [ "$n" = unlimited ] || [ "$n" -gt 16384 ] && n=16384; echo "$n"; }
nofile=$(limit -n)
nproc=$(limit -u)
"${podman_cmd[@]}" build --network host --layers \
  --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
  -t "$image" -f Dockerfile . >&2
"${podman_cmd[@]}" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$image" >&2
