# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""quota.apply: set the limits, never below what the domains already hold,
and install or remove the libvirt hook that enforces them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import state_write
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_hook, quota_hook_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota.allocation import allocated, host_size
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Change
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota.quota import STATE_KEY, RESOURCE, effective, read


def apply(ctx, desired, check_mode=False, force=False, hooks_dir=quota_hook.HOOKS_DIR, hook_settings=None):
    """Set the given fields (partial update); refuse to go below the allocation."""
    return apply_with_hook(ctx, desired, check_mode, force, hooks_dir, hook_settings)[0]


def apply_with_hook(ctx, desired, check_mode=False, force=False, hooks_dir=quota_hook.HOOKS_DIR, hook_settings=None):
    """apply, and what happened to the hook: (Change, {hook_action, hook_path,
    libvirtd_restart_needed}). hook_action is installed, updated, removed or
    None; libvirtd must restart before it runs a hook it did not see start
    (it looks for hooks only then).

    The hook follows `enforce` (installed, kept current, or removed) before the
    state file is written, so a hook that cannot be written changes nothing.
    `hook_settings` adds to what the hook is installed with (tests use
    name_prefix to keep to their own domains on a shared libvirtd).
    """
    wanted = fields.check_body(RESOURCE, desired)
    with state_write.locked(ctx.store):
        stored = ctx.store.read().get(STATE_KEY, {})
        before = read(ctx, hooks_dir)
        host = host_size(ctx)
        after = dict(effective(stored, host), **wanted)
        if not force:
            _check_allocation(ctx, before, after)
        enforce = after['enforce']
        settings = dict(hook_settings or {}, host_cpus=host['cpus'], host_memory_mb=host['memory_mb'])
        action, path = quota_hook_apply.ensure(ctx.store.state_dir, enforce, _libvirt_version(ctx, enforce),
                                               check_mode, hooks_dir, settings)
        needs_write = any(stored.get(k) != v for k, v in wanted.items())
        if needs_write and not check_mode:
            with state_write.transaction(ctx.store) as state:
                state.setdefault(STATE_KEY, {}).update(wanted)
        if check_mode:
            after['enforced'] = before['enforced'] and enforce != 'off' and action != 'installed'
        else:
            after['enforced'] = quota_hook.enforced(ctx.store.state_dir, enforce, hooks_dir)
        hook = {'hook_action': action, 'hook_path': path if enforce != 'off' else None,
                'libvirtd_restart_needed': enforce != 'off' and (action == 'installed' or not after['enforced'])}
        return Change(before != after or action is not None, before, after), hook


def _libvirt_version(ctx, enforce):
    # Only an install needs it (drop-in directory or single hook).
    return ctx.conn.get().getLibVersion() if enforce != 'off' else 0


def _check_allocation(ctx, before, after):
    alloc = allocated(ctx, fresh=True)
    lowered = [(name, used) for name, used in (('cpu_max', alloc['cpu_used']),
                                               ('memory_max_mb', alloc['memory_used_mb']))
               if after[name] != before[name] and after[name] < used]
    if not lowered:
        return
    name, used = lowered[0]
    unit = 'vCPUs' if name == 'cpu_max' else 'MiB'
    raise Conflict(
        '%s %d is below the %d %s already allocated to the %d domain(s) defined; free them first or use force'
        % (name, after[name], used, unit, alloc['instances']),
        field=name, allocated={'cpu_used': alloc['cpu_used'], 'memory_used_mb': alloc['memory_used_mb'],
                               'instances': alloc['instances']})
