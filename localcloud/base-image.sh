#!/usr/bin/env bash
# Build the local cloud's base image: a minimal Debian/Ubuntu root with systemd as PID 1,
# imported into podman as localhost/longhaul-base:<release>. No registry is needed.
# Usage: localcloud/base-image.sh [bookworm|noble|jammy]   (idempotent: reuses an image built by this same
# script, rebuilds when the script changed or LONGHAUL_REBUILD_BASE=1).
set -euo pipefail
release=${1:-bookworm}
image="localhost/longhaul-base:${release}"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}

# The image carries a digest of this script: a changed recipe rebuilds it, an unchanged one is reused.
recipe=$(sha256sum "$0" | cut -c1-16)
if [ "${LONGHAUL_REBUILD_BASE:-0}" != 1 ] && podman image exists "$image" &&
   [ "$(podman image inspect --format '{{ index .Labels "longhaul.base.recipe" }}' "$image")" = "$recipe" ]; then
  echo "base image $image exists"
  exit 0
fi

# Debian 12's debootstrap has no script for newer Ubuntu releases; they all bootstrap like gutsy.
case "$release" in
  bookworm) mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian} components=main script= ;;
  jammy|noble) mirror=${UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu} components=main,universe
    script=/usr/share/debootstrap/scripts/gutsy ;;
  *) echo "unknown release '$release' (bookworm, jammy, noble)" >&2; exit 2 ;;
esac

root=$(mktemp -d /var/tmp/longhaul-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
start=$(date +%s)
debootstrap --variant=minbase --components="$components" \
  --include=python3,python3-apt,systemd,systemd-sysv,dbus,iproute2,ca-certificates,curl,procps,sudo \
  "$release" "$root" "$mirror" $script >/dev/null
[ -x "$root/sbin/init" ] || { echo "debootstrap of $release produced no /sbin/init" >&2; exit 1; }

# Hosts of the local cloud reach package registries through the controller's network: trust the extra
# CAs the controller trusts (a TLS-inspecting proxy's, for instance), or pip and apt inside them fail.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi

# Consoles and udev have nothing to manage in a container and slow boot down.
for unit in getty@tty1.service console-getty.service serial-getty@.service getty.target \
            systemd-udevd.service systemd-udev-trigger.service systemd-udevd-control.socket \
            systemd-udevd-kernel.socket systemd-logind.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# Each container gets its own machine-id at boot.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# Keep the image small; apt lists are fetched by the roles. Backdate the directory so that
# `apt: cache_valid_time` sees a stale cache and really updates.
apt_clean() { rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin; touch -d '2000-01-01' "$root/var/lib/apt/lists"; }
apt_clean

tar -C "$root" -c . | podman import \
  --change 'CMD ["/sbin/init"]' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change 'ENV container=podman' \
  --change "LABEL longhaul.base.recipe=$recipe" \
  - "$image" >/dev/null
echo "built $image in $(( $(date +%s) - start ))s"
