#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vpe_facts
short_description: Gather a hypervisor's usages, quota and settings as facts
version_added: 0.1.0
description:
  - Sets C(ansible_facts.vpe) with what the REST shim serves for this host, read from the live host.
  - Section C(usages) counts defined domains (any state) and the vCPUs and maximum memory they hold,
    against the quota.
  - Section C(quota) is the quota in force; where none was ever set, the host's own CPUs and memory.
    C(enforce) is whether libvirt refuses starts beyond it (C(off), C(running), C(defined), see
    M(vpe.hypervisor.vpe_quota)) and C(enforced) whether that holds now (the hook is installed for this
    O(state_dir) and libvirtd has started since).
  - Section C(network) is the VM bridge (the bridge of the libvirt network M(vpe.hypervisor.vpe_network) manages)
    and the NIC or bond that is its port, read from the live host; null where there is none.
  - Section C(image_pool) is the image store (path, max_gb, used_gb), section C(pools) every volume pool;
    C(used_gb) is the bytes on disk of the files in the directory, counted by one directory walk per pool.
  - Section C(metrics) is the newest 5-minute point of the host's cpu, memory, network and disk history
    that the metrics collector keeps under O(state_dir); all null while no collector has run.
options:
  gather:
    description:
      - The sections to gather. All by default.
    type: list
    elements: str
    choices: [usages, quota, network, image_pool, pools, metrics]
extends_documentation_fragment:
  - vpe.hypervisor.common
  - vpe.hypervisor.common.action_group
  - vpe.hypervisor.common.attributes
attributes:
  check_mode:
    support: full
    description: Reads only, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
  facts:
    support: full
    description: Sets C(ansible_facts.vpe).
notes:
  - For the local V(qemu:///system) daemon, the module reads over libvirt's read-only socket
    (C(/run/libvirt/libvirt-sock-ro)), speaking libvirt's remote protocol itself, so a run does not load
    the libvirt Python binding. Any other O(uri), a socket that is missing or asks for SASL, uses the binding.
author:
  - vpe.hypervisor developers (@vpe-hypervisor)
seealso:
  - module: vpe.hypervisor.vpe_quota
'''

EXAMPLES = r'''
- name: Gather hypervisor facts
  vpe.hypervisor.vpe_facts:

- name: Show allocated against allocatable vCPUs
  ansible.builtin.debug:
    msg: "{{ ansible_facts.vpe.usages.cpu_used }} / {{ ansible_facts.vpe.usages.cpu_total }}"

- name: Only the usages, from a session libvirt
  vpe.hypervisor.vpe_facts:
    gather: [usages]
    uri: qemu:///session
'''

RETURN = r'''
ansible_facts:
  description: Facts about the hypervisor.
  returned: always
  type: dict
  contains:
    vpe:
      description: The host's state, one key per section, each in the REST API's shape.
      type: dict
      contains:
        usages:
          description: Allocated against allocatable resources.
          type: dict
          returned: when gathered
          sample:
            instances: 10
            memory_used_mb: 20480
            memory_total_mb: 50498
            cpu_used: 13
            cpu_total: 26
        quota:
          description:
            - The quota in force, what enforces it (C(enforce)) and whether starts are checked now (C(enforced)).
          type: dict
          returned: when gathered
          sample:
            cpu_max: 16
            memory_max_mb: 10240
            enforce: running
            enforced: true
        network:
          description:
            - The VM bridge and its port. C(bridge) is null while neither the libvirt network nor a C(br100) bridge
              exists; C(bridge_interface) is null while the bridge has no port but VM taps.
          type: dict
          returned: when gathered
          sample:
            bridge: br100
            bridge_interface: eth0
        image_pool:
          description:
            - The image store. C(path) is null while no image store is defined.
          type: dict
          returned: when gathered
          sample:
            path: /home/store/1/vpe/images
            max_gb: 1000
            used_gb: 12.5
        pools:
          description:
            - Every volume pool (libvirt dir, fs and netfs pools but the image store), by name.
            - A pool defined outside this collection has C(max_gb) and C(created_at) null.
          type: list
          elements: dict
          returned: when gathered
          sample:
            - name: pool1
              uuid: 19636f21-dc97-4cde-af55-fd6459342516
              path: /home/store/1/vpe/pool1
              max_gb: 30
              used_gb: 20.0
              created_at: '2026-02-24 11:22:11'
        metrics:
          description:
            - The newest 5-minute point of the metrics store the collector writes under O(state_dir)
              (C(python -m ansible_collections.vpe.hypervisor.api_shim collect)); the current, unfinished
              point holds what was sampled so far.
            - C(time) is the point's start in host local time; C(cpu) is the busy share of all host CPUs in %,
              C(memory) the MB (MiB) used (total - available), C(network_in)/C(network_out) the bytes per second
              of physical NICs and bonds, C(disk_read)/C(disk_write) the bytes per second of physical disks.
            - Every value is null while the collector has sampled nothing.
          type: dict
          returned: when gathered
          sample:
            time: '2026-07-10 18:30'
            cpu: 12.5
            memory: 20480
            network_in: 125000
            network_out: 48000
            disk_read: 0
            disk_write: 409600
status:
  description:
    - HTTP-equivalent status of a failure, the same as the REST shim answers for the same request.
    - 503 when libvirt does not answer.
  returned: failure
  type: int
  sample: 503
'''

from ansible.module_utils.basic import AnsibleModule

# First: compiles each module_utils file below once, not twice, from the payload zip (core/zip_compile_once).
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import zip_compile_once  # noqa: F401 pylint: disable=unused-import
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import facts
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_common import common_argument_spec, context_for, fail


def main():
    argument_spec = common_argument_spec()
    argument_spec['gather'] = {'type': 'list', 'elements': 'str', 'choices': facts.SECTION_NAMES}
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    ctx = context_for(module)
    ctx.read_only()
    try:
        vpe = facts.gather(ctx, module.params['gather'])
    except VpeError as exc:
        fail(module, exc)
    finally:
        ctx.close()
    module.exit_json(changed=False, ansible_facts={'vpe': vpe})


if __name__ == '__main__':
    main()
