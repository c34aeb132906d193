# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changing the host state file (state_store reads it): the host-wide
mutation lock and atomic writes. Only change code imports this: a read
(vpe_facts) compiles neither it nor atomic_file.

`locked(store)` is also the mutation lock every service holds while it
changes the host, so the shim's threads, other shim processes and module
runs never interleave; `transaction(store)` yields the document under it and
writes it back (temp file + fsync + rename + directory fsync) if it changed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import fcntl
import json
import os

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import atomic_file
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.state_store import TEMP_PREFIX, TEMP_SUFFIX


def ensure_dir(store):
    try:
        os.makedirs(store.state_dir, 0o750)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise VpeError('cannot create state_dir %s: %s' % (store.state_dir, exc.strerror), field='state_dir')


@contextlib.contextmanager
def locked(store):
    """Hold the host-wide mutation lock (re-entrant within a process)."""
    with store.thread_lock:
        if store.depth == 0:
            ensure_dir(store)
            fd = os.open(store.lock_path, os.O_RDWR | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            store.lock_fd = fd
        store.depth += 1
        try:
            yield
        finally:
            store.depth -= 1
            if store.depth == 0:
                fd, store.lock_fd = store.lock_fd, None
                os.close(fd)  # closing drops the flock


@contextlib.contextmanager
def transaction(store):
    """Yield the state document under the lock; write it back if it changed."""
    with locked(store):
        data = store.read()
        original = json.dumps(data, sort_keys=True)
        yield data
        if json.dumps(data, sort_keys=True) != original:
            write(store, data)


def write(store, data):
    try:
        _write_atomically(store, data)
    except (IOError, OSError) as exc:
        # A full disk or a read-only state_dir is the operator's to fix:
        # say so, rather than a traceback. The old file is intact.
        raise VpeError('cannot write state file %s: %s; nothing was changed in it'
                       % (store.path, exc.strerror or exc), field='state_dir')


def _write_atomically(store, data):
    ensure_dir(store)
    _remove_orphans(store)
    try:
        atomic_file.write(store.path, json.dumps(data, indent=2, sort_keys=True) + '\n', 0o640,
                          prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, sync_dir=True)
    finally:
        store.forget_kept()  # our own write shows at once (a failed one: read again)


def _remove_orphans(store):
    """Temp files of writers killed before their rename. Every writer holds
    the lock we hold now, so none of these is still being written."""
    for name in os.listdir(store.state_dir):
        if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
            try:
                os.unlink(os.path.join(store.state_dir, name))
            except OSError:
                pass
