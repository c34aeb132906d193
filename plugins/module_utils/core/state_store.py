# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host state that libvirt cannot hold, in one JSON file.

Writes go to a temporary file in the same directory, are fsynced and renamed
over the old file, and the directory is fsynced: a crash leaves the old or the
new file, never a torn one. Writers serialise on an flock'd lock file, which is
also the mutation lock every service holds while it changes the host, so the
shim's threads, other shim processes and module runs never interleave.

A process that serves many reads (the shim: `keep`) keeps the file's text and
checks the file (one stat: every write renames a new inode in) at most every
CHECK_EVERY seconds, so a write by another process shows that much later; its
own writes show at once, and under the mutation lock the file is always read.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import fcntl
import json
import os
import threading
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import atomic_file
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError

DEFAULT_STATE_DIR = '/var/lib/vpe'
STATE_FILE = 'state.json'
LOCK_FILE = 'state.lock'
TEMP_PREFIX = '.state.'
TEMP_SUFFIX = '.tmp'
# How often a kept state file is checked: each stat or open lets another of the
# shim's threads take the GIL, which at 16 connections made requests queue.
CHECK_EVERY = 0.2


class StateStore(object):

    def __init__(self, state_dir=None):
        self.state_dir = state_dir or DEFAULT_STATE_DIR
        self.path = os.path.join(self.state_dir, STATE_FILE)
        self._lock_path = os.path.join(self.state_dir, LOCK_FILE)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._lock_fd = None
        self.keep = False
        self._kept = None  # (monotonic time checked, file identity, text)

    def _ensure_dir(self):
        try:
            os.makedirs(self.state_dir, 0o750)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise VpeError('cannot create state_dir %s: %s' % (self.state_dir, exc.strerror), field='state_dir')

    def read(self):
        """The whole state document ({} when nothing was ever written)."""
        text = self._text() if self.keep and not self._depth else self._load()[1]
        if text is None:
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            # Only a hand edit can get here: every write of ours is atomic.
            raise VpeError('state file %s is not valid JSON (%s); fix or remove it' % (self.path, exc))
        if not isinstance(data, dict):
            raise VpeError('state file %s does not hold a JSON object' % self.path)
        return data

    def _load(self):
        """(identity, text) of the file; (None, None) when there is none."""
        try:
            with open(self.path, 'r') as handle:
                info = os.fstat(handle.fileno())
                return (info.st_ino, info.st_mtime_ns, info.st_size), handle.read()
        except UnicodeDecodeError as exc:
            raise VpeError('state file %s is not valid JSON (%s); fix or remove it' % (self.path, exc))
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None, None
            raise VpeError('cannot read %s: %s' % (self.path, exc.strerror))

    def _text(self):
        kept = self._kept
        now = time.monotonic()
        if kept is not None and now - kept[0] < CHECK_EVERY:
            return kept[2]
        try:
            info = os.stat(self.path)
            identity = (info.st_ino, info.st_mtime_ns, info.st_size)
        except OSError:
            identity = None
        if kept is not None and identity == kept[1]:
            self._kept = (now, identity, kept[2])
            return kept[2]
        identity, text = self._load()
        self._kept = (now, identity, text)
        return text

    def held(self):
        """True while a thread of this process holds the mutation lock."""
        return self._depth > 0

    @contextlib.contextmanager
    def locked(self):
        """Hold the host-wide mutation lock (re-entrant within a process)."""
        with self._thread_lock:
            if self._depth == 0:
                self._ensure_dir()
                fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o640)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._lock_fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fd, self._lock_fd = self._lock_fd, None
                    os.close(fd)  # closing drops the flock

    @contextlib.contextmanager
    def transaction(self):
        """Yield the state document under the lock; write it back if it changed."""
        with self.locked():
            data = self.read()
            original = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != original:
                self._write(data)

    def _write(self, data):
        try:
            self._write_atomically(data)
        except (IOError, OSError) as exc:
            # A full disk or a read-only state_dir is the operator's to fix:
            # say so, rather than a traceback. The old file is intact.
            raise VpeError('cannot write state file %s: %s; nothing was changed in it'
                           % (self.path, exc.strerror or exc), field='state_dir')

    def _write_atomically(self, data):
        self._ensure_dir()
        self._remove_orphans()
        try:
            atomic_file.write(self.path, json.dumps(data, indent=2, sort_keys=True) + '\n', 0o640,
                              prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, sync_dir=True)
        finally:
            self._kept = None  # our own write shows at once (a failed one: read again)

    def _remove_orphans(self):
        """Temp files of writers killed before their rename. Every writer holds
        the lock we hold now, so none of these is still being written."""
        for name in os.listdir(self.state_dir):
            if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
                try:
                    os.unlink(os.path.join(self.state_dir, name))
                except OSError:
                    pass
