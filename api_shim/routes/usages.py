# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /hypervisor/usages"""

from ansible_collections.vpe.hypervisor.api_shim.http import json_response, query_params
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import usage


def get_usages(ctx):
    query_params(())
    return json_response({'usages': ctx.run(usage.read)})
