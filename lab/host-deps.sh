#!/usr/bin/env bash
# The host side of the lab, from Debian's packages (a fresh machine has none of it):
#   mmdebstrap     builds the image          e2fsprogs  mkfs.ext4 -d
#   qemu-system-x86 qemu-utils  runs the VMs, makes their overlays
#   iproute2       netns, bridge, taps       openssh-client  ssh, ssh-keygen
#   openssl        the lab's CA and the shims' certificates
#   prometheus     scrapes the shims in the lab tier
#   curl           the controller side's probes
set -euo pipefail
PKGS=(mmdebstrap e2fsprogs qemu-system-x86 qemu-utils iproute2 openssh-client openssl prometheus curl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "the lab needs (as root, Debian): apt-get install ${missing[*]}" >&2; exit 1
fi
echo "lab: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" || { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
# Debian starts the prometheus service on install; the lab runs its own in the namespace.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
  systemctl disable --now prometheus prometheus-node-exporter 2>/dev/null || true
fi
