#!/usr/bin/env bash
# `make lab-ci`: lab up (boot retried once on a boot timeout, never on a
# failed test), the lab tier, and lab-down whatever happened.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
trap 'lab/down.sh' EXIT
s=$(date +%s)
lab/up.sh --retry-boot || exit $?
PY=${PY:-.venv/bin/python}
VPE_LAB=1 $PY -m pytest -p no:cacheprovider --durations=0 tests/lab
rc=$?
echo "lab-ci: timings (s): $(tr -d '\n ' <lab/out/timings.json 2>/dev/null) total $(( $(date +%s) - s ))" >&2
exit $rc
