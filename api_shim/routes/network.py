# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET/PUT /hypervisor/network, POST /hypervisor/network/confirm

The shim has no per-request persistence options: it persists with
`persist: auto`, under `/`, for the libvirt network remembered in its state
dir (default vpe-bridge). VPE_NETWORK_PERSIST, VPE_PERSIST_ROOT and
VPE_LIBVIRT_NETWORK in its environment override those.

`PUT ?confirm_timeout=S` (1 to 86400) makes a commit-confirmed change (network_confirm):
202 with the pending change, which `POST .../confirm[?id=ID]` confirms before its
deadline (409 after it); GET shows it under `pending` (an extension of the
spec's body) until it is confirmed or reverted.
"""

from ansible_collections.vpe.hypervisor.api_shim.http import (
    json_response, query_bool, query_params, read_envelope, read_json_body)
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network, network_apply, network_confirm
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput

KEY = 'network'
PENDING = 'pending'


def _no_body():
    """Confirm takes no body (the change is named by ?id=); one sent is refused, not ignored."""
    if read_json_body(required=False) is not None:
        raise InvalidInput('confirm takes no body; name the change with ?id=<pending.id> or send nothing',
                           field='body')


def _current(ctx):
    """The document GET shows (and If-Match is checked against)."""
    waiting = network_confirm.current(ctx)  # first: it may revert an overdue change
    doc = {KEY: ctx.run(network.read)}
    if waiting is not None:
        doc[PENDING] = waiting
    return doc


def get_network(ctx):
    query_params(())
    return json_response(_current(ctx))


def put_network(ctx):
    params = query_params(('force', 'confirm_timeout'))
    force = query_bool(params, 'force')
    timeout = network_confirm.check_timeout(params.get('confirm_timeout'), minimum=1)
    desired = read_envelope(KEY)
    change = ctx.apply_if_match(lambda: [_current(ctx)], network_apply.apply, desired, force=force,
                                confirm_timeout=timeout)
    if change.pending is None:
        return json_response({KEY: change.after})
    resp = json_response({KEY: change.after, PENDING: change.pending}, status=202)
    resp.set_header('Connection', 'close')  # the confirm must come over a new connection
    return resp


def confirm_network(ctx):
    change_id = network_confirm.check_id(query_params(('id',)).get('id'))
    _no_body()
    confirmed = network_confirm.confirm(ctx, change_id)
    return json_response({KEY: ctx.run(network.read), PENDING: confirmed})
