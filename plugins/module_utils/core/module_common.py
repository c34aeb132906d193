# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module shares: the common options, the context, failing with an error.

Running a change and exiting with changed/diff is module_apply (vpe_facts,
which only reads, does not load it)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.state_store import DEFAULT_STATE_DIR


def common_argument_spec():
    """The options of the vpe.hypervisor.common doc fragment."""
    return {
        'uri': {'type': 'str'},
        'state_dir': {'type': 'path', 'default': DEFAULT_STATE_DIR},
    }


def context_for(module):
    return Context(uri=module.params['uri'], state_dir=module.params['state_dir'])


def fail(module, exc, **result):
    """fail_json with the error's message and its HTTP-equivalent status."""
    extra = dict(exc.extra)
    if exc.field is not None:
        extra['field'] = exc.field
    module.fail_json(msg=exc.detail, status=exc.status, **dict(result, **extra))
