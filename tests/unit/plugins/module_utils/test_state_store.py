import errno
import json
import multiprocessing
import os

import pytest

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import state_write
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.state_store import StateStore


def test_missing_file_reads_empty_and_dir_is_created_on_write(state_dir):
    store = StateStore(str(state_dir))
    assert store.read() == {}
    assert not state_dir.exists()
    with state_write.transaction(store) as state:
        state['quota'] = {'cpu_max': 4}
    assert json.loads((state_dir / 'state.json').read_text()) == {'quota': {'cpu_max': 4}}


def test_unchanged_transaction_does_not_write(state_dir):
    store = StateStore(str(state_dir))
    with state_write.transaction(store) as state:
        state['a'] = 1
    before = os.stat(state_dir / 'state.json').st_mtime_ns
    with state_write.transaction(store) as state:
        state['a'] = 1
    assert os.stat(state_dir / 'state.json').st_mtime_ns == before


def test_no_temporary_files_are_left_behind(state_dir):
    store = StateStore(str(state_dir))
    for value in range(5):
        with state_write.transaction(store) as state:
            state['n'] = value
    assert sorted(os.listdir(state_dir)) == ['state.json', 'state.lock']


def test_a_failed_transaction_writes_nothing(state_dir):
    store = StateStore(str(state_dir))
    with state_write.transaction(store) as state:
        state['n'] = 1
    with pytest.raises(RuntimeError):
        with state_write.transaction(store) as state:
            state['n'] = 2
            raise RuntimeError('half-way')
    assert store.read() == {'n': 1}


def test_lock_is_reentrant_in_one_process(state_dir):
    store = StateStore(str(state_dir))
    with state_write.locked(store):
        with state_write.transaction(store) as state:
            state['nested'] = True
    assert store.read() == {'nested': True}


def test_corrupt_file_is_reported_not_overwritten(state_dir):
    state_dir.mkdir()
    (state_dir / 'state.json').write_text('{not json')
    with pytest.raises(VpeError) as caught:
        StateStore(str(state_dir)).read()
    assert 'not valid JSON' in caught.value.detail
    assert (state_dir / 'state.json').read_text() == '{not json'


def _bump(path, times):
    store = StateStore(path)
    for _round in range(times):
        with state_write.transaction(store) as state:
            state['count'] = state.get('count', 0) + 1


def test_processes_never_lose_an_update(state_dir):
    workers = [multiprocessing.Process(target=_bump, args=(str(state_dir), 50)) for _worker in range(4)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(60)
        assert proc.exitcode == 0
    assert StateStore(str(state_dir)).read() == {'count': 200}


def test_failed_write_is_a_clear_error_and_keeps_the_old_file(state_dir, monkeypatch):
    store = StateStore(str(state_dir))
    with state_write.transaction(store) as state:
        state['n'] = 1

    def disk_full(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, 'fsync', disk_full)
    with pytest.raises(VpeError) as caught:
        with state_write.transaction(store) as state:
            state['n'] = 2
    monkeypatch.undo()
    assert 'cannot write state file' in caught.value.detail and 'No space left' in caught.value.detail
    assert caught.value.field == 'state_dir'
    assert store.read() == {'n': 1}
    assert sorted(os.listdir(state_dir)) == ['state.json', 'state.lock']


def test_a_killed_writers_temp_file_is_removed_by_the_next_write(state_dir):
    store = StateStore(str(state_dir))
    with state_write.transaction(store) as state:
        state['n'] = 1
    orphan = state_dir / '.state.abc123.tmp'  # what a SIGKILL between write and rename leaves
    orphan.write_text('{"half":')
    with state_write.transaction(store) as state:
        state['n'] = 2
    assert not orphan.exists()
    assert store.read() == {'n': 2}
