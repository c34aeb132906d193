#!/usr/bin/env bash
# Exit 0 when every lab VM's QEMU runs (by its pidfile) and the namespace exists.
cd "$(dirname "$0")" || exit 1
. ./lab.conf
OUT=$PWD/out
if ! { [ -f "$OUT/netns" ] && ip netns list | grep -qw "^$(cat "$OUT/netns")"; }; then echo "lab: no namespace"; exit 1; fi
for vm in "${LAB_VMS[@]}"; do
  read -r name _ _ <<<"$vm"
  if ! { [ -f "$OUT/$name.pid" ] && kill -0 "$(cat "$OUT/$name.pid")" 2>/dev/null; }; then
    echo "lab: $name is not running"; exit 1
  fi
done
echo "lab: up"
