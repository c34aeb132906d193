# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Usages: what domains hold against what may be allocated (the quota)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota.allocation import allocated


def read(ctx):
    alloc = allocated(ctx)
    limits = quota.read(ctx)
    return {
        'instances': alloc['instances'],
        'memory_used_mb': alloc['memory_used_mb'],
        'memory_total_mb': limits['memory_max_mb'],
        'cpu_used': alloc['cpu_used'],
        'cpu_total': limits['cpu_max'],
    }
