# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Volume pools: libvirt dir pools with a capacity limit and a creation time.

libvirt holds the pool (name, uuid, path); the host state holds, under
"pools" keyed by libvirt's uuid, what libvirt cannot: max_gb and created_at.
Every read starts from libvirt's own list, so a pool undefined outside us is
gone (its metadata is ignored, and dropped at our next write) and a pool
defined outside us shows with max_gb and created_at null.

The changes (create, update, delete, the module's apply) are pools_apply: a
read (vpe_facts on every host, each GET) imports and compiles none of them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import storage

RESOURCE = 'pool'


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
