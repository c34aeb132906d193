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
options:
  gather:
    description:
      - The sections to gather. All by default.
    type: list
    elements: str
    choices: [usages, quota]
extends_documentation_fragment:
  - vpe.hypervisor.common
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
  action_group:
    support: full
    membership:
      - vpe.hypervisor.all
    description: Use C(group/vpe.hypervisor.all) in C(module_defaults) to set O(uri) and O(state_dir) once.
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
          description: The quota in force.
          type: dict
          returned: when gathered
          sample:
            cpu_max: 16
            memory_max_mb: 10240
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vpe.hypervisor.plugins.module_utils import facts
from ansible_collections.vpe.hypervisor.plugins.module_utils.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.module_runner import common_argument_spec, context_for, fail


def main():
    argument_spec = common_argument_spec()
    argument_spec['gather'] = {'type': 'list', 'elements': 'str', 'choices': facts.SECTION_NAMES}
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    ctx = context_for(module)
    try:
        vpe = facts.gather(ctx, module.params['gather'])
    except VpeError as exc:
        fail(module, exc)
    finally:
        ctx.close()
    module.exit_json(changed=False, ansible_facts={'vpe': vpe})


if __name__ == '__main__':
    main()
