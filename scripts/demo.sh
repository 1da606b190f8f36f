#!/usr/bin/env bash
# The main job: installs what is missing, builds gantry, makes a busybox base image, builds the
# example image and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run --silent build
gantry() { node dist/bin/gantry.js "$@"; }

if ! gantry inspect busybox:latest >/dev/null 2>&1; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  bash scripts/make-busybox-rootfs.sh "$(dpkg --print-architecture)" "$work/rootfs"
  tar --sort=name --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
  gantry import --change 'CMD ["sh"]' "$work/rootfs.tar" busybox:latest >/dev/null
  echo "made base image busybox:latest from Debian's busybox-static"
fi

gantry build --progress plain -t hello:latest examples/hello
gantry run --rm hello:latest
