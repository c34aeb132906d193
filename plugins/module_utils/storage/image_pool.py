# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image store: where images live, as a libvirt dir pool named
storage.IMAGE_STORE_NAME (hidden from /pools), and its capacity limit.

libvirt's pool is the truth for `path` (null while no such pool is defined);
the host state keeps, under "image_pool", the `max_gb` limit and the path last
set through us. Changing the path re-points the pool (undefine, define again
with the same uuid at the new path): no file is moved or deleted. Changing it
is image_pool_apply.apply, which a read never imports.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import storage

RESOURCE = 'image-pool'


def view(ctx, live, stored):
    path = live.path if live is not None else None
    return {
        'path': path,
        'max_gb': stored.get('max_gb'),
        'used_gb': storage.to_gb(ctx.disk.used_bytes(path)) if path else 0.0,
    }


def read(ctx):
    stored = ctx.store.read().get(storage.IMAGE_KEY, {})
    return view(ctx, storage.image_store(storage.pools_seen(ctx)), stored)
