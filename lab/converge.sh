#!/usr/bin/env bash
# Converge the lab with playbooks/site.yml from the BUILT AND INSTALLED
# collection (ansible-galaxy collection build + install into lab/out/collections;
# nothing of the checkout is on the collection path), over SSH as the lab user
# with become, from inside the lab's namespace.
# Usage: lab/converge.sh NAME [ansible-playbook args...]
#   NAME names the log (lab/out/NAME.log). While it runs, one SSH session per
#   VM prints a line every 2 s and every IPv4 address event as the kernel
#   reports it (lab/out/watch/HOST.log); HOST.alive afterwards
#   says whether that session outlived the converge (vpe_network moves the NIC
#   that carries it into br100).
set -euo pipefail
cd "$(dirname "$0")"
. ./lab.conf
LAB=$PWD
OUT=$LAB/out
ROOT=$(cd .. && pwd)
NAME=$1; shift
VENV=${VPE_LAB_VENV:-$ROOT/.venv}
unset PYTHONPATH   # the Makefile exports the checkout's .collections; the lab uses the installed tarball only
export ANSIBLE_CONFIG=$OUT/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$OUT/collections
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1
mkdir -p "$OUT/ssh/cp" "$OUT/watch" "$OUT/dist"

# The collection as users get it: a tarball, installed.
if [ ! -f "$OUT/collections/.built" ] || [ -n "$(find "$ROOT/plugins" "$ROOT/roles" "$ROOT/api_shim" "$ROOT/playbooks" "$ROOT/meta" "$ROOT/galaxy.yml" -newer "$OUT/collections/.built" -print -quit)" ]; then
  rm -rf "$OUT/dist"/*.tar.gz "$OUT/collections"
  "$VENV/bin/ansible-galaxy" collection build --output-path "$OUT/dist" "$ROOT" >/dev/null
  "$VENV/bin/ansible-galaxy" collection install --force -p "$OUT/collections" "$OUT"/dist/vpe-hypervisor-*.tar.gz >/dev/null
  touch "$OUT/collections/.built"
fi
PLAYBOOK=$OUT/collections/ansible_collections/vpe/hypervisor/playbooks/site.yml
"$LAB/pki.sh" "$OUT"
"$VENV/bin/python" "$LAB/inventory.py" "$OUT"

# The SSH sessions that must survive the converge.
declare -A WATCH
for vm in "${LAB_VMS[@]}"; do
  read -r name _ octet <<<"$vm"
  rm -f "$OUT/watch/$name.alive"
  # shellcheck disable=SC2016  # $(...) runs on the VM
  ip netns exec "$LAB_NETNS" ssh -n -i "$OUT/ssh/id_ed25519" -o BatchMode=yes -o ServerAliveInterval=5 \
    -o ServerAliveCountMax=6 -o UserKnownHostsFile="$OUT/ssh/known_hosts" -o StrictHostKeyChecking=accept-new \
    "$LAB_USER@$LAB_NET.$octet" 'ip -o -4 addr show | sed "s/^/holds /"; ip -o -ts -4 monitor address &
      while sleep 2; do echo "$(date +%s) $(ip -o -4 addr show | grep -c '"$LAB_NET.$octet"')"; done' \
    >"$OUT/watch/$name.log" 2>"$OUT/watch/$name.err" &
  WATCH[$name]=$!
done
# shellcheck disable=SC2317  # run by the EXIT trap
stop_watch() {
  for name in "${!WATCH[@]}"; do
    if kill -0 "${WATCH[$name]}" 2>/dev/null; then echo yes >"$OUT/watch/$name.alive"; else echo no >"$OUT/watch/$name.alive"; fi
    kill "${WATCH[$name]}" 2>/dev/null || true
    wait "${WATCH[$name]}" 2>/dev/null || true
  done
}
trap stop_watch EXIT
sleep 2

start=$(date +%s)
set +e
ip netns exec "$LAB_NETNS" "$VENV/bin/ansible-playbook" -i "$OUT/inventory.yml" "$PLAYBOOK" "$@" >"$OUT/$NAME.log" 2>&1
rc=$?
set -e
echo "$(( $(date +%s) - start ))" >"$OUT/$NAME.seconds"
sleep 2   # a session the converge broke has had its keepalives fail by now only if it was already dying
sed -n '/PLAY RECAP/,$p' "$OUT/$NAME.log" >&2
echo "lab: $NAME took $(cat "$OUT/$NAME.seconds")s (rc $rc; log $OUT/$NAME.log)" >&2
exit $rc
