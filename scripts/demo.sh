#!/usr/bin/env bash
# Start a shim for this host and show it answering real requests.
# Uses the host's libvirt (qemu:///system) when it answers, else libvirt's
# in-memory test driver, and says which. Everything lives under ./demo.
#   scripts/demo.sh          start (or restart) and query it
#   scripts/demo.sh clean    stop it and remove ./demo
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$REPO/demo
PY=$REPO/.venv/bin/python
PORT=${VPE_DEMO_PORT:-8470}
export PYTHONPATH=$REPO/.collections

stop() {
    if [ -f "$DEMO/shim.pid" ]; then
        kill "$(cat "$DEMO/shim.pid")" 2>/dev/null || true
        rm -f "$DEMO/shim.pid"
    fi
}

if [ "${1:-}" = clean ]; then
    stop
    rm -rf "$DEMO"
    echo "demo stopped and $DEMO removed"
    exit 0
fi

stop
mkdir -p "$DEMO/state"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    "$REPO/scripts/ensure-libvirtd.sh" >/dev/null 2>&1 || true
fi
if virsh -c qemu:///system version >/dev/null 2>&1; then
    URI=qemu:///system
    echo "Using this host's libvirt at $URI"
else
    URI=test:///default
    echo "libvirtd does not answer on qemu:///system: using libvirt's in-memory test driver ($URI)"
fi

TOKENS=$DEMO/tokens
if [ ! -f "$TOKENS" ]; then
    (umask 077; printf 'admin %s\nread %s\n' "$("$PY" -c 'import secrets; print(secrets.token_hex(16))')" \
        "$("$PY" -c 'import secrets; print(secrets.token_hex(16))')" > "$TOKENS")
fi
ADMIN=$(awk '$1 == "admin" {print $2}' "$TOKENS")
READ=$(awk '$1 == "read" {print $2}' "$TOKENS")

"$PY" -m ansible_collections.vpe.hypervisor.api_shim serve --listen "127.0.0.1:$PORT" --uri "$URI" \
    --state-dir "$DEMO/state" --token-file "$TOKENS" > "$DEMO/shim.log" 2>&1 &
echo $! > "$DEMO/shim.pid"
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

URL=http://127.0.0.1:$PORT
show() {
    echo
    echo "\$ $*"
    "$@"
    echo
}
show curl -s "$URL/healthz"
show curl -s -H "Authorization: Bearer $READ" "$URL/hypervisor/usages"
show curl -s -H "Authorization: Bearer $READ" "$URL/hypervisor/quota"
show curl -s -X PUT -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"quota": {"cpu_max": 16, "memory_max_mb": 10240}}' "$URL/hypervisor/quota"
show curl -s -H "Authorization: Bearer $READ" "$URL/hypervisor/usages"

cat <<MSG
The shim is running (pid $(cat "$DEMO/shim.pid"), log $DEMO/shim.log) on $URI.
  read token:  $READ
  admin token: $ADMIN   (both in $TOKENS)
Try:
  curl -H 'Authorization: Bearer $READ' $URL/hypervisor/usages
  curl $URL/openapi.json
  ANSIBLE_COLLECTIONS_PATH=$REPO/.collections $REPO/.venv/bin/ansible localhost -m vpe.hypervisor.vpe_facts -a 'uri=$URI state_dir=$DEMO/state'
Stop it with: make demo-clean
MSG
