#!/usr/bin/env bash
# Configure this host as a demo hypervisor with playbooks/demo.yml (both roles)
# and start the shim and the collector from the systemd units the api_shim role
# wrote, then show the shim answering. Uses the host's libvirt (qemu:///system)
# when it answers, else libvirt's in-memory test driver, and says which.
# Everything lives under ./demo; the demo's bridge sits on a veth it creates.
#   scripts/demo.sh          configure, (re)start and query it
#   scripts/demo.sh clean    stop it, remove its libvirt objects and ./demo
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$REPO/demo
PY=$REPO/.venv/bin/python
PORT=${VPE_DEMO_PORT:-8470}
export ANSIBLE_COLLECTIONS_PATH=$REPO/.collections
export ANSIBLE_PYTHON_INTERPRETER=$PY
export ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0 ANSIBLE_RETRY_FILES_ENABLED=0
PLAY=("$REPO/.venv/bin/ansible-playbook" -i "localhost," -c local)

stop_units() {
    for unit in vpe-shim vpe-collector; do
        "$PY" "$REPO/scripts/unit-exec.py" stop "$DEMO/$unit.pid"
    done
}

if [ "${1:-}" = clean ]; then
    if [ -x "$PY" ]; then
        "${PLAY[@]}" "$REPO/playbooks/demo-clean.yml" -e "demo_dir=$DEMO" >"$REPO/.demo-clean.log" 2>&1 || {
            cat "$REPO/.demo-clean.log" >&2; exit 1; }
        rm -f "$REPO/.demo-clean.log"
    else
        rm -rf "$DEMO"
    fi
    echo "demo stopped, its pools, network, bridge and veth removed, and $DEMO removed"
    exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    "$REPO/scripts/ensure-libvirtd.sh" >/dev/null 2>&1 || true
fi
if [ -n "${VPE_DEMO_URI:-}" ]; then
    URI=$VPE_DEMO_URI
    echo "Using $URI (VPE_DEMO_URI)"
elif virsh -c qemu:///system version >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    URI=qemu:///system
    echo "Using this host's libvirt at $URI"
else
    URI=test:///default
    echo "libvirtd does not answer on qemu:///system (or this is not root): using libvirt's in-memory test driver ($URI)"
fi

mkdir -p "$DEMO"
stop_units 2>/dev/null || true
echo "Configuring with playbooks/demo.yml (log: $DEMO/ansible.log)"
if ! "${PLAY[@]}" "$REPO/playbooks/demo.yml" -e "demo_dir=$DEMO demo_uri=$URI demo_port=$PORT" >"$DEMO/ansible.log" 2>&1; then
    tail -40 "$DEMO/ansible.log" >&2
    exit 1
fi
grep -A1 '^PLAY RECAP' "$DEMO/ansible.log" | tail -1

for unit in vpe-shim vpe-collector; do
    "$PY" "$REPO/scripts/unit-exec.py" start "$DEMO/units/$unit.service" "$DEMO/$unit.pid" "$DEMO/$unit.log" >/dev/null
done
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

TOKENS=$DEMO/etc/tokens.initial  # the generated tokens; etc/tokens holds their hashes
ADMIN=$(awk '$1 == "admin" {print $2; exit}' "$TOKENS")
READ=$(awk '$1 == "read" {print $2; exit}' "$TOKENS")
URL=http://127.0.0.1:$PORT
show() {
    echo
    printf '$'
    printf ' %q' "$@"  # quoted, so the line can be pasted as it is
    echo
    "$@"
    echo
}
show curl -s "$URL/healthz"
show curl -s -H "Authorization: Bearer $READ" "$URL/hypervisor/usages"
show curl -s -H "Authorization: Bearer $READ" "$URL/hypervisor/quota"
show curl -s -H "Authorization: Bearer $READ" "$URL/hypervisor/pools"
show curl -s -H "Authorization: Bearer $READ" "$URL/hypervisor/network"
show curl -s -X PUT -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"quota": {"cpu_max": 12}}' "$URL/hypervisor/quota"

cat <<MSG
The shim (pid $(cut -d' ' -f1 "$DEMO/vpe-shim.pid"), log $DEMO/vpe-shim.log) and the metrics collector run on $URI,
started from the units the api_shim role wrote to $DEMO/units (systemd is not asked to run them).
  read token:  $READ
  admin token: $ADMIN   (both in $TOKENS)
Try:
  curl -H 'Authorization: Bearer $READ' $URL/hypervisor/usages
  curl -H 'Authorization: Bearer $READ' '$URL/hypervisor/metrics?q=today'
  curl $URL/openapi.json
  ANSIBLE_COLLECTIONS_PATH=$REPO/.collections $REPO/.venv/bin/ansible localhost -m vpe.hypervisor.vpe_facts -a 'uri=$URI state_dir=$DEMO/state'
Stop it and remove what it made with: make demo-clean
MSG
