# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The route table: every route of the shim, one module per resource.

A handler is fn(ctx, **url_args). It parses the request, calls a service, and
changes something only through ctx.apply_if_match (state lock + If-Match +
apply): no route touches the state store.
"""

from ansible_collections.vpe.hypervisor.api_shim.routes import (
    health, image_pool, metrics, network, openapi, pools, quota, ui, usages)


def table():
    """(method, path, scope, handler) of every route; scope None: open to all.
    Called once at start-up: the OpenAPI document and the page's files are read here."""
    return (
        ('GET', '/healthz', None, health.get_healthz),
        ('GET', '/openapi.json', None, openapi.get_openapi_handler()),
        ('GET', '/hypervisor/usages', 'read', usages.get_usages),
        ('GET', '/hypervisor/quota', 'read', quota.get_quota),
        ('PUT', '/hypervisor/quota', 'admin', quota.put_quota),
        ('GET', '/hypervisor/image-pool', 'read', image_pool.get_image_pool),
        ('PUT', '/hypervisor/image-pool', 'admin', image_pool.put_image_pool),
        ('GET', '/hypervisor/pools', 'read', pools.get_pools),
        ('POST', '/hypervisor/pools', 'admin', pools.post_pool),
        ('PUT', '/hypervisor/pools/<uuid>', 'admin', pools.put_pool),
        ('DELETE', '/hypervisor/pools/<uuid>', 'admin', pools.delete_pool),
        ('GET', '/hypervisor/metrics', 'read', metrics.get_metrics),
        ('GET', '/hypervisor/metrics.svg', 'read', metrics.get_metrics_svg),
        ('GET', '/metrics', 'read', metrics.get_prometheus),
        ('GET', '/hypervisor/network', 'read', network.get_network),
        ('PUT', '/hypervisor/network', 'admin', network.put_network),
        ('POST', '/hypervisor/network/confirm', 'admin', network.confirm_network),
    ) + ui.routes()
