# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Volume pools: libvirt dir pools with a capacity limit and a creation time.

libvirt holds the pool (name, uuid, path); the host state holds, under
"pools" keyed by libvirt's uuid, what libvirt cannot: max_gb and created_at.
Every read starts from libvirt's own list, so a pool undefined outside us is
gone (its metadata is ignored, and dropped at our next write) and a pool
defined outside us shows with max_gb and created_at null.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils import storage

RESOURCE = 'pool'
KEY = 'pools'


def view(ctx, live, meta):
    meta = meta or {}
    return {
        'name': live.name,
        'uuid': live.uuid,
        'path': live.path,
        'max_gb': meta.get('max_gb'),
        'used_gb': storage.to_gb(ctx.disk.used_bytes(live.path)) if live.path else 0.0,
        'created_at': meta.get('created_at'),
    }


def read(ctx):
    """Every volume pool, by name."""
    metas = ctx.store.read().get(storage.POOLS_KEY, {})
    pools = storage.volume_pools(storage.pools_seen(ctx))
    return [view(ctx, p, metas.get(p.uuid)) for p in sorted(pools, key=lambda p: p.name)]


# The changes live in pools_apply, imported on the first change: a read
# (vpe_facts on every host, each GET) does not compile them.
def _apply():
    from ansible_collections.vpe.hypervisor.plugins.module_utils import pools_apply
    return pools_apply


def create(ctx, desired, check_mode=False, listing=None):
    """POST /pools: see pools_apply.create."""
    return _apply().create(ctx, desired, check_mode=check_mode, listing=listing)


def update(ctx, uuid, desired, check_mode=False, listing=None):
    """PUT /pools/{uuid}: see pools_apply.update."""
    return _apply().update(ctx, uuid, desired, check_mode=check_mode, listing=listing)


def delete(ctx, uuid, check_mode=False, listing=None):
    """DELETE /pools/{uuid}: see pools_apply.delete."""
    return _apply().delete(ctx, uuid, check_mode=check_mode, listing=listing)


def check_desired(desired):
    """See pools_apply.check_desired."""
    return _apply().check_desired(desired)


def apply(ctx, desired, check_mode=False):
    """The module's view (pool `name` present or absent): see pools_apply.apply."""
    return _apply().apply(ctx, desired, check_mode=check_mode)
