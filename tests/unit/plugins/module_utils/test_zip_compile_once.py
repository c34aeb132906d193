"""core/zip_compile_once: from a zip (an AnsiballZ payload) each of our
module_utils files is compiled once instead of twice, and the next run loads
it from the host's bytecode cache; outside a zip it does nothing; whatever it
cannot serve is imported the normal way."""

import gc
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
import builtins, collections, gc, json, sys
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
                  'finder': 'OnceFinder' in finders, 'facts_from': facts.__file__, 'facts_loader': type(facts.__loader__).__name__,
                  'code_file': facts.gather.__code__.co_filename, 'frozen': gc.get_freeze_count()}))
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


def _count(payload_zip, mode, cache='off'):
    import json
    env = dict(os.environ, VPE_HYPERVISOR_BYTECODE_CACHE=str(cache))
    out = subprocess.run([sys.executable, '-I', '-c', COUNT, payload_zip, mode], capture_output=True, text=True,
                         check=True, env=env).stdout
    return json.loads(out)


def _cached(cache):
    """The cache's entries: {file name: (owner, mode)} in this Python's subdirectory."""
    tag = os.path.join(str(cache), sys.implementation.cache_tag)
    return dict((name, (os.stat(os.path.join(tag, name)).st_uid, os.stat(os.path.join(tag, name)).st_mode & 0o777))
                for name in os.listdir(tag)) if os.path.isdir(tag) else {}


def test_from_a_zip_each_file_is_compiled_once(payload_zip):
    plain = _count(payload_zip, 'plain')
    once = _count(payload_zip, 'once')
    assert plain['counts'] == [2], 'zipimport compiles every file twice (find_spec, then get_code)'
    assert once['counts'] == [1]
    assert once['files'] == plain['files'] > 10
    assert once['finder'] and once['facts_loader'] == 'OnceLoader'
    assert once['facts_from'] == plain['facts_from'] == payload_zip + '/' + PACKAGE.replace('.', '/') + '/core/facts.py'
    assert once['missing'] == plain['missing'] == 'ImportError'
    # The heap the payload held before (here: the interpreter's start) is frozen, and only from a zip
    # (3.12 keeps a few hundred objects frozen from its start: the plain run's count).
    assert once['frozen'] > plain['frozen'] + 1000


def test_the_next_run_loads_every_file_from_the_cache_and_compiles_none(payload_zip, tmp_path):
    first = _count(payload_zip, 'once', cache=tmp_path)
    entries = _cached(tmp_path)
    assert first['counts'] == [1] and len(entries) == first['files']
    assert set(entries.values()) == {(os.geteuid(), 0o600)}
    second = _count(payload_zip, 'once', cache=tmp_path)
    assert (second['counts'], second['files']) == ([], 0)
    # The kept code names this run's file, as a fresh compile does (tracebacks point into the payload).
    assert second['facts_from'] == second['code_file'] == first['code_file'] == first['facts_from']


def test_an_entry_for_other_source_or_of_another_owner_is_compiled_again(payload_zip, tmp_path):
    _count(payload_zip, 'once', cache=tmp_path)
    tag = os.path.join(str(tmp_path), sys.implementation.cache_tag)
    facts_entry = os.path.join(tag, PACKAGE + '.core.facts.pyc')
    with open(facts_entry, 'r+b') as entry:
        entry.seek(4)
        entry.write(b'\0' * 8)  # the source hash: as after the collection changed
    os.chown(os.path.join(tag, PACKAGE + '.quota.quota.pyc'), 65534, 65534)
    again = _count(payload_zip, 'once', cache=tmp_path)
    assert (again['counts'], again['files']) == ([1], 2)
    assert _cached(tmp_path)[PACKAGE + '.quota.quota.pyc'][0] == os.geteuid()  # rewritten as ours


def test_a_cache_others_may_write_is_not_used(payload_zip, tmp_path):
    tag = tmp_path / sys.implementation.cache_tag
    tag.mkdir()
    tag.chmod(0o777)
    runs = [_count(payload_zip, 'once', cache=tmp_path) for _i in range(2)]
    assert [run['counts'] for run in runs] == [[1], [1]]
    assert _cached(tmp_path) == {}


def test_outside_a_zip_it_does_nothing():
    from ansible_collections.vpe.hypervisor.plugins.module_utils.core import zip_compile_once
    frozen = gc.get_freeze_count()
    assert zip_compile_once.install() is False
    assert gc.get_freeze_count() == frozen
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
