#!/usr/bin/env bash
# ansible-test sanity on a real copy of the collection (ansible-test refuses a
# symlinked tree) at .sanity/ansible_collections/vpe/hypervisor.
# usage: scripts/sanity.sh [extra ansible-test args]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$REPO/.venv}
WORK=$REPO/.sanity

"$REPO/scripts/ansible-test-pip.sh" "$VENV"

# Target Pythons 3.8+ for the compile and import tests: real binaries first on
# PATH (pyenv's shims fail without a selected version). Missing ones are skipped.
mkdir -p "$WORK/pybin"
for v in 3.8 3.9 3.10 3.12 3.13; do
    for p in "/root/.pyenv/versions/$v".*/bin/"python$v" "/usr/bin/python$v"; do
        if [ -x "$p" ]; then ln -sfn "$p" "$WORK/pybin/python$v"; break; fi
    done
done

DEST=$("$REPO/scripts/copy-collection.sh" "$WORK")
cd "$DEST"
PATH="$WORK/pybin:$VENV/bin:$PATH" ansible-test sanity --color no "$@"
