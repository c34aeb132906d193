#!/usr/bin/env bash
# ansible-test bootstraps pip into its venvs from get-pip.py, which cannot be
# downloaded here: put a copy that uses ensurepip under the name it expects.
# usage: scripts/ansible-test-pip.sh VENV
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PIPV=$("$1/bin/python" -c 'import re, pathlib, ansible_test as a; print(re.search(r"pip=.([0-9.]+).", (pathlib.Path(a.__file__).parent / "_internal/python_requirements.py").read_text()).group(1))')
mkdir -p ~/.ansible/test/cache
cp "$REPO/scripts/get-pip-from-ensurepip.py" ~/.ansible/test/cache/"get_pip_${PIPV//./_}.py"
