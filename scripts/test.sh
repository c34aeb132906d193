#!/usr/bin/env bash
# make test's tiers in two lanes, to fit CI's 2 CPUs in under 15 minutes:
#   - the checks that need neither root nor libvirtd (sanity compat docs
#     changelog lint release-check units-installed) in the background, all of
#     them even when one fails (-k), their output kept in a file and printed
#     when they end;
#   - the tiers on the real libvirtd, one after the other (they share its
#     objects): the other controllers (matrix), ansible-test integration, and,
#     once the background lane is done so its timing-sensitive tests (deadlines,
#     a libvirtd restart recovered within a second) run alone, the pytest tiers
#     but tests/unit, which units-installed ran on this controller and Python
#     (from the built tarball) and matrix on the other two.
# usage: scripts/test.sh   (from make test; MAKEFLAGS carries MATRIX=...)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
MAKE=${MAKE:-make}
PY=${PY:-.venv/bin/python}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

STATIC="sanity compat docs changelog lint release-check units-installed"

started=$(date +%s)
echo "make test: $STATIC run in the background; their output follows when they end"
# shellcheck disable=SC2086  # STATIC is a list of targets
( $MAKE --no-print-directory -k $STATIC
  rc=$?; echo "---- background lane ended $(( $(date +%s) - started )) s after the start ----"; exit $rc ) >"$log" 2>&1 &
static=$!

$MAKE --no-print-directory matrix integration
libvirt_rc=$?
echo "make test: matrix and integration done $(( $(date +%s) - started )) s after the start"

wait "$static"
static_rc=$?
echo "---- $STATIC (rc $static_rc) ----"
cat "$log"
echo "---- end of the background lane ----"
if [ "$static_rc" != 0 ] || [ "$libvirt_rc" != 0 ]; then
    echo "make test: failed (background lane rc $static_rc, matrix/integration rc $libvirt_rc)" >&2
    exit 1
fi

VPE_TEST_CLEANUP=1 "$PY" -m pytest -p no:cacheprovider tests --ignore=tests/lab --ignore=tests/unit
