# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Directory totals kept between requests, for a long-lived process (the
shim, core/serving): a module run walks each directory once (disk_usage)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import threading
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import disk_usage

# A file that grows (a VM writing into its disk) does not touch its
# directory, so kept totals age. Once older than REFRESH_AFTER seconds a
# total is still served while a background thread walks again; older than
# MAX_AGE it is walked before answering, so none is ever older than that.
REFRESH_AFTER = 2.5
MAX_AGE = 5.0
# A path not read for this long is forgotten (a pool undefined elsewhere).
FORGET_AFTER = 600.0
# How often a kept total checks its directory (one stat): every stat drops
# and retakes the GIL, and twenty pools checked on every request made the
# shim's threads queue for it at 16 connections. So a volume created or
# removed shows within this many seconds.
CHECK_EVERY = 0.2
# A directory's mtime is only as fine as the kernel's clock tick, so a file
# added within a tick of our stat can leave the mtime as we saw it. A walk
# that started this soon after the mtime is not trusted (the racy-git rule).
RACY_SECONDS = 0.1


def _identity(path):
    """What changes when a file is added to, removed from or renamed in `path`."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_mtime_ns)


class KeptDiskUsage(disk_usage.DiskUsage):
    """disk_usage.used_bytes(), kept per directory while `keep` is on.

    A kept total is used while the directory is unchanged (same inode and
    mtime, checked at most every CHECK_EVERY seconds, so a volume created or
    removed shows within that) and while it is at most MAX_AGE old. Past
    REFRESH_AFTER one background thread walks again while the old total is
    served, so a reader that comes often never waits for a walk. Off (the
    default), every call walks: a module run reads once, and capacity checks
    call used_bytes() directly.
    """

    def __init__(self, keep=False):
        self.keep = keep
        self._kept = {}  # path -> (identity, walked at (monotonic), total)
        self._checked = {}  # path -> when its identity was last compared (monotonic)
        self._walking = set()  # queued or being walked in the background
        self._queue = []
        self._walker_busy = False
        self._pruned = time.monotonic()
        self._lock = threading.Lock()

    def used_bytes(self, path):
        if not self.keep:
            return disk_usage.used_bytes(path)
        now = time.monotonic()
        kept = self._kept.get(path)
        if kept is None or now - self._checked.get(path, 0.0) > CHECK_EVERY:
            identity = _identity(path)
            if identity is None:
                return 0
            self._checked[path] = now
            if kept is None or kept[0] != identity:
                return self._walk(path, identity)
        if now - kept[1] > MAX_AGE:
            return self._walk(path, kept[0])
        if now - kept[1] > REFRESH_AFTER:
            self._walk_in_background(path)
        return kept[2]

    def _walk(self, path, identity):
        started = time.monotonic()
        trusted = time.time() - identity[2] / 1e9 > RACY_SECONDS
        total = disk_usage.used_bytes(path)
        with self._lock:
            kept = self._kept.get(path)
            if kept is not None and kept[1] > started:
                return total  # a walk that started later has stored its total already
            if trusted:
                self._kept[path] = (identity, started, total)
            else:
                self._kept.pop(path, None)
            self._prune(started)
        return total

    def _prune(self, now):
        """Forget paths nobody read for FORGET_AFTER seconds (the lock is held)."""
        if now - self._pruned < FORGET_AFTER:
            return
        self._pruned = now
        for path in [p for p, at in self._checked.items() if now - at > FORGET_AFTER]:
            self._checked.pop(path, None)
            self._kept.pop(path, None)

    def _walk_in_background(self, path):
        """Queue `path` for the one background walker, starting it if idle.

        One thread walks the queued directories one after another, so a
        moment when many totals expire together costs one walk at a time,
        not a thread per directory competing with the requests."""
        with self._lock:
            if path in self._walking:
                return
            self._walking.add(path)
            self._queue.append(path)
            if self._walker_busy:
                return
            self._walker_busy = True
        thread = threading.Thread(target=self._walk_queue, name='disk-usage')
        thread.daemon = True
        thread.start()

    def _walk_queue(self):
        while True:
            with self._lock:
                if not self._queue:
                    self._walker_busy = False
                    return
                path = self._queue.pop(0)
            try:
                identity = _identity(path)
                if identity is None:
                    self._kept.pop(path, None)
                else:
                    self._walk(path, identity)
            except Exception:  # one bad directory must not stop the walker: drop its total
                self._kept.pop(path, None)
            finally:
                with self._lock:
                    self._walking.discard(path)
