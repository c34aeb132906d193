# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET/PUT /hypervisor/image-pool, GET/POST /hypervisor/pools,
PUT/DELETE /hypervisor/pools/{uuid}"""

from ansible_collections.vpe.hypervisor.api_shim.http import (
    check_if_match, json_response, query_params, read_envelope, read_json_body)
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import (
    image_pool, image_pool_apply, pools, pools_apply)
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput, PreconditionFailed

IMAGE_KEY = 'image-pool'
LIST_KEY = 'pools'
ONE_KEY = 'pool'


def _find(ctx, uuid):
    """The pool with `uuid` and the whole list (both for If-Match)."""
    listed = ctx.run(pools.read)
    for pool in listed:
        if pool['uuid'] == uuid:
            return pool, listed
    return None, listed


def _check_if_match_pool(pool, listed):
    """If-Match may carry the ETag of this pool's document (from POST/PUT) or of the list (from GET)."""
    try:
        check_if_match({ONE_KEY: pool})
    except PreconditionFailed:
        check_if_match({LIST_KEY: listed})


def register(shim):
    ctx = shim.ctx

    @shim.route('/hypervisor/image-pool', 'GET', 'read')
    def get_image_pool():
        query_params(())
        return json_response({IMAGE_KEY: ctx.run(image_pool.read)})

    @shim.route('/hypervisor/image-pool', 'PUT', 'admin')
    def put_image_pool():
        query_params(())
        desired = read_envelope(IMAGE_KEY)
        with ctx.store.locked():
            check_if_match({IMAGE_KEY: ctx.run(image_pool.read)})
            change = ctx.run(image_pool_apply.apply, desired)
        return json_response({IMAGE_KEY: change.after})

    @shim.route('/hypervisor/pools', 'GET', 'read')
    def get_pools():
        query_params(())
        return json_response({LIST_KEY: ctx.run(pools.read)})

    @shim.route('/hypervisor/pools', 'POST', 'admin')
    def post_pool():
        query_params(())
        desired = read_envelope(ONE_KEY)
        change = ctx.run(pools_apply.create, desired)
        return json_response({ONE_KEY: change.after})

    @shim.route('/hypervisor/pools/<uuid>', 'PUT', 'admin')
    def put_pool(uuid):
        query_params(())
        desired = read_envelope(ONE_KEY)
        with ctx.store.locked():
            pool, listed = _find(ctx, uuid)
            if pool is not None:
                _check_if_match_pool(pool, listed)
            change = ctx.run(pools_apply.update, uuid, desired)
        return json_response({ONE_KEY: change.after})

    @shim.route('/hypervisor/pools/<uuid>', 'DELETE', 'admin')
    def delete_pool(uuid):
        query_params(())
        body = read_json_body(required=False)
        if body not in (None, {}):
            raise InvalidInput('DELETE takes no fields; send {} or no body', field='body')
        with ctx.store.locked():
            pool, listed = _find(ctx, uuid)
            if pool is not None:
                _check_if_match_pool(pool, listed)
            ctx.run(pools_apply.delete, uuid)
        return json_response({ONE_KEY: {'uuid': uuid}}, etag=False)
