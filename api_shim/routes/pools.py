# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET/POST /hypervisor/pools, PUT/DELETE /hypervisor/pools/{uuid}"""

from ansible_collections.vpe.hypervisor.api_shim.http import json_response, query_params, read_envelope, read_json_body
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import pools, pools_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput

LIST_KEY = 'pools'
ONE_KEY = 'pool'


def _shown(ctx, uuid):
    """What If-Match may name: the ETag of this pool's document (from POST/PUT)
    or of the list (from GET); nothing when there is no such pool (the service says 404)."""
    listed = ctx.run(pools.read)
    for pool in listed:
        if pool['uuid'] == uuid:
            return [{ONE_KEY: pool}, {LIST_KEY: listed}]
    return []


def get_pools(ctx):
    query_params(())
    return json_response({LIST_KEY: ctx.run(pools.read)})


def post_pool(ctx):
    query_params(())
    desired = read_envelope(ONE_KEY)
    change = ctx.run(pools_apply.create, desired)
    return json_response({ONE_KEY: change.after})


def put_pool(ctx, uuid):
    query_params(())
    desired = read_envelope(ONE_KEY)
    change = ctx.apply_if_match(lambda: _shown(ctx, uuid), pools_apply.update, uuid, desired)
    return json_response({ONE_KEY: change.after})


def delete_pool(ctx, uuid):
    query_params(())
    body = read_json_body(required=False)
    if body not in (None, {}):
        raise InvalidInput('DELETE takes no fields; send {} or no body', field='body')
    ctx.apply_if_match(lambda: _shown(ctx, uuid), pools_apply.delete, uuid)
    return json_response({ONE_KEY: {'uuid': uuid}}, etag=False)
