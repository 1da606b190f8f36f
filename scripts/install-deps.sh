#!/usr/bin/env bash
# Installs the system packages gantry and its tests need, only those missing. Idempotent.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds Buildah and hyperfine for benchmarks)
set -euo pipefail

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: $*; run this script as root (or install them) first" >&2
    exit 1
  fi
}

# command-or-file → Debian package
declare -A wanted=(
  [runc]=runc
  [busybox]=busybox-static
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [umoci]=umoci
  [getfattr]=attr
  [xz]=xz-utils
  [bzip2]=bzip2
  [zstd]=zstd
  [openssl]=openssl
  [git]=git
  [htpasswd]=apache2-utils
  [mount]=mount
  [unshare]=util-linux
  # The default network of RUN steps: a namespace of their own with outbound access through slirp4netns.
  [slirp4netns]=slirp4netns
  [qemu-aarch64-static]=qemu-user-static
  [update-binfmts]=binfmt-support
  # A Docker engine lets the tests check that `docker load` reads gantry's archives.
  [dockerd]=docker.io
)
if [ "${1:-}" = "--bench" ]; then
  wanted[buildah]=buildah
  wanted[hyperfine]=hyperfine
fi

missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
# busybox must be the static build: test base images copy it into an empty rootfs.
if command -v busybox >/dev/null 2>&1 && ! dpkg -s busybox-static >/dev/null 2>&1; then
  missing+=(busybox-static)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  need_root "${missing[@]}"
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "install-deps: apt-get failed installing ${missing[*]}" >&2
    exit 1
  fi
  rm -f "$log"
  echo "install-deps: installed ${missing[*]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "install-deps: gantry needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
