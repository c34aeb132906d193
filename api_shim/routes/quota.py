# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET/PUT /hypervisor/quota"""

from ansible_collections.vpe.hypervisor.api_shim.http import json_response, query_bool, query_params, read_envelope
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota, quota_apply

KEY = 'quota'


def get_quota(ctx):
    query_params(())
    return json_response({KEY: ctx.run(quota.read)})


def put_quota(ctx):
    force = query_bool(query_params(('force',)), 'force')
    desired = read_envelope(KEY)
    change = ctx.apply_if_match(lambda: [{KEY: ctx.run(quota.read)}], quota_apply.apply, desired, force=force)
    return json_response({KEY: change.after})
