#!/usr/bin/env bash
# A real copy of this checkout (what git tracks, and untracked files it does not
# ignore) at WORK/ansible_collections/vpe/hypervisor, as a git repository of its
# own: ansible-test refuses a symlinked tree and lists files through git.
# usage: scripts/copy-collection.sh WORK   (prints the copy's path)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DEST=$1/ansible_collections/vpe/hypervisor
rm -rf "$DEST"
mkdir -p "$DEST"
cd "$REPO"
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c '[ -e "{}" ] && printf "%s\0" "{}"' | tar --null -T - -cf - | tar -C "$DEST" -xf -
cd "$DEST"
git init -q . && git add -A >/dev/null
echo "$DEST"
