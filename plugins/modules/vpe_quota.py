#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vpe_quota
short_description: Set how many vCPUs and how much memory may be allocated on a hypervisor, and enforce it
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
  enforce:
    description:
      - Whether libvirt refuses a domain start beyond the quota, for every libvirt client (virsh, the API,
        community.libvirt, cloud agents).
      - V(off) keeps the quota as bookkeeping only and removes the hook.
      - V(running) lets a domain start only while the vCPUs and memory of the running domains plus its own
        stay within O(cpu_max) and O(memory_max_mb).
      - V(defined) lets a domain start only while the allocation of all defined domains (running or not,
        and the starting one) is within the quota.
      - Not V(off) installs a libvirt C(qemu) hook, C(/etc/libvirt/hooks/qemu.d/vpe-quota) (or the single
        C(/etc/libvirt/hooks/qemu) where libvirt is older than 6.5.0 and runs no C(qemu.d)). It checks every
        start, restore and incoming migration and refuses it with a message naming the quota, the limit and
        what is running, which libvirt hands to the client.
      - libvirtd looks for hooks only when it starts, so a newly installed hook runs after libvirtd restarts;
        the result says so in RV(libvirtd_restart_needed). Restarting libvirtd does not stop running domains.
      - The hook fails open, letting a start go ahead and logging why to syslog (ident C(vpe-quota)), when the
        state file cannot be read or holds no valid quota.
      - Unset, the current setting is kept (V(off) where never set).
    type: str
    choices: ['off', running, defined]
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
    description: Shows the quota before and after, with O(enforce) and whether it is enforced.
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

- name: Refuse starts beyond the quota, counting the running domains
  vpe.hypervisor.vpe_quota:
    cpu_max: 32
    memory_max_mb: 65536
    enforce: running
  register: quota

- name: Restart libvirtd so that it runs the new hook (running domains keep running)
  ansible.builtin.service:
    name: libvirtd
    state: restarted
  when: quota.libvirtd_restart_needed

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
    enforce:
      description: What a starting domain is checked against, V(off), V(running) or V(defined).
      type: str
      sample: running
    enforced:
      description:
        - Whether starts are checked now, that is O(enforce) is not V(off), the hook is installed for this
          O(state_dir) and libvirtd has started since it was installed.
      type: bool
      sample: true
libvirtd_restart_needed:
  description: True while libvirtd has to restart before it runs the hook (a hook installed after it started).
  returned: success
  type: bool
  sample: false
hook_path:
  description: Where the hook is (would be, in check mode); null when O(enforce) is V(off).
  returned: success
  type: str
  sample: /etc/libvirt/hooks/qemu.d/vpe-quota
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

# First: compiles each module_utils file below once, not twice, from the payload zip (core/zip_compile_once).
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import zip_compile_once  # noqa: F401 pylint: disable=unused-import
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_apply import diff_of
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_common import (
    common_argument_spec, context_for, fail)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(fields.argument_spec('quota'))
    argument_spec['force'] = {'type': 'bool', 'default': False}
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[('cpu_max', 'memory_max_mb', 'enforce')])
    desired = dict((name, module.params[name]) for name in ('cpu_max', 'memory_max_mb', 'enforce'))
    ctx = context_for(module)
    try:
        change, hook = ctx.run(quota_apply.apply_with_hook, desired, check_mode=module.check_mode,
                               force=module.params['force'])
    except VpeError as exc:
        fail(module, exc)
    finally:
        ctx.close()
    result = {'changed': change.changed, 'quota': change.after,
              'libvirtd_restart_needed': hook['libvirtd_restart_needed'], 'hook_path': hook['hook_path']}
    if module._diff:
        result['diff'] = diff_of(change)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
