# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host has and what its domains hold, counted from libvirt."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_conn import (
    UNKNOWN, VIR_DOMAIN_STATS_BALLOON, VIR_DOMAIN_STATS_VCPU)

# What a long-lived connection (the shim's, see Connection.memo) may reuse.
# nodeGetInfo makes libvirtd read /proc and sysfs (about as costly as counting
# 200 domains): the host's size is asked again after a minute, so CPU or
# memory hotplug shows within that.
HOST_SIZE_MAX_AGE = 60.0
# Counting the domains is reused until libvirt reports a domain event (a
# define, redefine, undefine, start or stop: see libvirt_events), or, where
# no events arrive, while the set of domains is unchanged (the IDs of the
# running ones and the names of the others), for at most this long. That
# bounds how late a change without an event (vCPU hotplug) shows.
ALLOCATION_MAX_AGE = 1.0


def host_size(ctx):
    """The host's CPUs and memory (MiB) as libvirt sees them."""
    info = ctx.conn.memo('host_size', None, HOST_SIZE_MAX_AGE, lambda: ctx.conn.get().getInfo())
    return {'cpus': info[2], 'memory_mb': info[1]}


def allocated(ctx, fresh=False):
    """Domains defined (any state) and the vCPUs and maximum memory they hold.

    A stopped domain keeps its allocation. One getAllDomainStats round trip
    covers every domain on drivers that support it; others (the test driver)
    fall back to one info() call per domain. On a long-lived connection the
    count is reused as ALLOCATION_MAX_AGE says, unless `fresh` (mutations
    check against a fresh count).
    """
    conn = ctx.conn.get()
    if fresh or not ctx.conn.keep_results:
        return _count(conn)
    fingerprint = ctx.conn.changes('domains')
    if fingerprint is None:  # not watched: a single read, nothing to reuse
        return _count(conn)
    if fingerprint is UNKNOWN:
        fingerprint = (tuple(sorted(conn.listDomainsID())), tuple(sorted(conn.listDefinedDomains())))
    return ctx.conn.memo('allocated', fingerprint, ALLOCATION_MAX_AGE, lambda: _count(conn))


def _count(conn):
    stats = conn.getAllDomainStats(VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BALLOON, 0)
    cpus = 0
    memory_kib = 0
    for dom, record in stats:
        if 'vcpu.current' in record and 'balloon.maximum' in record:
            cpus += record['vcpu.current']
            memory_kib += record['balloon.maximum']
        else:
            info = dom.info()
            cpus += info[3]
            memory_kib += info[1]
    return {'instances': len(stats), 'cpu_used': cpus, 'memory_used_mb': memory_kib // 1024}
