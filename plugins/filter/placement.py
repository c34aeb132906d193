# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: placement
short_description: Choose the hypervisor for a new VM, within its quota
version_added: 0.1.0
author:
  - vpe.hypervisor developers (@vpe-hypervisor)
description:
  - Takes the host variables of the hypervisors, as the P(vpe.hypervisor.shim#inventory) inventory
    sets them (C(vpe_usages), C(vpe_pools)), or as C(vpe.hypervisor.vpe_facts) gathers them
    (C(ansible_facts.vpe)), and returns the C(inventory_hostname) of the host to put a VM on.
  - A host has room when, with the VM added, the vCPUs and MiB allocated stay within its quota, and,
    with O(pool), that pool's C(max_gb - used_gb) covers O(disk_gb) (a pool without C(max_gb),
    defined outside the collection, has no limit to check).
  - Allocation counts every defined domain, running or not, as the shim reports it. That is exact for
    quota enforcement C(defined) and C(off) (the quota is still honoured, it is what the operator
    allows) and conservative for C(running), where stopped domains do not count at start; so a host
    this filter picks can always start the VM, whatever the mode.
  - Unreachable hosts (with C(vpe_error), or in group C(vpe_unreachable)) are never chosen.
  - "O(strategy=spread) picks the host with the most room left after placing the VM, O(strategy=pack)
    the one with the least. Room left is the share of the quota left on the host's scarcer resource:
    min(vCPUs left / vCPU quota, MiB left / memory quota), compared exactly. Ties go to the host with
    more MiB left, then more vCPUs left (fewer, for pack), then to the inventory name that sorts first."
  - Fails, naming every host and why it cannot take the VM, when no host has room.
  - To place several VMs one after another, each counting the ones before, use
    P(vpe.hypervisor.placements#filter).
positional: vcpus, memory_mb
options:
  _input:
    description:
      - The hypervisors' host variables, a list of mappings; for example those of the hosts in group
        C(vpe_hypervisors), taken from C(hostvars) with the C(extract) filter as in the examples.
    type: list
    elements: dict
    required: true
  vcpus:
    description: vCPUs of the new VM.
    type: int
    required: true
  memory_mb:
    description: Memory of the new VM, MiB.
    type: int
    required: true
  pool:
    description: The volume pool the VM's disk goes in; only hosts with this pool are candidates.
    type: str
  disk_gb:
    description: GiB the disk needs in O(pool) (needs O(pool)).
    type: float
    default: 0
  strategy:
    description: V(spread) puts the VM where the most room is left, V(pack) where the least is.
    type: str
    default: spread
    choices: [spread, pack]
seealso:
  - plugin: vpe.hypervisor.shim
    plugin_type: inventory
  - plugin: vpe.hypervisor.placements
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Choose a host for a 2 vCPU, 4 GiB VM with a 20 GiB disk in pool "fast"
  ansible.builtin.set_fact:
    vm_host: >-
      {{ groups.vpe_hypervisors | map('extract', hostvars) | list
         | vpe.hypervisor.placement(vcpus=2, memory_mb=4096, pool='fast', disk_gb=20) }}

- name: Fill the busiest host first
  ansible.builtin.debug:
    msg: "{{ groups.vpe_hypervisors | map('extract', hostvars) | list | vpe.hypervisor.placement(1, 1024, strategy='pack') }}"
'''

RETURN = r'''
_value:
  description: The C(inventory_hostname) of the chosen host.
  type: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vpe.hypervisor.plugins.plugin_utils.placement import PlacementError, place


def placement(hosts, vcpus, memory_mb, pool=None, disk_gb=0, strategy='spread'):
    try:
        return place(hosts, vcpus, memory_mb, pool=pool, disk_gb=disk_gb, strategy=strategy)
    except PlacementError as exc:
        raise AnsibleFilterError('vpe.hypervisor.placement: %s' % exc)


class FilterModule(object):

    def filters(self):
        return {'placement': placement}
