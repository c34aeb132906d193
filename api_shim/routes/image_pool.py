# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET/PUT /hypervisor/image-pool"""

from ansible_collections.vpe.hypervisor.api_shim.http import json_response, query_params, read_envelope
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import image_pool, image_pool_apply

KEY = 'image-pool'


def get_image_pool(ctx):
    query_params(())
    return json_response({KEY: ctx.run(image_pool.read)})


def put_image_pool(ctx):
    query_params(())
    desired = read_envelope(KEY)
    change = ctx.apply_if_match(lambda: [{KEY: ctx.run(image_pool.read)}], image_pool_apply.apply, desired)
    return json_response({KEY: change.after})
