#!/bin/sh
# mmdebstrap --customize-hook: turns the root file system in $1 into the lab's
# hypervisor image (one image, every VM; per-VM settings come at first boot
# from the kernel command line, see files/vpe-lab-firstboot).
set -eu
R=$1
H=$(dirname "$0")

# The lab user: Ansible connects as it and becomes root with sudo.
chroot "$R" useradd --create-home --shell /bin/bash --user-group vpelab
echo 'vpelab ALL=(ALL) NOPASSWD: ALL' >"$R/etc/sudoers.d/vpelab"
chmod 0440 "$R/etc/sudoers.d/vpelab"
chroot "$R" passwd --lock root >/dev/null

install -m 0755 "$H/files/vpe-lab-firstboot" "$R/usr/local/sbin/vpe-lab-firstboot"
install -m 0644 "$H/files/vpe-lab-firstboot.service" "$R/etc/systemd/system/vpe-lab-firstboot.service"
chroot "$R" systemctl enable vpe-lab-firstboot.service

# No network stack runs until the first boot picks the VM's own.
chroot "$R" systemctl disable NetworkManager.service NetworkManager-wait-online.service networking.service \
  systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service 2>/dev/null || true
# A fixed machine id keeps systemd out of first-boot presets (which would enable
# networkd everywhere); vpe-lab-firstboot gives each VM its own.
echo 0123456789abcdef0123456789abcdef >"$R/etc/machine-id"

# libvirt's `default` NAT network sits on 192.168.122.0/24: not in the lab.
rm -f "$R/etc/libvirt/qemu/networks/default.xml" "$R/etc/libvirt/qemu/networks/autostart/default.xml"

# Each VM makes its own SSH host keys at first boot.
rm -f "$R"/etc/ssh/ssh_host_*
printf 'UseDNS no\nHostKey /etc/ssh/ssh_host_ed25519_key\n' >"$R/etc/ssh/sshd_config.d/vpe-lab.conf"

printf '/dev/vda / ext4 defaults,errors=remount-ro 0 1\n' >"$R/etc/fstab"
echo lab >"$R/etc/hostname"
# Quieter, faster boots under TCG; no apt timers reaching for a network there is not.
chroot "$R" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer 2>/dev/null || true
# Nothing to fetch from: the guests have no mirror.
: >"$R/etc/apt/sources.list"
rm -f "$R"/etc/apt/sources.list.d/*
