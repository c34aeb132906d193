# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which hypervisor gets a new VM: the rules behind the placement filters.

A host has room for a VM when, after adding it, the vCPUs and MiB allocated
stay within the quota (usages `cpu_total` / `memory_total_mb`, which are the
quota) and, when a pool is asked for, the pool's `max_gb - used_gb` covers
the disk. Allocation is what the shim reports: every defined domain, running
or not. That is exact for quota enforcement `defined` and `off`, and
conservative for `running` (stopped domains count too), so a host chosen
can always start the VM, whatever the mode.

Among hosts with room, `spread` takes the one with the most room left after
the VM and `pack` the one with the least. Room left is the share of the quota
left on the host's scarcer resource, min(vCPUs left / vCPU quota, MiB left /
memory quota), compared exactly (fractions, no float ties); then MiB left,
then vCPUs left (more first for spread, fewer first for pack); then the
inventory name, alphabetically first, for both strategies.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
from collections.abc import Mapping
from fractions import Fraction

STRATEGIES = ('spread', 'pack')
HINT = "pass host variables, e.g. groups.vpe_hypervisors | map('extract', hostvars) | list"
USAGE_FIELDS = ('cpu_used', 'cpu_total', 'memory_used_mb', 'memory_total_mb')


class PlacementError(ValueError):
    pass


def _integer(value, field, minimum):
    """An int from an int or a string of digits (extra vars arrive as strings)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PlacementError('%s must be an integer >= %d, got %r' % (field, minimum, value))
    return value


def _number(value, field):
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise PlacementError('%s must be a number >= 0, got %r' % (field, value))
    return value


def check_strategy(strategy):
    if strategy not in STRATEGIES:
        raise PlacementError('strategy must be one of %s, got %r' % (', '.join(STRATEGIES), strategy))
    return strategy


def check_vm(vcpus, memory_mb, pool=None, disk_gb=0, prefix=''):
    """The request, checked: {vcpus, memory_mb, pool, disk_gb}."""
    vm = {
        'vcpus': _integer(vcpus, prefix + 'vcpus', 1),
        'memory_mb': _integer(memory_mb, prefix + 'memory_mb', 1),
        'pool': pool,
        'disk_gb': _number(disk_gb if disk_gb is not None else 0, prefix + 'disk_gb'),
    }
    if pool is not None and (not isinstance(pool, str) or not pool):
        raise PlacementError('%spool must be a pool name (a non-empty string), got %r' % (prefix, pool))
    if vm['disk_gb'] and pool is None:
        raise PlacementError('%sdisk_gb needs %spool: the pool whose room is checked for the disk' % (prefix, prefix))
    return vm


def describe(vm):
    text = '%d vCPU%s and %d MiB' % (vm['vcpus'], '' if vm['vcpus'] == 1 else 's', vm['memory_mb'])
    if vm['pool'] is not None and vm['disk_gb']:
        text += ' (%s GiB in pool %s)' % (_gb(vm['disk_gb']), vm['pool'])
    elif vm['pool'] is not None:
        text += ' (on pool %s)' % vm['pool']
    return text


def _gb(value):
    return ('%.2f' % value).rstrip('0').rstrip('.')


class Host(object):
    """One host's room, or why it cannot take a VM (`unusable`)."""

    def __init__(self, name):
        self.name = name
        self.unusable = None
        self.cpu_free = self.cpu_total = self.mem_free = self.mem_total = 0
        self.pools = {}  # name -> GiB free, None where the pool has no max_gb

    def misfit(self, vm):
        """Why `vm` does not fit here, or None."""
        if self.unusable:
            return self.unusable
        reasons = []
        if self.cpu_free < vm['vcpus']:
            reasons.append('%d vCPUs free of a quota of %d (%d needed)'
                           % (max(self.cpu_free, 0), self.cpu_total, vm['vcpus']))
        if self.mem_free < vm['memory_mb']:
            reasons.append('%d MiB free of a quota of %d (%d needed)'
                           % (max(self.mem_free, 0), self.mem_total, vm['memory_mb']))
        pool = vm['pool']
        if pool is not None:
            if pool not in self.pools:
                reasons.append('no pool %s (it has: %s)' % (pool, ', '.join(sorted(self.pools)) or 'none'))
            elif self.pools[pool] is not None and self.pools[pool] < vm['disk_gb']:
                reasons.append('pool %s has %s GiB free (%s needed)'
                               % (pool, _gb(max(self.pools[pool], 0)), _gb(vm['disk_gb'])))
        return ' and '.join(reasons) or None

    def rank(self, vm, strategy):
        """Sort key: smallest first is the choice (see the module's docstring)."""
        cpu_left = self.cpu_free - vm['vcpus']
        mem_left = self.mem_free - vm['memory_mb']
        share = min(Fraction(cpu_left, self.cpu_total), Fraction(mem_left, self.mem_total))
        sign = -1 if strategy == 'spread' else 1
        return (sign * share, sign * mem_left, sign * cpu_left, self.name)

    def take(self, vm):
        self.cpu_free -= vm['vcpus']
        self.mem_free -= vm['memory_mb']
        if vm['pool'] is not None and self.pools.get(vm['pool']) is not None:
            self.pools[vm['pool']] -= vm['disk_gb']


def _facts_part(hostvars, part):
    """ansible_facts.vpe.<part> where vpe_facts ran and the inventory is another one."""
    facts = hostvars.get('ansible_facts')
    vpe = facts.get('vpe') if isinstance(facts, Mapping) else None
    return vpe.get(part) if isinstance(vpe, Mapping) else None


def read_host(hostvars, index):
    """A Host from one host's variables (vpe.hypervisor.shim inventory, or vpe_facts)."""
    if not isinstance(hostvars, Mapping):
        raise PlacementError('hosts[%d] is a %s, not a host\'s variables; %s' % (index, type(hostvars).__name__, HINT))
    name = hostvars.get('inventory_hostname')
    if not isinstance(name, str) or not name:
        raise PlacementError('hosts[%d] has no inventory_hostname; %s' % (index, HINT))
    host = Host(str(name))
    error = hostvars.get('vpe_error')
    if error or 'vpe_unreachable' in (hostvars.get('group_names') or ()):
        host.unusable = 'unreachable (%s)' % (error or 'in group vpe_unreachable')
        return host
    usages = hostvars.get('vpe_usages')
    pools = hostvars.get('vpe_pools')
    if usages is None:
        usages = _facts_part(hostvars, 'usages')
        pools = _facts_part(hostvars, 'pools')
    if not isinstance(usages, Mapping):
        host.unusable = 'no usages known (no vpe_usages from the vpe.hypervisor.shim inventory, no vpe_facts gathered)'
        return host
    for field in USAGE_FIELDS:
        value = usages.get(field)
        if isinstance(value, bool) or not isinstance(value, int):
            host.unusable = 'usages.%s is missing or not an integer' % field
            return host
    if usages['cpu_total'] < 1 or usages['memory_total_mb'] < 1:
        host.unusable = 'its quota is 0'
        return host
    host.cpu_total = usages['cpu_total']
    host.mem_total = usages['memory_total_mb']
    host.cpu_free = host.cpu_total - usages['cpu_used']
    host.mem_free = host.mem_total - usages['memory_used_mb']
    for pool in pools or ():
        if isinstance(pool, Mapping) and isinstance(pool.get('name'), str):
            max_gb, used_gb = pool.get('max_gb'), pool.get('used_gb') or 0
            if max_gb is None:  # a pool defined outside the collection: no limit to check
                host.pools[pool['name']] = None
            elif _is_number(max_gb) and _is_number(used_gb):
                host.pools[pool['name']] = max_gb - used_gb
    return host


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_hosts(hosts):
    if isinstance(hosts, (str, bytes, Mapping)) or not hasattr(hosts, '__iter__'):
        raise PlacementError('hosts must be a list of host variables; %s' % HINT)
    found = [read_host(hostvars, index) for index, hostvars in enumerate(hosts)]
    if not found:
        raise PlacementError('hosts is empty: no hypervisor to choose from (is the vpe.hypervisor.shim '
                             'inventory loaded, and its hosts in group vpe_hypervisors?)')
    return found


def choose(hosts, vm, strategy):
    """The Host that gets `vm`, or PlacementError saying why each host cannot."""
    fits = [host for host in hosts if host.misfit(vm) is None]
    if not fits:
        raise PlacementError('no host has room for %s: %s' % (
            describe(vm), '; '.join('%s: %s' % (host.name, host.misfit(vm)) for host in hosts)))
    return min(fits, key=lambda host: host.rank(vm, strategy))


def place(hosts, vcpus, memory_mb, pool=None, disk_gb=0, strategy='spread'):
    """inventory_hostname of the host for one VM."""
    check_strategy(strategy)
    vm = check_vm(vcpus, memory_mb, pool, disk_gb)
    return choose(read_hosts(hosts), vm, strategy).name


def place_all(hosts, vms, strategy='spread'):
    """Each VM (a mapping) with `host` added, placed in order: each counts the ones before."""
    check_strategy(strategy)
    if isinstance(vms, (str, bytes, Mapping)) or not hasattr(vms, '__iter__'):
        raise PlacementError('vms must be a list of mappings with vcpus and memory_mb (optional name, pool, disk_gb)')
    checked = []
    for index, item in enumerate(vms):
        prefix = 'vms[%d].' % index
        if not isinstance(item, Mapping):
            raise PlacementError('vms[%d] must be a mapping with vcpus and memory_mb, got %s' % (index, type(item).__name__))
        if 'host' in item:
            raise PlacementError('%shost is set; placements chooses the host (leave it out)' % prefix)
        checked.append(check_vm(item.get('vcpus'), item.get('memory_mb'), item.get('pool'), item.get('disk_gb'), prefix))
    candidates = read_hosts(hosts)
    placed = []
    for index, (item, vm) in enumerate(zip(vms, checked)):
        label = 'vms[%d]%s' % (index, ' (%s)' % item['name'] if item.get('name') else '')
        try:
            host = choose(candidates, vm, strategy)
        except PlacementError as exc:
            before = ', '.join('%s on %s' % (p.get('name', 'vms[%d]' % i), p['host']) for i, p in enumerate(placed))
            raise PlacementError('%s: %s%s' % (label, exc, ' (after placing %s)' % before if before else ''))
        host.take(vm)
        result = dict(item)
        result['host'] = host.name
        placed.append(result)
    return placed
