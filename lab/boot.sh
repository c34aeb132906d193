#!/usr/bin/env bash
# Boot the lab: namespace, bridge, taps, one qcow2 overlay per VM over the
# cached base image, QEMU under TCG (no usable KVM here), then wait for sshd.
# Usage: lab/boot.sh IMAGE_DIR. Exit 3 on a boot timeout (lab-ci retries that).
set -euo pipefail
cd "$(dirname "$0")"
. ./lab.conf
IMG=$(cd "$1" && pwd)
OUT=$PWD/out
mkdir -p "$OUT/ssh"
chmod 0700 "$OUT/ssh"
[ -f "$OUT/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C vpe-lab -f "$OUT/ssh/id_ed25519"
KEY=$(cut -d' ' -f2 "$OUT/ssh/id_ed25519.pub")
NS=$LAB_NETNS
nsx() { ip netns exec "$NS" "$@"; }

if ! ip netns list | grep -qw "^$NS"; then
  ip netns add "$NS"
  nsx ip link set lo up
  nsx ip link add "$LAB_BRIDGE" type bridge stp_state 0 forward_delay 0
  nsx ip addr add "$LAB_GW/$LAB_PREFIX" dev "$LAB_BRIDGE"
  nsx ip link set "$LAB_BRIDGE" up
fi
echo "$NS" >"$OUT/netns"

start=$(date +%s)
for vm in "${LAB_VMS[@]}"; do
  read -r name net octet <<<"$vm"
  pid=$OUT/$name.pid
  if [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null; then continue; fi
  mac=$(printf '52:54:00:19:10:%02x' "$octet")
  tap=labtap$octet
  nsx ip link show "$tap" >/dev/null 2>&1 || {
    nsx ip tuntap add dev "$tap" mode tap
    nsx ip link set "$tap" master "$LAB_BRIDGE" up
  }
  [ -f "$OUT/$name.qcow2" ] || qemu-img create -q -f qcow2 -b "$IMG/base.raw" -F raw "$OUT/$name.qcow2"
  nsx qemu-system-x86_64 -name "$name" -machine pc -accel tcg,thread=multi -cpu "$LAB_VM_CPU" \
    -smp 1 -m "$LAB_VM_MEM" -uuid "$(printf '00000000-0000-4000-8000-0000001910%02x' "$octet")" \
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 systemd.hostname=$name vpelab.net=$net vpelab.mac=$mac vpelab.addr=$LAB_NET.$octet/$LAB_PREFIX vpelab.gw=$LAB_GW vpelab.key=$KEY $LAB_KERNEL_EXTRA" \
    -drive "file=$OUT/$name.qcow2,if=virtio,format=qcow2,cache=unsafe" \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
    -device "virtio-net-pci,netdev=n0,mac=$mac,addr=0x3" \
    -display none -serial "file:$OUT/$name.console" \
    -monitor "unix:$OUT/$name.monitor,server,nowait" \
    -pidfile "$pid" -daemonize
done

# sshd answering as the lab user on every VM.
for vm in "${LAB_VMS[@]}"; do
  read -r name net octet <<<"$vm"
  deadline=$(( start + LAB_BOOT_TIMEOUT ))
  until nsx ssh -q -i "$OUT/ssh/id_ed25519" -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no \
          -o UserKnownHostsFile=/dev/null "$LAB_USER@$LAB_NET.$octet" true 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "lab: $name did not answer SSH within ${LAB_BOOT_TIMEOUT}s; its console: $OUT/$name.console" >&2
      tail -n 20 "$OUT/$name.console" >&2 || true
      exit 3
    fi
    sleep 3
  done
  echo "lab: $name up after $(( $(date +%s) - start ))s" >&2
done
