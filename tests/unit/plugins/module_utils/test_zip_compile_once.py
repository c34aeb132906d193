"""core/zip_compile_once: from a zip (an AnsiballZ payload) each of our
module_utils files is compiled once instead of twice; outside a zip it does
nothing; whatever it cannot serve is imported the normal way."""

import os
import subprocess
import sys
import zipfile

import pytest

import vpetest

PACKAGE = 'ansible_collections.vpe.hypervisor.plugins.module_utils'
MODULE_UTILS = os.path.join(str(vpetest.REPO), 'plugins', 'module_utils')

# Run in a fresh interpreter (-I: no PYTHONPATH, so no checkout on the path)
# with the zip first on sys.path, as AnsiballZ runs a module: counts the
# compile() calls of our files while importing core.facts.
COUNT = '''
import builtins, collections, json, sys
sys.path.insert(0, sys.argv[1])
real, seen = builtins.compile, []
def counting(source, filename, *args, **kwargs):
    if '/module_utils/' in str(filename) and not str(filename).endswith('__init__.py'):
        seen.append(str(filename))
    return real(source, filename, *args, **kwargs)
builtins.compile = counting
if sys.argv[2] == 'once':
    from %(p)s.core import zip_compile_once
from %(p)s.core import facts
try:
    from %(p)s.core import not_in_the_zip
except ImportError as exc:
    missing = type(exc).__name__
finders = [type(f).__name__ for f in sys.meta_path]
counts = collections.Counter(name for name in seen if not name.endswith('zip_compile_once.py'))
print(json.dumps({'counts': sorted(set(counts.values())), 'files': len(counts), 'missing': missing,
                  'finder': 'OnceFinder' in finders, 'facts_from': facts.__file__, 'facts_loader': type(facts.__loader__).__name__}))
''' % {'p': PACKAGE}


@pytest.fixture(scope='module')
def payload_zip(tmp_path_factory):
    """module_utils in a zip laid out as AnsiballZ lays it out (an empty __init__.py in every package)."""
    path = str(tmp_path_factory.mktemp('zip') / 'payload.zip')
    prefix = PACKAGE.replace('.', '/')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
        parts = prefix.split('/')
        for depth in range(1, len(parts) + 1):
            archive.writestr('/'.join(parts[:depth]) + '/__init__.py', '')
        for root, _dirs, files in os.walk(MODULE_UTILS):
            rel = os.path.relpath(root, MODULE_UTILS)
            inner = prefix if rel == '.' else prefix + '/' + rel.replace(os.sep, '/')
            if rel != '.':
                archive.writestr(inner + '/__init__.py', '')
            for name in files:
                if name.endswith('.py'):
                    archive.write(os.path.join(root, name), inner + '/' + name)
    return path


def _count(payload_zip, mode):
    import json
    out = subprocess.run([sys.executable, '-I', '-c', COUNT, payload_zip, mode], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def test_from_a_zip_each_file_is_compiled_once(payload_zip):
    plain = _count(payload_zip, 'plain')
    once = _count(payload_zip, 'once')
    assert plain['counts'] == [2], 'zipimport compiles every file twice (find_spec, then get_code)'
    assert once['counts'] == [1]
    assert once['files'] == plain['files'] > 10
    assert once['finder'] and once['facts_loader'] == 'OnceLoader'
    assert once['facts_from'] == plain['facts_from'] == payload_zip + '/' + PACKAGE.replace('.', '/') + '/core/facts.py'
    assert once['missing'] == plain['missing'] == 'ImportError'


def test_outside_a_zip_it_does_nothing():
    from ansible_collections.vpe.hypervisor.plugins.module_utils.core import zip_compile_once
    assert zip_compile_once.install() is False
    assert not any(isinstance(f, zip_compile_once.OnceFinder) for f in sys.meta_path)


def test_a_path_not_in_a_zip_is_left_to_the_normal_finders(tmp_path):
    from ansible_collections.vpe.hypervisor.plugins.module_utils.core import zip_compile_once
    finder = zip_compile_once.OnceFinder()
    assert finder.find_spec(PACKAGE + '.core.facts', [MODULE_UTILS + '/core']) is None
    assert finder.find_spec('json', None) is None
    assert finder.find_spec(PACKAGE + '.core.facts', [str(tmp_path)]) is None


def test_every_module_imports_it_before_any_other_module_util():
    modules = os.path.join(str(vpetest.REPO), 'plugins', 'modules')
    for name in sorted(os.listdir(modules)):
        if not name.endswith('.py') or name == '__init__.py':
            continue
        lines = [line for line in open(os.path.join(modules, name)) if line.startswith('from ' + PACKAGE)]
        assert lines and lines[0].startswith('from %s.core import zip_compile_once ' % PACKAGE), name
