# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route modules, one per resource; each has register(shim). A route parses
the request, calls a service, and changes something only through
shim.ctx.apply_if_match (state lock + If-Match + apply): no route touches the
state store.

| module | routes |
| --- | --- |
| health | GET /healthz |
| openapi | GET /openapi.json |
| usages | GET /hypervisor/usages |
| quota | GET, PUT /hypervisor/quota |
| image_pool | GET, PUT /hypervisor/image-pool |
| pools | GET, POST /hypervisor/pools; PUT, DELETE /hypervisor/pools/{uuid} |
| metrics | GET /hypervisor/metrics, /hypervisor/metrics.svg, /metrics (Prometheus) |
| network | GET, PUT /hypervisor/network; POST /hypervisor/network/confirm |
| ui | GET /ui and its assets |
"""

from ansible_collections.vpe.hypervisor.api_shim.routes import (
    health, image_pool, metrics, network, openapi, pools, quota, ui, usages)

MODULES = (health, openapi, usages, quota, image_pool, pools, metrics, network, ui)
