# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The changes of the pools service: create, update (name, max_gb), delete,
and the module's present/absent apply (pools.py is the read side)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import state_write
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import (
    pool_xml, storage, storage_apply, storage_paths)
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Change
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput, NotFound
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_conn import libvirt
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage.pools import RESOURCE, view


def _find(pools, uuid):
    for pool in storage.volume_pools(pools):
        if pool.uuid == uuid:
            return pool
    raise NotFound('no volume pool has uuid %s' % uuid, field='uuid')


def _by_name(pools, name):
    for pool in storage.volume_pools(pools):
        if pool.name == name:
            return pool
    return None


def _check_name_free(pools, name):
    if name == storage.IMAGE_STORE_NAME:
        raise Conflict('name %s is reserved for the image store; choose another name' % name, field='name')
    for pool in pools:
        if pool.name == name:
            raise Conflict('name %s is already used by libvirt pool %s; pool names must be unique'
                           % (name, pool.uuid), field='name')


def _save_meta(ctx, uuid, meta, live_uuids):
    """Write pool metadata (None drops it), pruning pools libvirt no longer has."""
    with state_write.transaction(ctx.store) as state:
        metas = state.setdefault(storage.POOLS_KEY, {})
        for stale in [u for u in metas if u not in live_uuids and u != uuid]:
            del metas[stale]
        if meta is None:
            metas.pop(uuid, None)
        else:
            metas[uuid] = meta


def create(ctx, desired, check_mode=False, listing=None):
    """POST /pools: define, build, start and autostart a dir pool.

    `listing`: list_pools() taken by a caller that holds the lock (apply).
    """
    wanted = fields.check_body(RESOURCE, desired, required=('name', 'path', 'max_gb'))
    with state_write.locked(ctx.store):
        state = ctx.store.read()
        pools = listing if listing is not None else storage.list_pools(ctx)
        _check_name_free(pools, wanted['name'])
        path = storage_paths.check_location('path', wanted['path'], storage_apply.extra_system_dirs(state))
        storage_paths.check_no_overlap('path', path, storage_apply.occupied(pools, state))
        if os.path.lexists(path) and not os.path.isdir(path):
            raise InvalidInput('path %s exists and is not a directory' % path, field='path')
        used = storage.used_bytes(path)
        storage_apply.check_capacity(wanted['max_gb'], used, path)
        after = {'name': wanted['name'], 'uuid': None, 'path': path, 'max_gb': wanted['max_gb'],
                 'used_gb': storage.to_gb(used), 'created_at': None}
        if check_mode:
            return Change(True, {}, after)
        with storage_apply.Rollback() as undo:
            storage_apply.make_dirs(path, undo)
            pool = storage_apply.define_and_start(ctx, pool_xml.dir_pool_xml(wanted['name'], path), undo)
            after['uuid'] = pool.UUIDString()
            after['created_at'] = storage_apply.now()
            _save_meta(ctx, after['uuid'], {'max_gb': wanted['max_gb'], 'created_at': after['created_at']},
                       set(p.uuid for p in pools) | set([after['uuid']]))
        return Change(True, {}, after)


def update(ctx, uuid, desired, check_mode=False, listing=None):
    """PUT /pools/{uuid}: name and max_gb only.

    `listing`: list_pools() taken by a caller that holds the lock (apply).
    """
    if isinstance(desired, dict) and 'path' in desired:
        raise InvalidInput('path cannot be changed: a pool is never moved; create a new pool at the new path',
                           field='path')
    wanted = fields.check_body(RESOURCE, desired, forbidden=('path',))
    with state_write.locked(ctx.store):
        state = ctx.store.read()
        pools = listing if listing is not None else storage.list_pools(ctx)
        live = _find(pools, uuid)
        meta = state.get(storage.POOLS_KEY, {}).get(uuid)
        before = view(ctx, live, meta)
        after = dict(before)
        new_name = wanted.get('name', live.name)
        if new_name != live.name:
            _check_name_free(pools, new_name)
            if not os.path.isdir(live.path):
                # libvirt cannot start a dir pool without its directory, so the
                # redefine would fail half-way: refuse before touching anything.
                raise Conflict('pool %s cannot be renamed: its directory %s is missing (removed outside us?); '
                               'recreate the directory or delete the pool' % (live.name, live.path), field='path')
            users = storage_apply.domains_using(ctx, None, live.name)
            if users:
                raise Conflict('pool %s cannot be renamed while domain(s) %s refer to it by name'
                               % (live.name, ', '.join(users)), field='name', domains=users)
            after['name'] = new_name
        if 'max_gb' in wanted and wanted['max_gb'] != before['max_gb']:
            storage_apply.check_capacity(wanted['max_gb'], storage.used_bytes(live.path), live.path)
            after['max_gb'] = wanted['max_gb']
        changed = after != before
        if check_mode or not changed:
            return Change(changed, before, after)
        with storage_apply.Rollback() as undo:
            if new_name != live.name:
                _rename(ctx, live.obj, new_name, undo)
            new_meta = dict(meta or {}, max_gb=after['max_gb'])
            new_meta.setdefault('created_at', None)
            _save_meta(ctx, uuid, new_meta, set(p.uuid for p in pools))
        return Change(True, before, after)


def _rename(ctx, pool, new_name, undo):
    """libvirt cannot rename a pool: undefine it and define it again, same uuid and path."""
    xml = pool_xml.renamed(pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE), new_name)
    was_active = pool.isActive()
    autostart = pool.autostart()
    storage_apply.stop_and_undefine(ctx, pool, undo)
    new = ctx.conn.get().storagePoolDefineXML(xml, 0)
    undo.push('undefine pool %s' % new_name, new.undefine)
    if autostart:
        new.setAutostart(1)
    if was_active:
        storage_apply.start(new, undo)
    return new


def delete(ctx, uuid, check_mode=False, listing=None):
    """DELETE /pools/{uuid}: stop and undefine; refused while a domain uses a volume."""
    with state_write.locked(ctx.store):
        pools = listing if listing is not None else storage.list_pools(ctx)
        live = _find(pools, uuid)
        before = view(ctx, live, ctx.store.read().get(storage.POOLS_KEY, {}).get(uuid))
        users = storage_apply.domains_using(ctx, live.path, live.name)
        if users:
            raise Conflict('pool %s is in use: a volume of it is a disk of domain(s) %s; detach them first'
                           % (live.name, ', '.join(users)), field='uuid', domains=users)
        if check_mode:
            return Change(True, before, {})
        with storage_apply.Rollback() as undo:
            storage_apply.stop_and_undefine(ctx, live.obj, undo)
            _save_meta(ctx, uuid, None, set(p.uuid for p in pools))
        return Change(True, before, {})


def check_desired(desired):
    """apply's checks that need no libvirt; returns (state, the fields apply uses).

    A list of pools is checked with it before any item is applied, so bad
    input anywhere in the list changes nothing. An absent pool needs its name
    only, as in apply.
    """
    body = dict(desired)
    state = body.pop('state', None) or 'present'
    if state not in ('present', 'absent'):
        raise InvalidInput('state must be present or absent, got %r' % (state,), field='state')
    name = body.get('name')
    if name is None:
        raise InvalidInput('name is required', field='name')
    fields.check_field(RESOURCE, 'name', name)
    if state == 'absent':
        return state, {'name': name}
    return state, fields.check_body(RESOURCE, body)


def apply(ctx, desired, check_mode=False):
    """The module's view: make pool `name` present (with path, max_gb) or absent."""
    state, clean = check_desired(desired)
    name = clean['name']
    with state_write.locked(ctx.store):
        listing = storage.list_pools(ctx)  # one listing for the whole call: we hold the lock
        live = _by_name(listing, name)
        if state == 'absent':
            if live is None:
                return Change(False, {}, {})
            return delete(ctx, live.uuid, check_mode=check_mode, listing=listing)
        if live is None:
            return create(ctx, clean, check_mode=check_mode, listing=listing)
        if 'path' in clean:
            path = storage_paths.resolve('path', clean['path'])
            if path != live.path:
                raise InvalidInput('path of pool %s is %s and cannot change to %s: a pool is never moved; '
                                   'create a new pool there instead' % (name, live.path, path), field='path')
        return update(ctx, live.uuid, {'max_gb': clean['max_gb']} if 'max_gb' in clean else {},
                      check_mode=check_mode, listing=listing)
