# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""image_pool.apply: set the image store's path or limit; a new path
re-points the reserved pool and moves no file."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import state_write
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import (
    pool_xml, storage, storage_apply, storage_paths)
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Change
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage.image_pool import RESOURCE, view


def apply(ctx, desired, check_mode=False, create=False):
    """Set path, max_gb or both (partial update).

    create=True makes a missing path (mode 0755, parents too) instead of
    refusing it, as pools do; the module offers it, the REST API does not.
    """
    wanted = fields.check_body(RESOURCE, desired)
    with state_write.locked(ctx.store):
        state = ctx.store.read()
        stored = state.get(storage.IMAGE_KEY, {})
        pools = storage.list_pools(ctx)
        live = storage.image_store(pools)
        before = view(ctx, live, stored)
        after = dict(before)
        make_dir = False
        if 'path' in wanted:
            path = storage_paths.check_location('path', wanted['path'], storage_apply.extra_system_dirs(state))
            make_dir = create and not os.path.lexists(path)
            if not make_dir:
                storage_paths.check_existing_dir('path', wanted['path'], path)
            storage_paths.check_no_overlap('path', path, storage_apply.occupied(
                pools, state, skip_uuid=live.uuid if live is not None else None))
            after['path'] = path
        if 'max_gb' in wanted:
            after['max_gb'] = wanted['max_gb']
        moved = after['path'] != before['path']
        check = after['max_gb'] is not None and (after['max_gb'] != before['max_gb'] or moved)
        if moved or check:  # one walk serves both
            used = storage.used_bytes(after['path']) if after['path'] else 0
            if moved:
                after['used_gb'] = storage.to_gb(used)
            if check:
                storage_apply.check_capacity(after['max_gb'], used, after['path'])
        # a missing directory is a change even where the path stays the same
        changed = after != before or make_dir
        record = dict(stored)
        record.update((k, after[k]) for k in ('path', 'max_gb') if after[k] is not None)
        if check_mode or (not changed and record == stored):
            return Change(changed, before, after)
        with storage_apply.Rollback() as undo:
            if make_dir:
                storage_apply.make_dirs(after['path'], undo)
            if after['path'] != before['path']:
                _repoint(ctx, live, after['path'], undo)
            with state_write.transaction(ctx.store) as doc:
                doc[storage.IMAGE_KEY] = record
        return Change(changed, before, after)


def _repoint(ctx, live, path, undo):
    """Define the reserved pool at `path`, replacing (same uuid) the one there was."""
    uuid = None
    if live is not None:
        uuid = live.uuid
        storage_apply.stop_and_undefine(ctx, live.obj, undo)
    storage_apply.define_and_start(ctx, pool_xml.dir_pool_xml(storage.IMAGE_STORE_NAME, path, uuid), undo)
