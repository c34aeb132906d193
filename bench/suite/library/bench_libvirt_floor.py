# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bench reference, not part of the collection: the least any facts module
backed by libvirt's Python binding costs. It loads the binding, opens and
closes a read-only connection, asks one question, and returns the facts
vpe_facts returned (read from a file the bench wrote), so Ansible handles a
result of the same size. This over ping is the binding's and the facts'
cost (bench/run.py, overhead); vpe_facts, which reads the local daemon over
core/libvirt_wire without the binding, is measured against it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: bench_libvirt_floor
short_description: The bench's libvirt-backed floor for vpe_facts
description: Loads libvirt, asks it one question, returns canned facts.
options:
  facts_file:
    description: JSON file holding the facts to return under C(vpe).
    type: path
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
author: vpe.hypervisor contributors
'''

import json

import libvirt

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={'facts_file': {'type': 'path', 'required': True},
                                          'uri': {'type': 'str', 'default': 'qemu:///system'}},
                           supports_check_mode=True)
    conn = libvirt.openReadOnly(module.params['uri'])
    try:
        conn.getInfo()
    finally:
        conn.close()
    with open(module.params['facts_file']) as handle:
        facts = json.load(handle)
    module.exit_json(changed=False, ansible_facts={'vpe': facts})


if __name__ == '__main__':
    main()
