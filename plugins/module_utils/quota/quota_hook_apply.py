# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install, update and remove the quota hook (quota_hook_program) for libvirtd.

It goes to HOOKS_DIR/qemu.d/vpe-quota where libvirt runs every file of
qemu.d (since 6.5.0), else to HOOKS_DIR/qemu, which must then not be someone
else's hook. Writes are atomic (temp file, fsync, rename).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os

from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_hook_program
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import atomic_file
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota.quota_hook import (
    HOOKS_DIR, MARKER, SETTINGS_PREFIX, dropin_path, installed, settings_of, single_path)

DROPIN_SINCE = 6005000  # libvirt 6.5.0 runs every executable file of hooks/qemu.d
SHEBANG = '#!/usr/bin/python3 -IS'  # -I: no environment, no user site; -S: starts faster
PROGRAM_SETTINGS_LINE = 'SETTINGS = {}  # filled in when installed'


def program_text(settings):
    """The hook file: shebang, marker, the program with `settings` filled in."""
    source = _program_source()
    if source.count(PROGRAM_SETTINGS_LINE) != 1:
        raise VpeError('the quota hook program has no single settings line to fill in')
    filled = '%s%r  # as installed' % (SETTINGS_PREFIX, dict(sorted(settings.items())))
    return '%s\n%s\n# Written by vpe.hypervisor (vpe_quota, PUT /hypervisor/quota); changes here are overwritten.\n%s' % (
        SHEBANG, MARKER, source.replace(PROGRAM_SETTINGS_LINE, filled))


def _program_source():
    # Through the module's loader, so this works from an Ansible module's zip too.
    loader = getattr(quota_hook_program, '__loader__', None)
    source = loader.get_source(quota_hook_program.__name__) if loader is not None else None
    if isinstance(source, bytes):  # Ansible's collection loader hands out bytes
        source = source.decode('utf-8')
    if not source:
        with open(quota_hook_program.__file__) as handle:
            source = handle.read()
    return source


def target_path(libvirt_version, hooks_dir=HOOKS_DIR):
    """Where to put the hook for a libvirt of this version (getLibVersion())."""
    if libvirt_version >= DROPIN_SINCE:
        return dropin_path(hooks_dir)
    path = single_path(hooks_dir)
    if os.path.exists(path) and settings_of(path) is None:
        raise Conflict('%s exists and is not the vpe quota hook; this libvirt (older than 6.5.0) runs only that one '
                       'qemu hook: merge it by hand or remove it first' % path, field='enforce')
    return path


def ensure(state_dir, enforce, libvirt_version, check_mode=False, hooks_dir=HOOKS_DIR, extra_settings=None):
    """Make the hook match `enforce`; return (action, path).

    action is 'installed' (no hook of ours before: libvirtd must restart to
    run it), 'updated', 'removed' or None (nothing to do).
    """
    current, _settings = installed(hooks_dir)
    if enforce == 'off':
        if current is None:
            return None, None
        if not check_mode:
            _remove(current)
        return 'removed', current
    path = target_path(libvirt_version, hooks_dir)
    settings = dict(extra_settings or {}, state_dir=os.path.abspath(state_dir))
    text = program_text(settings)
    if current == path and _read(path) == text:
        return None, path
    action = 'updated' if current == path else 'installed'
    if not check_mode:
        _write(path, text, keep_times_of=path if action == 'updated' else None)
        if current is not None and current != path:
            _remove(current)  # libvirt was upgraded: the drop-in takes over
    return action, path


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def _write(path, text, keep_times_of=None):
    try:
        times = None
        if keep_times_of is not None:
            # libvirtd already runs this hook: keep its time, so quota_hook.loaded
            # does not take a new version of the program for a hook not yet seen.
            stat = os.stat(keep_times_of)
            times = (stat.st_atime, stat.st_mtime)
        atomic_file.write(path, text, 0o755, prefix='.vpe-quota.', suffix='.tmp', times=times, make_dir=True,
                          sync_dir=True)
    except (IOError, OSError) as exc:
        raise VpeError('cannot write the quota hook %s: %s; the quota was not changed' % (path, exc.strerror or exc),
                       field='enforce')


def _remove(path):
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise VpeError('cannot remove the quota hook %s: %s; the quota was not changed'
                           % (path, exc.strerror or exc), field='enforce')
        return
    atomic_file.fsync_dir(os.path.dirname(path))
