# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: placements
short_description: Choose hypervisors for several new VMs, one after another
version_added: 0.1.0
author:
  - vpe.hypervisor developers (@vpe-hypervisor)
description:
  - Places each VM of O(vms) in order, with the rules of P(vpe.hypervisor.placement#filter), each
    placement counting the VMs placed before it (their vCPUs, memory and disk are taken from the
    chosen host's room).
  - Returns the VMs, each with C(host) added; every other key of a VM is kept as given, so a VM's
    own settings (image, network, ...) travel with it.
  - Fails when a VM fits nowhere, naming the VM, every host and why, and the VMs placed before it.
    Nothing is placed then; the filter only computes.
positional: vms
options:
  _input:
    description:
      - The hypervisors' host variables, a list of mappings; for example those of the hosts in group
        C(vpe_hypervisors), taken from C(hostvars) with the C(extract) filter as in the examples.
    type: list
    elements: dict
    required: true
  vms:
    description:
      - The VMs, in the order they are placed. Each is a mapping with C(vcpus) and C(memory_mb)
        (integers >= 1), optional C(name), C(pool) and C(disk_gb) (as for
        P(vpe.hypervisor.placement#filter)), and any other keys; not C(host).
    type: list
    elements: dict
    required: true
  strategy:
    description: V(spread) or V(pack), for every VM; see P(vpe.hypervisor.placement#filter).
    type: str
    default: spread
    choices: [spread, pack]
seealso:
  - plugin: vpe.hypervisor.placement
    plugin_type: filter
  - plugin: vpe.hypervisor.shim
    plugin_type: inventory
'''

EXAMPLES = r'''
- name: Place three VMs, each counting the ones before
  ansible.builtin.set_fact:
    placed: "{{ groups.vpe_hypervisors | map('extract', hostvars) | list | vpe.hypervisor.placements(new_vms) }}"
  vars:
    new_vms:
      - {name: web1, vcpus: 2, memory_mb: 4096}
      - {name: web2, vcpus: 2, memory_mb: 4096}
      - {name: db1, vcpus: 4, memory_mb: 16384, pool: fast, disk_gb: 100}

- name: Define each one on its host
  community.libvirt.virt:
    command: define
    xml: "{{ lookup('ansible.builtin.template', 'vm.xml.j2') }}"
  delegate_to: "{{ item.host }}"
  loop: "{{ placed }}"
'''

RETURN = r'''
_value:
  description: The VMs in the order given, each with C(host), the chosen C(inventory_hostname), added.
  type: list
  elements: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vpe.hypervisor.plugins.plugin_utils.placement import PlacementError, place_all


def placements(hosts, vms, strategy='spread'):
    try:
        return place_all(hosts, vms, strategy=strategy)
    except PlacementError as exc:
        raise AnsibleFilterError('vpe.hypervisor.placements: %s' % exc)


class FilterModule(object):

    def filters(self):
        return {'placements': placements}
