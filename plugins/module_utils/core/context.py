# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every service call gets: the libvirt connection and the host state."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import namedtuple

from ansible_collections.vpe.hypervisor.plugins.module_utils.storage.disk_usage import DiskUsage
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_conn import Connection, call
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.state_store import StateStore


class Change(namedtuple('Change', ['changed', 'before', 'after'])):
    """What apply() returns: whether anything differs, and the resource before and
    after in the API's shape (after is what it would be, in check mode).

    `extra`: result keys a module returns besides changed, the resource and the
    diff (vpe_network's actions); `warnings`: what the user should read."""

    def __new__(cls, changed, before, after, extra=None, warnings=()):
        self = super(Change, cls).__new__(cls, changed, before, after)
        self.extra = dict(extra or {})
        self.warnings = list(warnings)
        return self


class Context(object):
    """For one module run. A process that serves many calls (the shim) makes
    it keep results between them with serving.serve_many(ctx)."""

    def __init__(self, uri=None, state_dir=None):
        self.conn = Connection(uri)
        self.store = StateStore(state_dir)
        self.disk = DiskUsage()

    def forget(self):
        """After a change made through this context: drop what was kept of
        libvirt. Directory totals stay: no change of ours writes into a
        pool's directory, and a new path has no total yet."""
        self.conn.forget()

    def run(self, fn, *args, **kwargs):
        """Call a service function fn(ctx, ...) with libvirt errors translated."""
        return call(self.conn, fn, self, *args, **kwargs)

    def read_only(self):
        """For one run that only reads (vpe_facts): libvirt results are kept
        for the run, so the sections share one pool listing, and the local
        daemon is read over a read-only libvirt_wire client, without loading
        libvirt's binding."""
        self.conn.keep_results = True
        self.conn.over_wire = True

    def close(self):
        self.conn.close()
