# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the pool and image store changes share: the paths already taken, the
domains using a pool, the steps that define, start, stop and undefine a dir
pool, and a rollback that undoes a half-done call.

Nothing here deletes a file: no pool.delete(), no volume deletes. The only
directories ever removed are empty ones the same call created, on rollback.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import pool_xml, storage_paths
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_conn import libvirt
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage.storage import (
    GIB, IMAGE_STORE_NAME, SETTINGS_KEY, to_gb)

NEW_DIR_MODE = 0o755


def now():
    """Host local time in the spec's format."""
    return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime())


def extra_system_dirs(state):
    """The operator's additions to storage_paths.SYSTEM_TREES, from the state file."""
    extra = state.get(SETTINGS_KEY, {}).get('extra_system_dirs') or []
    return tuple(d for d in extra if isinstance(d, str) and d.startswith('/'))


def check_capacity(max_gb, used, path):
    """Refuse a limit below what `path` already holds (`used` bytes)."""
    if max_gb * GIB < used:
        raise Conflict('max_gb %d is below used_gb %.2f, the bytes already on disk in %s; free space first'
                       % (max_gb, to_gb(used), path), field='max_gb', used_gb=to_gb(used))


def occupied(pools, state, skip_uuid=None):
    """(label, path) of every storage path a new path must not overlap."""
    taken = []
    for pool in pools:
        if pool.uuid == skip_uuid or not pool.path:
            continue
        label = 'the image store' if pool.name == IMAGE_STORE_NAME else 'pool "%s"' % pool.name
        taken.append((label, pool.path))
    return taken


def domains_using(ctx, path, name):
    """Names of defined domains with a disk under `path` (None: skip) or on pool `name`.

    Reads each domain's live XML and, for a running persistent domain, its
    saved configuration too (a disk may be in one and not the other).
    """
    users = set()
    for dom in ctx.conn.get().listAllDomains(0):
        try:
            xmls = [dom.XMLDesc(0)]
            if dom.isPersistent() and dom.isActive():
                xmls.append(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue  # gone while we listed: it uses nothing any more
            raise
        for xml in xmls:
            paths, pools = pool_xml.disk_sources(xml)
            if name in pools or (path and any(storage_paths.inside(os.path.realpath(p), path) for p in paths)):
                users.add(dom.name())
    return sorted(users)


# -- steps, each pushing its own undo ----------------------------------------

class Rollback(object):
    """Undo steps of one call, run newest first when the call fails."""

    def __init__(self):
        self._steps = []

    def push(self, what, fn, *args):
        self._steps.append((what, fn, args))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, _tb):
        if exc_type is None:
            return False
        failed = []
        for what, fn, args in reversed(self._steps):
            try:
                fn(*args)
            except Exception as undo_exc:  # keep undoing the rest; report every step that failed
                failed.append('%s: %s' % (what, undo_exc))
        detail = getattr(exc, 'detail', None) or str(exc)
        if failed:
            raise VpeError('%s; rolling back also failed (%s): check the host by hand'
                           % (detail, '; '.join(failed)))
        if isinstance(exc, EnvironmentError):
            # e.g. the state file cannot be written: say so, and that nothing changed
            raise VpeError('%s; everything this call did was rolled back' % detail)
        return False


def make_dirs(path, undo):
    """mkdir -p `path`; undo removes the directories it made (only if still empty)."""
    missing = []
    cur = path
    while not os.path.lexists(cur):
        missing.append(cur)
        cur = os.path.dirname(cur)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, NEW_DIR_MODE)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise VpeError('cannot create %s: %s' % (directory, exc.strerror), field='path')
        undo.push('remove the empty directory %s' % directory, _rmdir_if_empty, directory)


def _rmdir_if_empty(directory):
    try:
        os.rmdir(directory)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
            raise


def define_and_start(ctx, xml, undo):
    """Define, build, start and autostart a dir pool; undo stops and undefines it."""
    pool = ctx.conn.get().storagePoolDefineXML(xml, 0)
    undo.push('undefine pool %s' % pool.name(), pool.undefine)
    pool.build(0)  # a dir pool: mkdir if missing, never touches files in it
    start(pool, undo)
    pool.setAutostart(1)
    return pool


def start(pool, undo):
    pool.create(0)
    undo.push('stop pool %s' % pool.name(), pool.destroy)


def stop_and_undefine(ctx, pool, undo):
    """Stop (if active) and undefine `pool`; undo defines it again as it was.

    destroy() of a dir pool only marks it inactive; undefine() drops the
    definition. Neither touches the directory or its files.
    """
    saved_xml = pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE)
    was_active = pool.isActive()
    autostart = pool.autostart()
    if was_active:
        pool.destroy()
    try:
        pool.undefine()
    except Exception:
        if was_active:
            pool.create(0)
        raise
    undo.push('define pool %s again' % pool.name(), _redefine, ctx, saved_xml, was_active, autostart)


def _redefine(ctx, xml, active, autostart):
    pool = ctx.conn.get().storagePoolDefineXML(xml, 0)
    if autostart:
        pool.setAutostart(1)
    if active and not pool.isActive():
        pool.create(0)
