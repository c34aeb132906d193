#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vpe_host
short_description: Set a hypervisor's quota, image store, volume pools and VM bridge in one task
version_added: 0.2.0
description:
  - One module run for what M(vpe.hypervisor.vpe_quota), M(vpe.hypervisor.vpe_image_pool),
    M(vpe.hypervisor.vpe_pool) and M(vpe.hypervisor.vpe_network) do one at a time, through the same code, on one
    libvirt connection. The C(vpe.hypervisor.hypervisor) role runs it.
  - Each part is optional; a part not given is left alone. Each option is a dict (for O(pools), a list of dicts)
    with the options of its single module, and each part behaves as that module does.
  - Every part's input is checked before the first part is applied (types, ranges, names, no pool named twice,
    O(network.confirm_timeout)), so bad input anywhere changes nothing; the error names the part and the option,
    for example V(pools[2].max_gb) or V(quota.cpu_max).
  - The parts are applied in this order, quota, image store, pools, bridge. What needs the host to be checked
    (a quota below what domains hold, a path that overlaps a pool, an interface that is not a NIC) is checked
    when the part's turn comes; if it fails there, the parts before it stay applied and the run fails naming the
    part, returning what the parts before it did.
  - The bridge comes last, so a commit-confirmed bridge change (O(network.confirm_timeout)) is the last thing the
    run does. The module's action plugin then confirms it over a new connection exactly as
    M(vpe.hypervisor.vpe_network) does; if that fails, the task fails saying the change was not confirmed, and the
    host rolls the bridge change back by itself (the other parts stay applied).
options:
  quota:
    description:
      - The quota, as M(vpe.hypervisor.vpe_quota) sets it. Partial update.
    type: dict
    suboptions:
      cpu_max:
        description: vCPUs that domains may be allocated in total, 1-65536.
        type: int
      memory_max_mb:
        description: MiB of memory that domains may be allocated in total, at least 1.
        type: int
      enforce:
        description:
          - V(off), V(running) or V(defined); see M(vpe.hypervisor.vpe_quota). Unset keeps the current setting.
          - When the libvirt hook is new, RV(libvirtd_restart_needed) is true.
        type: str
        choices: ['off', running, defined]
      force:
        description: Accept a value below what domains already hold.
        type: bool
        default: false
  image_pool:
    description:
      - The image store, as M(vpe.hypervisor.vpe_image_pool) sets it. Partial update.
    type: dict
    suboptions:
      path:
        description: Absolute path of the image directory. Moving it moves and deletes no file.
        type: path
      max_gb:
        description: Capacity limit in GiB, at least 1.
        type: int
      create:
        description: Make O(image_pool.path) (mode 0755, parents too) when it does not exist, instead of refusing it.
        type: bool
        default: false
  pools:
    description:
      - Volume pools, each as one item of M(vpe.hypervisor.vpe_pool)'s O(vpe.hypervisor.vpe_pool#module:pools), applied
        in order. Each name may appear once.
      - In check mode every item is checked against the host as it is, not as the items before it would leave it.
    type: list
    elements: dict
    suboptions:
      name:
        description: Pool name, 1-64 characters of C(A-Z a-z 0-9 _ . -), not starting with C(.).
        type: str
        required: true
      path:
        description: Absolute path of the pool directory (made if missing). Required to create a pool.
        type: path
      max_gb:
        description: Capacity limit in GiB, at least 1. Required to create a pool.
        type: int
      state:
        description: V(present) creates the pool or sets its limit; V(absent) stops and undefines it, keeping its files.
        type: str
        choices: [present, absent]
        default: present
  network:
    description:
      - The VM bridge, as M(vpe.hypervisor.vpe_network) sets it. Partial update.
    type: dict
    suboptions:
      bridge:
        description: Linux bridge name, 1-15 characters; defaults to the current bridge, or C(br100).
        type: str
      bridge_interface:
        description: The NIC or bond that becomes the bridge's port. Required when the bridge has no port yet.
        type: str
      force:
        description: Change the bridge even when running domains use the current one (they are moved live).
        type: bool
        default: false
      persist:
        description: How the setting survives a reboot, as M(vpe.hypervisor.vpe_network)'s O(vpe.hypervisor.vpe_network#module:persist).
        type: str
        choices: [auto, networkd, ifupdown, nmcli, none]
        default: auto
      persist_root:
        description: Directory the persistence files are written under, in place of C(/).
        type: path
        default: /
      libvirt_network:
        description: Name of the libvirt network (forward mode C(bridge)); defaults to the remembered one, else C(vpe-bridge).
        type: str
      confirm_timeout:
        description:
          - Seconds within which a bridge change must be confirmed from a new connection, else the host rolls it back
            by itself. V(0) (the default) changes the host without a watchdog. At most 86400.
        type: int
        default: 0
extends_documentation_fragment:
  - vpe.hypervisor.common
  - vpe.hypervisor.common.action_group
  - vpe.hypervisor.common.attributes
attributes:
  check_mode:
    support: full
    description: Checks every part and reports what would change (for the bridge, the steps in RV(actions)), and changes nothing.
  diff_mode:
    support: full
    description: One before/after per part, headed by the part's name (per pool, V(pools[INDEX] NAME)).
notes:
  - Needs iproute2 on the host when O(network) is given, as M(vpe.hypervisor.vpe_network) does.
author:
  - vpe.hypervisor developers (@vpe-hypervisor)
seealso:
  - module: vpe.hypervisor.vpe_quota
  - module: vpe.hypervisor.vpe_image_pool
  - module: vpe.hypervisor.vpe_pool
  - module: vpe.hypervisor.vpe_network
  - module: vpe.hypervisor.vpe_facts
'''

EXAMPLES = r'''
- name: The whole host in one task
  vpe.hypervisor.vpe_host:
    quota:
      cpu_max: 64
      memory_max_mb: 262144
    image_pool:
      path: /srv/vpe/images
      max_gb: 500
      create: true
    pools:
      - name: fast
        path: /srv/vpe/pools/fast
        max_gb: 1000
      - name: old-scratch
        state: absent
    network:
      bridge: br100
      bridge_interface: eth0
      confirm_timeout: 120
  register: host

- name: Restart libvirtd when the quota hook is new
  ansible.builtin.service:
    name: libvirtd
    state: restarted
  when: host.libvirtd_restart_needed
'''

RETURN = r'''
changed_sections:
  description: The parts that changed (or would, in check mode), in the order applied.
  returned: always
  type: list
  elements: str
  sample: [quota, pools]
quota:
  description: The quota after the change, as M(vpe.hypervisor.vpe_quota)'s RV(vpe.hypervisor.vpe_quota#module:quota).
  returned: when O(quota) is given and applied
  type: dict
  sample: {cpu_max: 64, memory_max_mb: 262144, enforce: 'off', enforced: false}
libvirtd_restart_needed:
  description: Whether libvirtd must restart to run the quota hook (it looks for hooks only when it starts).
  returned: when O(quota) is given and applied
  type: bool
  sample: false
hook_path:
  description: Where the quota hook is (null when O(quota.enforce) is V(off)).
  returned: when O(quota) is given and applied
  type: str
  sample: /etc/libvirt/hooks/qemu.d/vpe-quota
image_pool:
  description: The image store after the change, as M(vpe.hypervisor.vpe_image_pool)'s RV(vpe.hypervisor.vpe_image_pool#module:image_pool).
  returned: when O(image_pool) is given and applied
  type: dict
  sample: {path: /srv/vpe/images, max_gb: 500, used_gb: 12.5}
pools:
  description:
    - Each pool after the change, in the order of O(pools) (empty for an absent one).
    - When an item fails, the items before it.
  returned: when O(pools) is given
  type: list
  elements: dict
  sample:
    - {name: fast, uuid: 19636f21-dc97-4cde-af55-fd6459342516, path: /srv/vpe/pools/fast, max_gb: 1000, used_gb: 0.0,
       created_at: '2026-12-03 10:00:00'}
network:
  description: The bridge and its port after the change, as M(vpe.hypervisor.vpe_network)'s RV(vpe.hypervisor.vpe_network#module:network).
  returned: when O(network) is given and applied
  type: dict
  sample: {bridge: br100, bridge_interface: eth0}
actions:
  description: The bridge steps taken (or that would be, in check mode); empty when the bridge does not change.
  returned: when O(network) is given and applied
  type: list
  elements: str
  sample: [create bridge br100 (MAC 52:54:00:12:34:56 of eth0, STP off), enslave eth0 to bridge br100]
persist:
  description: The bridge's persistence method used (V(auto) resolved).
  returned: when O(network) is given and applied
  type: str
  sample: networkd
pending:
  description:
    - The bridge change waiting for confirmation, as M(vpe.hypervisor.vpe_network)'s
      RV(vpe.hypervisor.vpe_network#module:pending), after the action plugin confirmed it or failed to.
  returned: when O(network.confirm_timeout) is set and the bridge changed
  type: dict
status:
  description:
    - HTTP-equivalent status of a failure, the same as the REST shim answers for the same request.
    - 400 bad input (see RV(field)), 404 not found, 409 conflict with the host's state, 503 libvirt unreachable.
  returned: failure
  type: int
  sample: 409
field:
  description: The option a failure is about, prefixed with its part, for example V(quota.cpu_max) or V(pools[2].max_gb).
  returned: failure, when one option is at fault
  type: str
  sample: pools[2].max_gb
'''

from ansible.module_utils.basic import AnsibleModule

# First: compiles each module_utils file below once, not twice, from the payload zip (core/zip_compile_once).
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import zip_compile_once  # noqa: F401 pylint: disable=unused-import
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields, host_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_common import (
    common_argument_spec, context_for, fail)
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_apply


def argument_spec():
    spec = common_argument_spec()
    quota = fields.argument_spec('quota')
    quota['force'] = {'type': 'bool', 'default': False}
    image_pool = fields.argument_spec('image-pool')
    image_pool['create'] = {'type': 'bool', 'default': False}
    pool = fields.pool_options()
    pool['name']['required'] = True
    spec.update({
        'quota': {'type': 'dict', 'options': quota},
        'image_pool': {'type': 'dict', 'options': image_pool},
        'pools': {'type': 'list', 'elements': 'dict', 'options': pool},
        'network': {'type': 'dict', 'options': network_apply.module_options()},
    })
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[host_apply.ORDER])
    sections = dict((name, module.params[name]) for name in host_apply.ORDER if module.params[name] is not None)
    try:
        host_apply.check(sections)
    except VpeError as exc:
        fail(module, exc)
    run = host_apply.Run(module._diff)
    error = None
    ctx = context_for(module)
    try:
        host_apply.apply(ctx, sections, run, check_mode=module.check_mode)
    except VpeError as exc:
        error = exc
    finally:
        ctx.close()
    for warning in run.warnings:
        module.warn(warning)
    if error is not None:
        fail(module, error, **run.done())
    module.exit_json(**run.done())


if __name__ == '__main__':
    main()
