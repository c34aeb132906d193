#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vpe_quota
short_description: Set how many vCPUs and how much memory may be allocated on a hypervisor
version_added: 0.1.0
description:
  - Sets the host's quota, the vCPUs and MiB of memory that domains may be allocated in total.
    The quota is what C(usages.cpu_total) and C(usages.memory_total_mb) report.
  - Partial update, only the options given are changed.
  - Refuses a value below what defined domains already hold (running or stopped) unless O(force=true).
    Overcommit above the host's physical size is allowed.
  - The same operation as C(PUT /hypervisor/quota) of the REST shim.
options:
  cpu_max:
    description:
      - vCPUs that may be allocated to domains on this host, summed over all defined domains.
    type: int
  memory_max_mb:
    description:
      - Memory in MiB that may be allocated to domains, summed over their maximum memory.
    type: int
  force:
    description:
      - Accept a value below what domains already hold.
    type: bool
    default: false
extends_documentation_fragment:
  - vpe.hypervisor.common
  - vpe.hypervisor.common.action_group
  - vpe.hypervisor.common.attributes
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing.
  diff_mode:
    support: full
    description: Shows the quota before and after.
author:
  - vpe.hypervisor developers (@vpe-hypervisor)
seealso:
  - module: vpe.hypervisor.vpe_facts
'''

EXAMPLES = r'''
- name: Allow 32 vCPUs and 64 GiB of memory for domains
  vpe.hypervisor.vpe_quota:
    cpu_max: 32
    memory_max_mb: 65536

- name: Change only the memory limit
  vpe.hypervisor.vpe_quota:
    memory_max_mb: 49152

- name: Shrink below the current allocation on purpose
  vpe.hypervisor.vpe_quota:
    cpu_max: 4
    force: true
'''

RETURN = r'''
quota:
  description: The quota after the change (what it would be, in check mode).
  returned: success
  type: dict
  contains:
    cpu_max:
      description: vCPUs that may be allocated.
      type: int
      sample: 32
    memory_max_mb:
      description: Memory in MiB that may be allocated.
      type: int
      sample: 65536
status:
  description:
    - HTTP-equivalent status of a failure, the same as the REST shim answers for the same request.
    - 400 bad input (see RV(field)), 404 not found, 409 conflict with the host's state, 503 libvirt unreachable.
  returned: failure
  type: int
  sample: 409
field:
  description: The option a failure is about, when it is about one.
  returned: failure, when one option is at fault
  type: str
  sample: cpu_max
allocated:
  description: What the domains defined on the host hold, when a quota below it was refused (status 409).
  returned: failure with status 409
  type: dict
  contains:
    cpu_used:
      description: vCPUs of all defined domains.
      type: int
      sample: 13
    memory_used_mb:
      description: Maximum memory in MiB of all defined domains.
      type: int
      sample: 20480
    instances:
      description: Domains defined on the host.
      type: int
      sample: 10
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vpe.hypervisor.plugins.module_utils import fields, quota_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.module_apply import run_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.module_runner import common_argument_spec


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(fields.argument_spec('quota'))
    argument_spec['force'] = {'type': 'bool', 'default': False}
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[('cpu_max', 'memory_max_mb')])
    desired = {'cpu_max': module.params['cpu_max'], 'memory_max_mb': module.params['memory_max_mb']}
    run_apply(module, quota_apply, 'quota', desired, force=module.params['force'])


if __name__ == '__main__':
    main()
