# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One libvirt connection per module run or shim process, reopened when the
daemon went away, and libvirt's errors turned into ours.

libvirt's Python binding is imported on first use: a run that only reads
talks to the local daemon over libvirt_wire and never loads it (loading it
costs a module run more than all its reads)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import threading
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import libvirt_wire
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import (
    MissingLibrary, NotFound, Unavailable, VpeError)

# libvirt's values (virterror.h, libvirt-domain.h, libvirt-network.h) for what
# the read paths ask and check, so reading needs no binding; a unit test
# holds them equal to the binding's.
VIR_ERR_NO_CONNECT = libvirt_wire.VIR_ERR_NO_CONNECT  # which the wire client raises for a lost socket
VIR_ERR_INVALID_CONN = 6
VIR_ERR_NO_DOMAIN = 42
VIR_ERR_NO_NETWORK = 43
VIR_ERR_NO_STORAGE_POOL = 49
VIR_ERR_NO_STORAGE_VOL = 50
VIR_CONNECT_LIST_DOMAINS_ACTIVE = 1
VIR_DOMAIN_STATS_BALLOON = 4
VIR_DOMAIN_STATS_VCPU = 8
VIR_NETWORK_XML_INACTIVE = 1


class _NoBinding(Exception):
    """Stands for libvirt.libvirtError where the binding is missing: never raised."""


class _Binding(object):
    """The `libvirt` module, imported when an attribute is first asked for.

    Where it is not installed, `libvirt.libvirtError` is an exception nothing
    raises (so `except libvirt.libvirtError` clauses stay harmless) and
    every other name raises MissingLibrary, saying what to install."""

    _module = None
    import_error = None

    def load(self):
        if _Binding._module is None and _Binding.import_error is None:
            try:
                import libvirt as module  # pylint: disable=import-outside-toplevel
            except ImportError as exc:
                _Binding.import_error = exc
            else:
                # libvirt prints every error to stderr unless a handler is set; we report them ourselves.
                module.registerErrorHandler(lambda _ctx, _err: None, None)
                _Binding._module = module
        return _Binding._module

    def __getattr__(self, name):
        module = self.load()
        if module is None:
            if name == 'libvirtError':
                return _NoBinding
            require_libvirt()
        return getattr(module, name)


libvirt = _Binding()


def has_libvirt():
    return libvirt.load() is not None


def is_libvirt_error(exc, code=None):
    """True for an error libvirt reported, through the binding or libvirt_wire,
    and, given `code`, with that error code."""
    binding = sys.modules.get('libvirt')
    if not isinstance(exc, libvirt_wire.WireError) and not (
            binding is not None and isinstance(exc, getattr(binding, 'libvirtError', _NoBinding))):
        return False
    return code is None or exc.get_error_code() == code


DEFAULT_URI = 'qemu:///system'

# changes() of a watched connection whose driver delivers no events: a kept
# result can then not be validated for free, and memo() computes afresh.
UNKNOWN = object()


def default_uri():
    return os.environ.get('LIBVIRT_DEFAULT_URI') or DEFAULT_URI


def require_libvirt():
    if not has_libvirt():
        raise MissingLibrary(
            'the libvirt Python binding is not installed on this host (%s); install python3-libvirt '
            '(Debian/Ubuntu), python3-libvirt (Fedora/RHEL) or "pip install libvirt-python"'
            % _Binding.import_error)


def _is_connection_error(exc, connection):
    """True when the error came from a lost daemon, not from the operation."""
    if exc.get_error_code() in (VIR_ERR_NO_CONNECT, VIR_ERR_INVALID_CONN):
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
        # On for a run that only reads (Context.read_only): a read-only
        # libvirt_wire client where it applies, the binding elsewhere.
        self.over_wire = False
        self._memo = {}
        self._events = None  # libvirt_events.Counters once KeptConnection.watch_events() was called

    def get(self):
        with self._lock:
            conn = self._conn
            if conn is not None:
                if self._alive(conn):
                    return conn
                self._drop_locked()
            if self.over_wire and self._events is None:
                self._conn = libvirt_wire.open_local(self.uri)
                if self._conn is not None:
                    return self._conn
            require_libvirt()
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
        return conn is not None and self._alive(conn)

    @staticmethod
    def _alive(conn):
        try:
            return bool(conn.isAlive())
        except Exception as exc:  # pylint: disable=broad-except
            if is_libvirt_error(exc):
                return False
            raise

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
        except Exception as exc:  # pylint: disable=broad-except
            if not isinstance(exc, VpeError) and not is_libvirt_error(exc):
                raise
            self.reset()
            return False


def call(connection, fn, *args, **kwargs):
    """Run fn(*args) and translate libvirt errors; retry once after reconnecting.

    Services are idempotent (they compute the difference again), so running
    one twice after a dropped connection is safe.
    """
    for attempt in (1, 2):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            if not is_libvirt_error(exc):
                raise
            if _is_connection_error(exc, connection):
                connection.reset()
                if attempt == 1:
                    continue
                raise Unavailable('libvirt at %s is not answering: %s' % (connection.uri, exc.get_error_message()))
            raise translate(exc)


def translate(exc):
    """A VpeError for a libvirt error that reached an adapter unhandled."""
    code = exc.get_error_code()
    message = exc.get_error_message()
    if code in (VIR_ERR_NO_DOMAIN, VIR_ERR_NO_STORAGE_POOL, VIR_ERR_NO_NETWORK, VIR_ERR_NO_STORAGE_VOL):
        return NotFound(message)
    return VpeError('libvirt error: %s' % message)
