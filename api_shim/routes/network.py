# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET/PUT /hypervisor/network

The shim has no per-request persistence options: it persists with
`persist: auto`, under `/`, for the libvirt network remembered in its state
dir (default vpe-bridge). VPE_NETWORK_PERSIST, VPE_PERSIST_ROOT and
VPE_LIBVIRT_NETWORK in its environment override those.
"""

from ansible_collections.vpe.hypervisor.api_shim.http import (
    check_if_match, json_response, query_bool, query_params, read_envelope)
from ansible_collections.vpe.hypervisor.plugins.module_utils import network, network_apply

KEY = 'network'


def register(shim):
    ctx = shim.ctx

    @shim.route('/hypervisor/network', 'GET', 'read')
    def get_network():
        query_params(())
        return json_response({KEY: ctx.run(network.read)})

    @shim.route('/hypervisor/network', 'PUT', 'admin')
    def put_network():
        force = query_bool(query_params(('force',)), 'force')
        desired = read_envelope(KEY)
        with ctx.store.locked():
            check_if_match({KEY: ctx.run(network.read)})
            change = ctx.run(network_apply.apply, desired, force=force)
        return json_response({KEY: change.after})
