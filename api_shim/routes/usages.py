# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /hypervisor/usages"""

from ansible_collections.vpe.hypervisor.api_shim.http import json_response, query_params
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import usage


def register(shim):
    @shim.route('/hypervisor/usages', 'GET', 'read')
    def get_usages():
        query_params(())
        return json_response({'usages': shim.ctx.run(usage.read)})
