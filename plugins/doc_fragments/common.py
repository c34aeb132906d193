# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  uri:
    description:
      - libvirt connection URI on the managed host.
      - Defaults to the E(LIBVIRT_DEFAULT_URI) environment variable of the module run when set,
        else V(qemu:///system).
      - Set it once for every module of the collection with
        C(module_defaults) and C(group/vpe.hypervisor.all).
    type: str
  state_dir:
    description:
      - Directory holding the host state file (quota, pool limits, image store settings)
        that libvirt cannot hold itself.
      - Must be the same for modules and the REST shim on one host.
    type: path
    default: /var/lib/vpe
requirements:
  - libvirt-python (C(python3-libvirt)) on the managed host
notes:
  - The modules keep the compiled bytecode of the collection's module_utils in
    C(~/.cache/vpe.hypervisor/bytecode) of the user they run as, checked against each file's source hash
    (an upgrade recompiles), so later runs start faster. Set E(VPE_HYPERVISOR_BYTECODE_CACHE=off) in the
    task's C(environment) to compile on every run instead, or to a directory to keep it there.
'''

    # Every module is in the action group; `extends_documentation_fragment:
    # vpe.hypervisor.common.action_group` documents it once.
    ACTION_GROUP = r'''
attributes:
  action_group:
    support: full
    membership:
      - vpe.hypervisor.all
    description: Use C(group/vpe.hypervisor.all) in C(module_defaults) to set O(uri) and O(state_dir) once.
'''

    # What every module declares about itself beyond check and diff mode.
    ATTRIBUTES = r'''
attributes:
  platform:
    support: full
    platforms: posix
    description: Runs on the hypervisor, a Linux host with libvirt and its Python binding.
  idempotent:
    support: full
    description: A second run with the same options changes nothing and reports C(changed=false).
'''
