# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host has and what its domains hold, counted from libvirt."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.libvirt_conn import libvirt


def host_size(ctx):
    """The host's CPUs and memory (MiB) as libvirt sees them."""
    info = ctx.conn.get().getInfo()
    return {'cpus': info[2], 'memory_mb': info[1]}


def allocated(ctx):
    """Domains defined (any state) and the vCPUs and maximum memory they hold.

    A stopped domain keeps its allocation. One getAllDomainStats round trip
    covers every domain on drivers that support it; others (the test driver)
    fall back to one info() call per domain.
    """
    conn = ctx.conn.get()
    stats = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_VCPU | libvirt.VIR_DOMAIN_STATS_BALLOON, 0)
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
