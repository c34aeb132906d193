#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vpe_image_pool
short_description: Set where a hypervisor keeps its images and how much they may take
version_added: 0.1.0
description:
  - Sets the image store, a libvirt C(dir) pool with the reserved name C(vpe-image-store) that is hidden
    from the volume pools, and its capacity limit O(max_gb) kept in the host state.
  - Partial update, only the options given are changed.
  - The same operation as C(PUT /hypervisor/image-pool) of the REST shim.
  - O(path) must be an existing directory, unless O(create=true). It is resolved (symlinks followed, C(..)
    collapsed) before any check, must not be C(/) or in a system tree (C(/bin /boot /dev /etc /lib* /proc /run /sbin /sys /usr),
    extended by C(storage.extra_system_dirs) in the state file), and must not be equal to, inside or around
    the path of a volume pool.
  - Changing O(path) re-points the reserved pool at the new directory. No file is moved or deleted; images
    in the old directory stay there.
  - Any failure half-way undoes what the run did, so libvirt, the state file and the disk are left as they
    were (a directory the run created is removed again).
options:
  path:
    description:
      - Absolute path of the directory for images. It must exist unless O(create=true).
    type: path
  max_gb:
    description:
      - Capacity limit in GiB, an integer of at least 1.
      - A value below what the files in the directory already take on disk is refused.
    type: int
  create:
    description:
      - Create O(path) when it does not exist (mode 0755, parents too), as M(vpe.hypervisor.vpe_pool) creates
        a pool's directory. In check mode nothing is created and the run reports the change.
      - With V(false), a missing O(path) is an error, as in C(PUT /hypervisor/image-pool).
    type: bool
    default: false
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
    description: Shows the image store before and after.
author:
  - vpe.hypervisor developers (@vpe-hypervisor)
seealso:
  - module: vpe.hypervisor.vpe_pool
  - module: vpe.hypervisor.vpe_facts
'''

EXAMPLES = r'''
- name: Keep images in /home/store/1/vpe/images, at most 1000 GiB
  vpe.hypervisor.vpe_image_pool:
    path: /home/store/1/vpe/images
    max_gb: 1000

- name: Change only the limit
  vpe.hypervisor.vpe_image_pool:
    max_gb: 1500

- name: Keep images in a directory made if missing
  vpe.hypervisor.vpe_image_pool:
    path: /srv/vpe/images
    max_gb: 500
    create: true
'''

RETURN = r'''
image_pool:
  description: The image store after the change (what it would be, in check mode).
  returned: success
  type: dict
  contains:
    path:
      description: The resolved path of the image directory (null if no image store is defined).
      type: str
      sample: /home/store/1/vpe/images
    max_gb:
      description: Capacity limit in GiB (null if never set).
      type: int
      sample: 1000
    used_gb:
      description: GiB on disk of the files in the image directory, 2 decimals.
      type: float
      sample: 12.5
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
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import image_pool_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_apply import run_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_common import common_argument_spec


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(fields.argument_spec('image-pool'))
    argument_spec['create'] = {'type': 'bool', 'default': False}
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[('path', 'max_gb')])
    desired = {'path': module.params['path'], 'max_gb': module.params['max_gb']}
    run_apply(module, image_pool_apply, 'image_pool', desired, create=module.params['create'])


if __name__ == '__main__':
    main()
