"""vpe_facts reads every section on every host, and a module payload carries
no bytecode: every module_utils file it imports is compiled on each run, and
every one it names (even inside a function) is scanned on the controller and
shipped. So the read path must not reach the change code."""

import ast
import os
import subprocess
import sys

import vpetest

PACKAGE = 'ansible_collections.vpe.hypervisor.plugins.module_utils'
ROOT = str(vpetest.REPO)
MODULE_UTILS = os.path.join(ROOT, 'plugins', 'module_utils')
# What only a change, the shim or the range queries need.
CHANGE_ONLY = ('fields', 'network_persist', 'metrics_query', 'metrics_ranges', 'storage_paths', 'module_apply',
               'quota_hook_program')


def _named(path):
    """module_utils names a file imports anywhere in it, as AnsiballZ's scan sees them."""
    names = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE + '.'):
            names.add(node.module[len(PACKAGE) + 1:])
    return names


def _payload_of(module_path):
    """Every module_utils file the module's payload holds (the closure of _named)."""
    seen, todo = set(), list(_named(module_path))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_named(os.path.join(MODULE_UTILS, name + '.py')))
    return seen


def _change_code(names):
    return sorted(n for n in names if n.endswith('_apply') or n in CHANGE_ONLY)


def test_the_facts_payload_holds_no_change_code():
    payload = _payload_of(os.path.join(ROOT, 'plugins', 'modules', 'vpe_facts.py'))
    assert {'facts', 'network', 'pools', 'image_pool', 'quota', 'metrics'} <= payload
    assert _change_code(payload) == []


def test_a_change_module_payload_holds_its_apply_side():
    """The check above would pass on an empty closure; this one shows it finds change code."""
    payload = _payload_of(os.path.join(ROOT, 'plugins', 'modules', 'vpe_network.py'))
    assert {'network_apply', 'network_live_apply', 'network_libvirt_apply', 'network_persist', 'fields'} <= payload
    quota_payload = _payload_of(os.path.join(ROOT, 'plugins', 'modules', 'vpe_quota.py'))
    assert {'quota_apply', 'quota_hook_apply', 'quota_hook_program', 'quota_hook'} <= quota_payload


def test_gathering_facts_imports_no_change_code(state_dir):
    """At run time too: nor the libvirt event loop, which the payload holds for the shim's sake."""
    code = (
        'import sys\n'
        'from %(p)s import facts\n'
        'from %(p)s.context import Context\n'
        'ctx = Context("test:///default", %(d)r)\n'
        'facts.gather(ctx)\n'
        'print(" ".join(m[len("%(p)s."):] for m in sys.modules if m.startswith("%(p)s.")))\n'
    ) % {'p': PACKAGE, 'd': str(state_dir)}
    out = subprocess.run([sys.executable, '-c', code], env=vpetest.shim_env(), capture_output=True, text=True,
                         check=True).stdout.split()
    assert 'network' in out and 'metrics' in out
    assert _change_code(out) == []
    assert 'libvirt_events' not in out
