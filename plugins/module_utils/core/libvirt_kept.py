# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A libvirt connection for a process that serves many calls (the shim,
core/serving): results kept between calls and checked against libvirt's
events (libvirt_events). A module run uses libvirt_conn.Connection alone and
compiles none of this."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import libvirt_events
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_conn import UNKNOWN, Connection, has_libvirt


class KeptConnection(Connection):
    """Connection whose memo() keeps results between calls (keep_results
    is on from the start), one compute() per key at a time."""

    def __init__(self, uri=None):
        super(KeptConnection, self).__init__(uri)
        self.keep_results = True
        self._compute_locks = {}

    def watch_events(self):
        """Follow libvirt's domain and pool events from now on. Call before
        the first get(). Without the binding this does nothing: every call
        then says what to install."""
        if not has_libvirt():
            return
        libvirt_events.start_loop()
        with self._lock:
            if self._events is None:
                self._events = libvirt_events.Counters()
                self._drop_locked()  # a connection opened before the loop gets no events

    def changes(self, kind):
        """A memo() fingerprint for `kind` ('domains' or 'pools'): its event
        counter on a watched connection, None on an unwatched one, UNKNOWN
        where events are not delivered."""
        if self._events is None:
            return None
        self.get()  # (re)connect first: that bumps the counters
        if not self._events.delivering:
            return UNKNOWN
        return self._events.value(kind)

    def forget(self):
        """Drop every kept result: after a change made through this
        connection, whose own event may not have arrived yet."""
        with self._lock:
            self._memo = {}
            if self._events is not None:
                self._events.bump_all()

    def memo(self, key, fingerprint, max_age, compute):
        """Connection.memo, and one compute() per key runs at a time: callers
        that find the value stale together wait for it rather than all asking
        libvirt at once."""
        if not self.keep_results or fingerprint is UNKNOWN:
            return compute()
        kept = self._fresh(key, fingerprint, max_age)
        if kept is not None:
            return kept[2]
        with self._compute_lock(key):
            kept = self._fresh(key, fingerprint, max_age)  # computed while we waited
            if kept is not None:
                return kept[2]
            return self._compute_and_keep(key, fingerprint, compute)

    def _compute_lock(self, key):
        with self._lock:
            return self._compute_locks.setdefault(key, threading.Lock())
