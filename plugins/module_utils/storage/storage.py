# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the pool and image store services share to read: libvirt's pools as
seen in one listing, and bytes on disk. What their changes share is in
storage_apply."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
from collections import namedtuple

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import xml_read
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import disk_usage
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_conn import VIR_ERR_NO_STORAGE_POOL, is_libvirt_error

# The libvirt pool that backs the image store; hidden from /pools, refused as a pool name.
IMAGE_STORE_NAME = 'vpe-image-store'
# Pool types whose target is a directory of files; only these are listed as pools.
FILE_POOL_TYPES = ('dir', 'fs', 'netfs')
POOLS_KEY = 'pools'
IMAGE_KEY = 'image_pool'
SETTINGS_KEY = 'storage'
GIB = 1024 ** 3

# How long a read may reuse the pool listing with no pool event since (a
# safety net: an event lost with a dropped connection is covered by the
# reconnect, which forgets everything).
LISTING_MAX_AGE = 5.0

LivePool = namedtuple('LivePool', ['obj', 'name', 'uuid', 'path', 'type'])


# Capacity checks walk afresh (reads go through ctx.disk, which may keep totals).
used_bytes = disk_usage.used_bytes


def to_gb(num_bytes):
    return round(num_bytes / float(GIB), 2)


def parse_pool(xml):
    """{'type', 'name', 'uuid', 'path'} of a pool's XML (path None if it has none)."""
    root = xml_read.parse(xml)
    return {
        'type': root.get('type'),
        'name': root.findtext('name'),
        'uuid': root.findtext('uuid'),
        'path': root.findtext('target/path'),
    }


def pools_seen(ctx):
    """list_pools() for a read. A long-lived context keeps the listing until
    libvirt reports a pool event (Connection.changes), and at most
    LISTING_MAX_AGE; a change goes through list_pools() itself."""
    return ctx.conn.memo('pools', ctx.conn.changes('pools'), LISTING_MAX_AGE, lambda: list_pools(ctx))


def list_pools(ctx):
    """Every libvirt pool, persistent or not, in one listing plus one XMLDesc each."""
    found = []
    for obj in ctx.conn.get().listAllStoragePools(0):
        try:
            info = parse_pool(obj.XMLDesc(0))
        except Exception as exc:  # pylint: disable=broad-except
            if is_libvirt_error(exc, VIR_ERR_NO_STORAGE_POOL):
                continue  # undefined by someone else while we listed
            raise
        path = info['path']
        found.append(LivePool(obj, info['name'], info['uuid'], os.path.realpath(path) if path else None,
                              info['type']))
    return found


def image_store(pools):
    for pool in pools:
        if pool.name == IMAGE_STORE_NAME:
            return pool
    return None


def volume_pools(pools):
    """The pools /pools lists: file-based, not the image store."""
    return [p for p in pools if p.name != IMAGE_STORE_NAME and p.type in FILE_POOL_TYPES]
