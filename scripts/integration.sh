#!/usr/bin/env bash
# ansible-test integration --local on a real copy of the collection (ansible-test
# refuses a symlinked tree) at .integration/ansible_collections/vpe/hypervisor:
# the targets of tests/integration/targets, on this host's libvirtd, as root.
# usage: scripts/integration.sh [target ...] [extra ansible-test args]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$REPO/.venv}
WORK=$REPO/.integration

"$REPO/scripts/ansible-test-pip.sh" "$VENV"

DEST=$("$REPO/scripts/copy-collection.sh" "$WORK")
cd "$DEST"
PATH="$VENV/bin:$PATH" ansible-test integration --local --allow-destructive --python "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no "$@"
