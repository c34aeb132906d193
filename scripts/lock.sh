#!/usr/bin/env bash
# Re-resolve each requirements/REQ.txt in a scratch venv and write the full
# set of pins (transitive packages too) to requirements/LOCK.lock, which
# `make venv` (and the other venvs) install with `-c`. Review the diff, then
# run `make test` before committing it.
#   scripts/lock.sh            every lock
#   scripts/lock.sh dev        one of: dev release ansible-2.20 ansible-2.21 peer
set -euo pipefail
cd "$(dirname "$0")/.."
PIP_VERSION=$(sed -n 's/^PIP_VERSION := //p' Makefile)
pyenv_versions=${PYENV_ROOT:-$HOME/.pyenv}/versions

find_python() {  # find_python 3.12
    for p in "$pyenv_versions/$1".*/bin/"python$1" "/usr/bin/python$1"; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
    echo "Python $1 not found" >&2; exit 1
}

# name -> "python requirements-file lock-file [extra requirement]"
declare -A LOCKS=(
    [dev]="python3 requirements/dev.txt requirements/dev.lock"
    [release]="python3 requirements/release.txt requirements/release.lock"
    [ansible-2.20]="$(find_python 3.12) requirements/matrix.txt requirements/ansible-2.20.lock ansible-core~=2.20.0"
    [ansible-2.21]="$(find_python 3.13) requirements/matrix.txt requirements/ansible-2.21.lock ansible-core~=2.21.0"
    [peer]="python3 bench/requirements-peer.txt bench/requirements-peer.lock"
)

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(dev release ansible-2.20 ansible-2.21 peer)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for name in "${names[@]}"; do
    [ -n "${LOCKS[$name]:-}" ] || { echo "unknown lock $name" >&2; exit 2; }
    read -r python req lock extra <<<"${LOCKS[$name]}"
    echo "resolving $req with $("$python" --version) -> $lock"
    "$python" -m venv "$scratch/$name"
    "$scratch/$name/bin/pip" install -q "pip==$PIP_VERSION"
    # shellcheck disable=SC2086
    "$scratch/$name/bin/pip" install -q -r "$req" $extra
    {
        echo "# Written by scripts/lock.sh ($(date -u +%F), $("$python" --version)) from $req; do not edit by hand."
        "$scratch/$name/bin/pip" freeze --exclude-editable
    } > "$lock"
done
