# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One libvirt connection per module run or shim process, reopened when the
daemon went away, and libvirt's errors turned into ours."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import threading
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import (
    MissingLibrary, NotFound, Unavailable, VpeError)

try:
    import libvirt
    HAS_LIBVIRT = True
    LIBVIRT_IMPORT_ERROR = None
    # libvirt prints every error to stderr unless a handler is set; we report them ourselves.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
except ImportError as _exc:
    libvirt = None
    HAS_LIBVIRT = False
    LIBVIRT_IMPORT_ERROR = _exc

DEFAULT_URI = 'qemu:///system'

# changes() of a watched connection whose driver delivers no events: a kept
# result can then not be validated for free, and memo() computes afresh.
UNKNOWN = object()


def default_uri():
    return os.environ.get('LIBVIRT_DEFAULT_URI') or DEFAULT_URI


def require_libvirt():
    if not HAS_LIBVIRT:
        raise MissingLibrary(
            'the libvirt Python binding is not installed on this host (%s); install python3-libvirt '
            '(Debian/Ubuntu), python3-libvirt (Fedora/RHEL) or "pip install libvirt-python"'
            % LIBVIRT_IMPORT_ERROR)


def _is_connection_error(exc, connection):
    """True when the error came from a lost daemon, not from the operation."""
    if exc.get_error_code() in (libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_ERR_INVALID_CONN):
        return True
    # VIR_ERR_SYSTEM_ERROR also means "permission denied" on a directory, so
    # ask the connection itself whether it survived.
    return not connection.is_open()


class Connection(object):
    """A lazily opened libvirt connection that reopens itself.

    libvirt connections are thread-safe, so the shim's worker threads share
    one. When libvirtd restarts, the next call on the old socket fails; we then
    drop it and the following call opens a fresh one.
    """

    def __init__(self, uri=None):
        self.uri = uri or default_uri()
        self._conn = None
        self._lock = threading.Lock()
        # On for a run that only reads (vpe_facts: Context.read_only), so its
        # sections share one listing; libvirt_kept.KeptConnection (the shim)
        # keeps results between calls. Off for a change, which asks afresh.
        self.keep_results = False
        self._memo = {}
        self._events = None  # libvirt_events.Counters once KeptConnection.watch_events() was called

    def get(self):
        require_libvirt()
        with self._lock:
            conn = self._conn
            if conn is not None:
                try:
                    if conn.isAlive():
                        return conn
                except libvirt.libvirtError:
                    pass
                self._drop_locked()
            try:
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                raise Unavailable('cannot connect to libvirt at %s: %s' % (self.uri, exc.get_error_message()))
            if self._events is not None:
                self._events.attach(self._conn)
            return self._conn

    def changes(self, kind):
        """A memo() fingerprint for `kind` ('domains' or 'pools'): None, an
        unwatched connection (a module run, which reads once).
        KeptConnection follows libvirt's events instead."""
        return None

    def forget(self):
        """Drop every kept result: after a change made through this connection."""
        with self._lock:
            self._memo = {}

    def is_open(self):
        conn = self._conn
        if conn is None:
            return False
        try:
            return bool(conn.isAlive())
        except libvirt.libvirtError:
            return False

    def reset(self):
        with self._lock:
            self._drop_locked()

    def memo(self, key, fingerprint, max_age, compute):
        """compute(), or the value it gave last time under `key` if that had the
        same `fingerprint` and is at most `max_age` seconds old.

        Only while keep_results is on; a reconnect forgets everything. A
        fingerprint must be read before compute() runs, so a change that lands
        in between shows as a different fingerprint on the next call.
        KeptConnection.memo also runs one compute() per key at a time.
        """
        if not self.keep_results or fingerprint is UNKNOWN:
            return compute()
        kept = self._fresh(key, fingerprint, max_age)
        if kept is not None:
            return kept[2]
        return self._compute_and_keep(key, fingerprint, compute)

    def _compute_and_keep(self, key, fingerprint, compute):
        now = time.monotonic()  # before compute(): its age counts from what it read
        value = compute()
        self._memo[key] = (now, fingerprint, value)
        return value

    def _fresh(self, key, fingerprint, max_age):
        kept = self._memo.get(key)
        if kept is not None and kept[1] == fingerprint and time.monotonic() - kept[0] <= max_age:
            return kept
        return None

    def _drop_locked(self):
        self._memo = {}
        conn, self._conn = self._conn, None
        if conn is not None and self._events is not None:
            self._events.detach(conn)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a dead connection may fail to close; it is gone either way
                pass

    def close(self):
        self.reset()

    def alive(self):
        """True when libvirt answers now (opens a connection if needed)."""
        try:
            self.get().getLibVersion()
            return True
        except (VpeError,) + ((libvirt.libvirtError,) if HAS_LIBVIRT else ()):
            self.reset()
            return False


def call(connection, fn, *args, **kwargs):
    """Run fn(*args) and translate libvirt errors; retry once after reconnecting.

    Services are idempotent (they compute the difference again), so running
    one twice after a dropped connection is safe.
    """
    if not HAS_LIBVIRT:
        return fn(*args, **kwargs)
    for attempt in (1, 2):
        try:
            return fn(*args, **kwargs)
        except libvirt.libvirtError as exc:
            if _is_connection_error(exc, connection):
                connection.reset()
                if attempt == 1:
                    continue
                raise Unavailable('libvirt at %s is not answering: %s' % (connection.uri, exc.get_error_message()))
            raise translate(exc)


def translate(exc):
    """A VpeError for a libvirtError that reached an adapter unhandled."""
    code = exc.get_error_code()
    message = exc.get_error_message()
    if code in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_STORAGE_POOL,
                libvirt.VIR_ERR_NO_NETWORK, libvirt.VIR_ERR_NO_STORAGE_VOL):
        return NotFound(message)
    return VpeError('libvirt error: %s' % message)
