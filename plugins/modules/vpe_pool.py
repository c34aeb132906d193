#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vpe_pool
short_description: Create, resize or remove volume pools on a hypervisor
version_added: 0.1.0
description:
  - Manages a volume pool, a libvirt C(dir) storage pool that is defined, built, started and autostarted,
    with a capacity limit O(max_gb) kept in the host state. The pool is identified by O(name).
  - O(pools) manages several pools in one module run and one libvirt connection, applied in the order given.
    Every item is checked first (the rules of each option, and no name given twice), so bad input anywhere
    in the list changes nothing; the error names the item (for example V(pools[2])). What needs the host to
    be checked (a free name, a path that overlaps nothing, O(pools[].path) and O(pools[].max_gb) given for a
    pool that does not exist yet) is checked when the item's turn comes; if it fails there, the items
    before it stay applied and the run fails naming the item, returning what the items before it did.
  - The same operations as C(POST /hypervisor/pools), C(PUT /hypervisor/pools/{uuid}) and
    C(DELETE /hypervisor/pools/{uuid}) of the REST shim.
  - O(path) is resolved (symlinks followed, C(..) collapsed) before any check. It must not be C(/),
    must not be in a system tree (C(/bin /boot /dev /etc /lib* /proc /run /sbin /sys /usr), extended by
    C(storage.extra_system_dirs) in the state file) and must not be equal to, inside or around the path of
    another pool or of the image store. A missing directory is created (mode 0755).
  - The path of an existing pool never changes; giving another one is an error.
  - Removing a pool stops and undefines it; the files in its directory stay where they are.
    A pool with a volume that is a disk of any defined domain is never removed.
  - Any failure half-way undoes what the run did (for example a pool that defines but will not start is
    undefined again), so libvirt, the state file and the disk are left as they were.
options:
  name:
    description:
      - Pool name, unique on the host. 1-64 characters of C(A-Z a-z 0-9 _ . -), not starting with C(.).
      - V(vpe-image-store) is reserved for the image store.
      - Exactly one of O(name) and O(pools) is required.
    type: str
  path:
    description:
      - Absolute path of the pool directory. Required to create a pool.
    type: path
  max_gb:
    description:
      - Capacity limit in GiB, an integer of at least 1. Required to create a pool.
      - A value below what the pool's files already take on disk is refused.
    type: int
  state:
    description:
      - V(present) creates the pool or sets its O(max_gb); V(absent) stops and undefines it, keeping its files.
    type: str
    choices: [present, absent]
    default: present
  pools:
    description:
      - Several pools, each with the options of a single pool, applied in order in one module run.
      - Mutually exclusive with O(name), O(path), O(max_gb) and O(state).
      - Each name may appear once.
      - In check mode every item is checked against the host as it is, not as the items before it would
        leave it.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Pool name, as O(name).
        type: str
        required: true
      path:
        description:
          - Absolute path of the pool directory, as O(path). Required to create a pool.
        type: path
      max_gb:
        description:
          - Capacity limit in GiB, as O(max_gb). Required to create a pool.
        type: int
      state:
        description:
          - V(present) or V(absent), as O(state).
        type: str
        choices: [present, absent]
        default: present
extends_documentation_fragment:
  - vpe.hypervisor.common
  - vpe.hypervisor.common.action_group
  - vpe.hypervisor.common.attributes
attributes:
  check_mode:
    support: full
    description: Checks every rule and reports what would change, and changes nothing.
  diff_mode:
    support: full
    description:
      - Shows the pool before and after (an empty dict for a pool that does not exist).
      - With O(pools), one before/after per item, headed by the pool's name.
author:
  - vpe.hypervisor developers (@vpe-hypervisor)
seealso:
  - module: vpe.hypervisor.vpe_image_pool
  - module: vpe.hypervisor.vpe_facts
'''

EXAMPLES = r'''
- name: A 500 GiB pool for VM disks
  vpe.hypervisor.vpe_pool:
    name: pool1
    path: /home/store/1/vpe/pool1
    max_gb: 500

- name: Grow it
  vpe.hypervisor.vpe_pool:
    name: pool1
    max_gb: 800

- name: Remove it from libvirt (its files stay on disk)
  vpe.hypervisor.vpe_pool:
    name: pool1
    state: absent

- name: Several pools in one run
  vpe.hypervisor.vpe_pool:
    pools:
      - name: fast
        path: /srv/vpe/pools/fast
        max_gb: 1000
      - name: bulk
        path: /srv/vpe/pools/bulk
        max_gb: 4000
      - name: old-scratch
        state: absent
'''

RETURN = r'''
pool:
  description: The pool after the change (what it would be, in check mode); empty when absent.
  returned: success, with O(name)
  type: dict
  contains:
    name:
      description: Pool name.
      type: str
      sample: pool1
    uuid:
      description: libvirt's uuid of the pool (null in check mode for a pool not created yet).
      type: str
      sample: 19636f21-dc97-4cde-af55-fd6459342516
    path:
      description: The resolved path of the pool directory.
      type: str
      sample: /home/store/1/vpe/pool1
    max_gb:
      description: Capacity limit in GiB (null for a pool defined outside this collection).
      type: int
      sample: 500
    used_gb:
      description: GiB on disk of the files in the pool directory, 2 decimals.
      type: float
      sample: 20.5
    created_at:
      description: When the pool was created through this collection, host local time (null if not).
      type: str
      sample: '2026-02-24 11:22:11'
pools:
  description:
    - With O(pools), each pool after the change, in the order of O(pools), each like RV(pool) (empty for an
      absent one).
    - When an item fails, the items before it (what they did stays done).
  returned: with O(pools)
  type: list
  elements: dict
  sample:
    - name: fast
      uuid: 19636f21-dc97-4cde-af55-fd6459342516
      path: /srv/vpe/pools/fast
      max_gb: 1000
      used_gb: 20.5
      created_at: '2026-02-24 11:22:11'
    - {}
domains:
  description: The domains using the pool, when removing it was refused.
  returned: failure
  type: list
  elements: str
  sample: [vm1]
status:
  description:
    - HTTP-equivalent status of a failure, the same as the REST shim answers for the same request.
    - 400 bad input (see RV(field)), 404 not found, 409 conflict with the host's state, 503 libvirt unreachable.
  returned: failure
  type: int
  sample: 409
field:
  description: The option a failure is about, when it is about one. With O(pools), prefixed with the item, for example V(pools[2].max_gb).
  returned: failure, when one option is at fault
  type: str
  sample: path
used_gb:
  description: GiB already on disk, when a O(max_gb) below it was refused (status 409).
  returned: failure with status 409, when O(max_gb) is below what is on disk
  type: float
  sample: 20.5
'''

from ansible.module_utils.basic import AnsibleModule

# First: compiles each module_utils file below once, not twice, from the payload zip (core/zip_compile_once).
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import zip_compile_once  # noqa: F401 pylint: disable=unused-import
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import pools_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_apply import run_apply, run_apply_list
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_common import common_argument_spec


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(fields.pool_options())
    item_options = fields.pool_options()
    item_options['name']['required'] = True
    argument_spec['pools'] = {'type': 'list', 'elements': 'dict', 'options': item_options}
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[('name', 'pools')],
                           mutually_exclusive=[('pools', option) for option in fields.POOL_OPTIONS])
    if module.params['pools'] is not None:
        items = [dict((k, item[k]) for k in fields.POOL_OPTIONS) for item in module.params['pools']]
        run_apply_list(module, pools_apply, 'pools', items)
    else:
        run_apply(module, pools_apply, 'pool', dict((k, module.params[k]) for k in fields.POOL_OPTIONS))


if __name__ == '__main__':
    main()
