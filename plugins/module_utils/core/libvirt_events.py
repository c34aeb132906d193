# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's events, for a long-lived process (the shim): counters of what
changed, so a result kept between requests is checked without a round trip.

Each define, undefine, start or stop of a domain (or a pool) bumps that
kind's counter as soon as libvirt delivers its event, typically well under a
millisecond after the call that caused it returned. A kept result carries the
counter it was computed under (Connection.memo's fingerprint) and is computed
again once the counter moved.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading

try:
    import libvirt
except ImportError:  # libvirt_conn.require_libvirt() says what to install before this is used
    libvirt = None

KINDS = ('domains', 'pools')

_loop_lock = threading.Lock()
_loop_started = False
_loop_failed = False  # the loop thread ended on an error: no more events in this process


def start_loop():
    """libvirt's default event loop, run by one daemon thread of this process.

    Only connections opened after this receive events, so it runs before
    the connection is opened (Connection.watch_events does that).
    """
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()
        thread = threading.Thread(target=_run_loop, name='libvirt-events')
        thread.daemon = True
        thread.start()
        _loop_started = True


def _run_loop():
    global _loop_failed
    try:
        while True:
            libvirt.virEventRunDefaultImpl()
    except Exception:
        # Without a loop no event arrives: Counters.delivering turns False,
        # and kept results are validated the slow way from then on.
        _loop_failed = True


class Counters(object):
    """Change counters per kind; bumped by libvirt's events and by forget()."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values = dict((kind, 0) for kind in KINDS)
        self._callback_ids = []
        self._registered = False  # callbacks are on the open connection

    @property
    def delivering(self):
        """True while events arrive: callbacks registered and the loop running."""
        return self._registered and not _loop_failed

    def value(self, kind):
        return self._values[kind]

    def bump_all(self):
        with self._lock:
            for kind in KINDS:
                self._values[kind] += 1

    def _bump(self, kind):
        with self._lock:
            self._values[kind] += 1

    def _on_domain(self, _conn, _dom, _event, _detail, _opaque):
        self._bump('domains')

    def _on_pool(self, _conn, _pool, _event, _detail, _opaque):
        self._bump('pools')

    def attach(self, conn):
        """Register the callbacks on a freshly opened connection.

        A driver without events (or an old libvirt) leaves `delivering`
        False, and callers then validate kept results the slow way.
        """
        self.bump_all()  # anything may have changed while there was no connection
        self._callback_ids = []
        try:
            self._callback_ids.append(('domain', conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_domain, None)))
            self._callback_ids.append(('pool', conn.storagePoolEventRegisterAny(
                None, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, self._on_pool, None)))
            self._registered = True
        except (libvirt.libvirtError, AttributeError):
            self.detach(conn)  # both or neither: deregisters the one that made it

    def detach(self, conn):
        """Deregister from a connection about to be closed (it may be dead already)."""
        self._registered = False
        for kind, callback_id in self._callback_ids:
            try:
                if kind == 'domain':
                    conn.domainEventDeregisterAny(callback_id)
                else:
                    conn.storagePoolEventDeregisterAny(callback_id)
            except Exception:  # a dead connection cannot deregister; it is being dropped anyway
                pass
        self._callback_ids = []
