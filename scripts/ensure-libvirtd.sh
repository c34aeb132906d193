#!/usr/bin/env bash
# Make a libvirt daemon answer on qemu:///system: install it when root on
# Debian/Ubuntu and absent, create the users it runs guests as, start
# virtlogd and libvirtd without systemd when they are not running.
set -euo pipefail

if virsh -c qemu:///system version >/dev/null 2>&1 && { [ ! -c /dev/kvm ] || [ "$(stat -c %G /dev/kvm)" = kvm ]; }; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "libvirtd does not answer on qemu:///system and this is not root: start it (systemctl start libvirtd) or run as root" >&2
    exit 1
fi

"$(dirname "$0")/ensure-system-packages.sh" libvirt

getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt /var/lib/libvirt
# libvirt probes QEMU as root and later checks the cache as libvirt-qemu: when
# /dev/kvm is root-only the two disagree and every domain define re-probes
# QEMU (about 30 s each). Give the kvm group access, as udev rules do.
if [ -c /dev/kvm ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi

if command -v systemctl >/dev/null 2>&1 && [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
    systemctl start virtlogd libvirtd
else
    pgrep -x virtlogd >/dev/null || virtlogd -d
    pgrep -x libvirtd >/dev/null || libvirtd -d
fi

for _ in $(seq 1 50); do
    if virsh -c qemu:///system version >/dev/null 2>&1; then
        echo "libvirtd answers on qemu:///system"
        exit 0
    fi
    sleep 0.2
done
echo "libvirtd was started but does not answer on qemu:///system; see /var/log/libvirt" >&2
exit 1
