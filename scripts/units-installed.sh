#!/usr/bin/env bash
# ansible-test units the way a user of the released collection runs them: build
# the tarball, install it into a scratch tree, and run the unit tier there in a
# venv ansible-test makes from tests/unit/requirements.txt.
# usage: scripts/units-installed.sh [extra ansible-test args]
set -euo pipefail
# The built artifact alone: not the checkout that make puts on both paths.
unset PYTHONPATH ANSIBLE_COLLECTIONS_PATH
REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$REPO/.venv}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$REPO/scripts/ansible-test-pip.sh" "$VENV"
"$VENV/bin/ansible-galaxy" collection build --output-path "$WORK" "$REPO" >/dev/null
"$VENV/bin/ansible-galaxy" collection install --force -p "$WORK/tree" "$WORK"/vpe-hypervisor-*.tar.gz >/dev/null
cd "$WORK/tree/ansible_collections/vpe/hypervisor"
PY_VERSION=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PATH="$VENV/bin:$PATH" ansible-test units --color no --venv --requirements --python "$PY_VERSION" "$@"
