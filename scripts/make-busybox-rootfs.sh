#!/usr/bin/env bash
# Makes a minimal busybox root filesystem (like the official busybox image) from Debian's
# busybox-static package, for base images in the demo and the tests.
# Usage: scripts/make-busybox-rootfs.sh ARCH OUTDIR      (ARCH: amd64 or arm64; OUTDIR must not exist)
set -euo pipefail
arch=$1
out=$2
[ ! -e "$out" ] || { echo "make-busybox-rootfs: $out already exists" >&2; exit 1; }

host_arch=$(dpkg --print-architecture)
work=$(mktemp -d)
chmod 0755 "$work"   # apt-get download drops privileges to _apt
trap 'rm -rf "$work"' EXIT

if [ "$arch" = "$host_arch" ]; then
  busybox_bin=$(command -v busybox)
else
  # A foreign architecture's package is downloaded, not installed.
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    dpkg --add-architecture "$arch"
    apt-get update -q >/dev/null
  fi
  (cd "$work" && apt-get download -q "busybox-static:$arch" >/dev/null)
  dpkg-deb -x "$work"/busybox-static_*_"$arch".deb "$work/pkg"
  busybox_bin="$work/pkg/bin/busybox"
fi

mkdir -p "$out"/{bin,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
cp "$busybox_bin" "$out/bin/busybox"
chmod 0755 "$out/bin/busybox"
# The applet list comes from the host's busybox: the same Debian version is built with the same applets.
for applet in $(busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$out/bin/$applet"
done
chmod 1777 "$out/tmp"
chmod 0700 "$out/root"
cat > "$out/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > "$out/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
staff:x:50:
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
GROUP
chmod 0644 "$out/etc/passwd" "$out/etc/group"
# Fixed times so that the same package gives the same base image.
find "$out" -exec touch -h -d @0 {} +
