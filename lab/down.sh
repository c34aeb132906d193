#!/usr/bin/env bash
# Tear the lab down: every VM (by its pidfile), its taps, bridge and namespace,
# and everything under lab/out. The image cache (lab/cache) stays.
# Nothing of the lab outlives this: no qemu process, no netns, no tap, no mount
# (the lab mounts nothing: the image is made with mkfs.ext4 -d).
set -uo pipefail
cd "$(dirname "$0")" || exit 1
. ./lab.conf
OUT=$PWD/out
NS=$LAB_NETNS
[ -f "$OUT/netns" ] && NS=$(cat "$OUT/netns")
for pidfile in "$OUT"/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  # only a QEMU this lab started (the pidfile may be stale after a host reboot)
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "qemu-system-x86_64 -name .*$OUT/"; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
  fi
done
# Processes still in the namespace (a Prometheus, an ssh the tests started).
if ip netns list | grep -qw "^$NS"; then
  for pid in $(ip netns pids "$NS" 2>/dev/null); do kill "$pid" 2>/dev/null; done
  sleep 1
  for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  ip netns del "$NS"   # the bridge and the taps live and die with it
fi
rm -rf "$OUT"
left=$(pgrep -f "qemu-system-x86_64 -name .*$OUT/" || true)
if [ -n "$left" ] || ip netns list | grep -qw "^$NS"; then
  echo "lab-down: left over: qemu pids [$left], netns $(ip netns list | grep -w "^$NS")" >&2; exit 1
fi
echo "lab: down" >&2
