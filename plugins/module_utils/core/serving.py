# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A context for a process that serves many calls (the shim): what it may
keep between them. A module run reads or changes once and compiles none of
this (nor libvirt_kept, libvirt_events, disk_usage_kept)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_kept import KeptConnection
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage.disk_usage_kept import KeptDiskUsage


def serve_many(ctx):
    """Make `ctx` keep results between calls: libvirt reads are checked
    against libvirt's events (KeptConnection.memo, changes), directory totals
    against the directory (KeptDiskUsage), the state file against its inode
    (StateStore.keep). Call before the first service call."""
    uri = ctx.conn.uri
    ctx.conn.close()
    ctx.conn = KeptConnection(uri)
    ctx.conn.watch_events()
    ctx.disk = KeptDiskUsage(keep=True)
    ctx.store.keep = True
    return ctx
