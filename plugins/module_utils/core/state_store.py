# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host state that libvirt cannot hold, in one JSON file: reading it. Taking
the lock and writing is state_write, which a read (vpe_facts) never compiles.

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

import errno
import json
import os
import threading
import time

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
        self.lock_path = os.path.join(self.state_dir, LOCK_FILE)
        # The mutation lock's bookkeeping (state_write.locked): held() reads it.
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.lock_fd = None
        self.keep = False
        self._kept = None  # (monotonic time checked, file identity, text)

    def read(self):
        """The whole state document ({} when nothing was ever written)."""
        text = self._text() if self.keep and not self.depth else self._load()[1]
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
        """True while a thread of this process holds the mutation lock (state_write.locked)."""
        return self.depth > 0

    def forget_kept(self):
        """After a write of ours (state_write): the next read reads the file."""
        self._kept = None
