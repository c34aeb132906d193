#!/usr/bin/env bash
# Judge the artifact a user installs, as Galaxy and the Ansible docs tooling do:
# build the tarball; it holds no working-tree file (demo/ has live tokens);
# galaxy-importer (with ansible-lint) prints no warning; antsibull-docs lints
# every plugin's and role's docs; ansible-builder's introspection puts none of
# the host-side libraries into an execution environment.
set -euo pipefail
# The built artifact alone: not the checkout that make puts on both paths.
unset PYTHONPATH ANSIBLE_COLLECTIONS_PATH
REPO=$(cd "$(dirname "$0")/.." && pwd)
RVENV=${RVENV:-$REPO/.venv-release}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PATH="$RVENV/bin:$PATH"

ansible-galaxy collection build --output-path "$WORK" "$REPO" >/dev/null
TARBALL=$(echo "$WORK"/vpe-hypervisor-*.tar.gz)

junk=$(tar -tzf "$TARBALL" | grep -E '(^|/)(demo|\.[^/]+|__pycache__|output|bench|lab|scripts)(/|$)|\.pyc$|(^|/)tokens(\.initial)?$|\.(key|pem)$' || true)
if [ -n "$junk" ]; then
    echo "the tarball holds working-tree files:" >&2; echo "$junk" >&2; exit 1
fi
echo "tarball: $(tar -tzf "$TARBALL" | wc -l) entries, $(du -k "$TARBALL" | cut -f1) KiB, no working-tree files"

# Galaxy requires `repository`. galaxy.yml leaves it out until the project has
# a public address (no placeholder ships); for this check alone the importer
# sees the checkout's own file:// address in MANIFEST.json.
IMPORTED=$WORK/import/$(basename "$TARBALL")
python - "$TARBALL" "$IMPORTED" "file://$REPO" <<'PY'
import io, json, os, sys, tarfile
src, dest, url = sys.argv[1:]
os.makedirs(os.path.dirname(dest))
with tarfile.open(src) as tin, tarfile.open(dest, 'w:gz') as tout:
    for member in tin.getmembers():
        data = tin.extractfile(member).read() if member.isfile() else None
        if member.name == 'MANIFEST.json':
            manifest = json.loads(data)
            if not manifest['collection_info'].get('repository'):
                manifest['collection_info']['repository'] = url
            data = json.dumps(manifest, indent=4).encode()
            member.size = len(data)
        tout.addfile(member, io.BytesIO(data) if data is not None else None)
PY
printf '[galaxy-importer]\nRUN_ANSIBLE_LINT = True\nRUN_ANSIBLE_TEST = False\n' > "$WORK/importer.cfg"
(cd "$WORK/import" && GALAXY_IMPORTER_CONFIG="$WORK/importer.cfg" python -m galaxy_importer.main "$IMPORTED") > "$WORK/importer.log" 2>&1 || {
    cat "$WORK/importer.log" >&2; echo "galaxy-importer failed" >&2; exit 1; }
if grep -E 'WARNING|ERROR' "$WORK/importer.log"; then
    echo "galaxy-importer warned (above); the whole log is:" >&2; cat "$WORK/importer.log" >&2; exit 1
fi
echo "galaxy-importer: no warning ($(grep -c . "$WORK/importer.log") log lines)"

ansible-galaxy collection install --force -p "$WORK/tree" "$TARBALL" >/dev/null
INSTALLED=$WORK/tree/ansible_collections/vpe/hypervisor
(cd "$INSTALLED" && ANSIBLE_COLLECTIONS_PATH="$WORK/tree" antsibull-docs lint-collection-docs --plugin-docs .)
echo "antsibull-docs: clean"

ansible-builder introspect --sanitize "$WORK/tree" > "$WORK/ee.txt"
if grep -iE 'libvirt|bottle|cheroot|psutil|prometheus' "$WORK/ee.txt"; then
    echo "an execution environment would get host-side libraries:" >&2; cat "$WORK/ee.txt" >&2; exit 1
fi
echo "execution environment: $(tr '\n' ' ' < "$WORK/ee.txt" | tr -s ' ')"
