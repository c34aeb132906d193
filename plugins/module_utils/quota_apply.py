# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""quota.apply: set the limits, never below what the domains already hold."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.allocation import allocated, host_size
from ansible_collections.vpe.hypervisor.plugins.module_utils.context import Change
from ansible_collections.vpe.hypervisor.plugins.module_utils.errors import Conflict
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import KEY, RESOURCE, effective


def apply(ctx, desired, check_mode=False, force=False):
    """Set the given fields (partial update); refuse to go below the allocation."""
    wanted = fields.check_body(RESOURCE, desired)
    with ctx.store.locked():
        stored = ctx.store.read().get(KEY, {})
        before = effective(stored, host_size(ctx))
        after = dict(before, **wanted)
        if not force:
            _check_allocation(ctx, before, after)
        needs_write = any(stored.get(k) != v for k, v in wanted.items())
        if needs_write and not check_mode:
            with ctx.store.transaction() as state:
                state.setdefault(KEY, {}).update(wanted)
        return Change(before != after, before, after)


def _check_allocation(ctx, before, after):
    alloc = allocated(ctx, fresh=True)
    lowered = [(name, used) for name, used in (('cpu_max', alloc['cpu_used']),
                                               ('memory_max_mb', alloc['memory_used_mb']))
               if after[name] != before[name] and after[name] < used]
    if not lowered:
        return
    name, used = lowered[0]
    unit = 'vCPUs' if name == 'cpu_max' else 'MiB'
    raise Conflict(
        '%s %d is below the %d %s already allocated to the %d domain(s) defined; free them first or use force'
        % (name, after[name], used, unit, alloc['instances']),
        field=name, allocated={'cpu_used': alloc['cpu_used'], 'memory_used_mb': alloc['memory_used_mb'],
                               'instances': alloc['instances']})
