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
CHANGE_ONLY = ('fields', 'network_persist', 'storage_paths', 'module_apply', 'quota_hook_program', 'state_write',
               'atomic_file')
# What the facts payload must not hold (so vpe_facts compiles none of it): the
# state file's writer, what only a process serving many calls keeps (the
# shim's serve_many), the metrics writer and range reader, and iproute2's
# full reader (a read dumps the links over netlink).
NOT_IN_FACTS = ('core.state_write', 'core.atomic_file', 'core.serving', 'core.libvirt_kept', 'core.libvirt_events',
                'storage.disk_usage_kept', 'metrics.metrics_store', 'network.network_live')
# The facts payload's own source, in bytes: the controller parses every byte
# when it builds the payload, and the host compiles it on a run that finds no
# bytecode kept (core/zip_compile_once). About 75 KB now (56 KB before the
# wire client, which replaced loading libvirt's binding; 78 KB before the
# read/write split); raise it only for something facts needs.
FACTS_SOURCE_BUDGET = 80000


def _file_of(name):
    return os.path.join(MODULE_UTILS, *name.split('.')) + '.py'


def _named(path):
    """module_utils files a file imports anywhere in it, as AnsiballZ's scan sees them:
    'core.facts' for `from PACKAGE.core import facts` or `from PACKAGE.core.facts import x`."""
    names = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if not (isinstance(node, ast.ImportFrom) and node.module and
                (node.module == PACKAGE or node.module.startswith(PACKAGE + '.'))):
            continue
        module = node.module[len(PACKAGE) + 1:]
        if module and os.path.isfile(_file_of(module)):
            names.add(module)
        else:
            names.update((module + '.' if module else '') + alias.name for alias in node.names)
    return names


def _payload_of(module_path):
    """Every module_utils file the module's payload holds (the closure of _named)."""
    seen, todo = set(), list(_named(module_path))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_named(_file_of(name)))
    return seen


def _change_code(names):
    """The path rule: a file named *_apply, or one of CHANGE_ONLY, in any subpackage."""
    return sorted(n for n in names if n.rsplit('.', 1)[-1].endswith('_apply') or n.rsplit('.', 1)[-1] in CHANGE_ONLY)


def _facts_payload():
    return _payload_of(os.path.join(ROOT, 'plugins', 'modules', 'vpe_facts.py'))


def test_the_facts_payload_holds_no_change_code():
    payload = _facts_payload()
    assert {'core.facts', 'network.network', 'storage.pools', 'storage.image_pool', 'quota.quota', 'metrics.metrics'} <= payload
    assert _change_code(payload) == []


def test_the_facts_payload_holds_no_writer_nor_shim_side():
    payload = _facts_payload()
    assert sorted(payload & set(NOT_IN_FACTS)) == []
    assert sum(os.path.getsize(_file_of(name)) for name in payload) <= FACTS_SOURCE_BUDGET


def test_what_the_facts_payload_must_not_hold_is_still_reached_elsewhere():
    """The check above would pass on names nothing imports any more: the
    shim's serving context, the writers and the collector's store reach them."""
    reached = set()
    for name in ('core.serving', 'network.network_revert', 'quota.quota_apply', 'storage.pools_apply'):
        reached |= _payload_of(_file_of(name)) | {name}
    assert set(NOT_IN_FACTS) - {'metrics.metrics_store'} <= reached
    assert os.path.isfile(_file_of('metrics.metrics_store'))


def test_a_change_module_payload_holds_its_apply_side():
    """The check above would pass on an empty closure; this one shows it finds change code."""
    payload = _payload_of(os.path.join(ROOT, 'plugins', 'modules', 'vpe_network.py'))
    assert {'network.network_apply', 'network.network_live_apply', 'network.network_libvirt_apply', 'network.network_persist',
            'core.fields'} <= payload
    quota_payload = _payload_of(os.path.join(ROOT, 'plugins', 'modules', 'vpe_quota.py'))
    assert {'quota.quota_apply', 'quota.quota_hook_apply', 'quota.quota_hook_program', 'quota.quota_hook'} <= quota_payload


def test_gathering_facts_imports_no_change_code(state_dir):
    """At run time too: nor the libvirt event loop, which the payload holds for the shim's sake."""
    code = (
        'import sys\n'
        'from %(p)s.core import facts\n'
        'from %(p)s.core.context import Context\n'
        'ctx = Context("test:///default", %(d)r)\n'
        'facts.gather(ctx)\n'
        'print(" ".join(m[len("%(p)s."):] for m in sys.modules if m.startswith("%(p)s.")))\n'
    ) % {'p': PACKAGE, 'd': str(state_dir)}
    out = subprocess.run([sys.executable, '-c', code], env=vpetest.shim_env(), capture_output=True, text=True,
                         check=True).stdout.split()
    assert 'network.network' in out and 'metrics.metrics' in out
    assert _change_code(out) == []
    assert sorted(set(out) & set(NOT_IN_FACTS)) == []


def test_the_network_watchdog_bundle_holds_everything_network_revert_imports():
    """The watchdog runs network_revert from a copy of these files alone (network_confirm.write_bundle)."""
    from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_confirm
    closure = _payload_of(_file_of('network.network_revert')) | {'network.network_revert'}
    assert closure == set(network_confirm.WATCHDOG_FILES)
