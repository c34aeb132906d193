#!/usr/bin/env bash
# `make lab`: image (built or reused), 3 VMs booted, converged with site.yml
# from the installed collection tarball; the VMs stay up. Times each part into
# lab/out/timings.json. With --retry-boot (lab-ci), a boot timeout (boot.sh
# exit 3) tears the lab down and boots once more; a failed converge does not retry.
set -euo pipefail
cd "$(dirname "$0")"
OUT=$PWD/out
RETRY=0
[ "${1:-}" = --retry-boot ] && RETRY=1
mkdir -p "$OUT"
t() { date +%s; }
record() {  # record NAME SECONDS
  python3 - "$OUT/timings.json" "$1" "$2" <<'PY'
import json, os, sys
path, name, secs = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = json.load(open(path)) if os.path.exists(path) else {}
data[name] = secs
tmp = path + '.tmp'
json.dump(data, open(tmp, 'w'), indent=1, sort_keys=True)
os.replace(tmp, path)
PY
}

if [ -f "$OUT/converged" ] && ./status.sh >/dev/null 2>&1; then
  echo "lab: already up and converged (lab/out/inventory.yml); make lab-down to start over" >&2; exit 0
fi
s=$(t); IMG=$(./build-image.sh); record image $(( $(t) - s ))
for attempt in 1 2; do
  s=$(t)
  set +e; ./boot.sh "$IMG"; rc=$?; set -e
  record boot $(( $(t) - s ))
  [ $rc = 0 ] && break
  if [ $rc = 3 ] && [ $RETRY = 1 ] && [ $attempt = 1 ]; then
    echo "lab: boot timed out; tearing down and booting once more" >&2
    ./down.sh; mkdir -p "$OUT"; continue
  fi
  exit $rc
done
s=$(t); ./converge.sh converge; record converge $(( $(t) - s ))
date -u +%FT%TZ >"$OUT/converged"
echo "lab: up. inventory: $OUT/inventory.yml; netns: $(cat "$OUT/netns")" >&2
echo "  ip netns exec $(cat "$OUT/netns") ssh -i $OUT/ssh/id_ed25519 vpelab@198.19.10.11" >&2
