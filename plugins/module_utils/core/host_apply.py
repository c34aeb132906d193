# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vpe_host: a host's quota, image store, volume pools and VM bridge in one
module run, on one libvirt connection, through the same services as the
single modules.

Every section's input is checked before the first is applied, so bad input
anywhere changes nothing. They are applied in ORDER; the bridge comes last,
so a commit-confirmed bridge change is the last thing the run does and its
confirmation follows it straight away.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_apply import check_items, diff_of, item_error
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_apply, network_confirm
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import image_pool_apply, pools_apply

ORDER = ('quota', 'image_pool', 'pools', 'network')
QUOTA_FIELDS = ('cpu_max', 'memory_max_mb', 'enforce')
IMAGE_POOL_FIELDS = ('path', 'max_gb')
NETWORK_FIELDS = ('bridge', 'bridge_interface')


def _pick(section, names):
    return dict((name, section.get(name)) for name in names)


def section_error(exc, section):
    """The same error, its field prefixed with the section: quota.cpu_max."""
    field = '%s.%s' % (section, exc.field) if exc.field else section
    return type(exc)('%s: %s' % (section, exc.detail), field=field, **exc.extra)


def check(sections):
    """Raise the first input error of any section (nothing has run yet)."""
    for name in ORDER:
        section = sections.get(name)
        if section is None:
            continue
        if name == 'pools':
            check_items(pools_apply, 'pools', section, 'name')
            continue
        try:
            if name == 'quota':
                fields.check_body('quota', _pick(section, QUOTA_FIELDS))
            elif name == 'image_pool':
                fields.check_body('image-pool', _pick(section, IMAGE_POOL_FIELDS))
            else:
                fields.check_body('network', _pick(section, NETWORK_FIELDS))
                network_confirm.check_timeout(section.get('confirm_timeout') or 0)
        except VpeError as exc:
            raise section_error(exc, name)


class Run(object):
    """What the sections applied so far did: the module's result and diff."""

    def __init__(self, diff):
        self.want_diff = diff
        self.result = {'changed': False, 'changed_sections': []}
        self.diff = []
        self.warnings = []

    def add(self, name, change, header=None):
        """Take one Change in; `header` names a list item in the diff."""
        if change.changed:
            self.result['changed'] = True
            if name not in self.result['changed_sections']:
                self.result['changed_sections'].append(name)
        self.warnings.extend(change.warnings)
        if self.want_diff:
            self.diff.append(diff_of(change, header or name))

    def done(self):
        if self.want_diff:
            self.result['diff'] = self.diff
        return self.result


def apply(ctx, sections, run, check_mode=False):
    """Apply the given sections in ORDER into `run` (a Run). A failing
    section raises its error with the field prefixed by the section; what
    the sections before it did stays done and is in `run`."""
    for name in ORDER:
        section = sections.get(name)
        if section is None:
            continue
        if name == 'pools':
            _apply_pools(ctx, section, run, check_mode)
            continue
        try:
            if name == 'quota':
                change, hook = ctx.run(quota_apply.apply_with_hook, _pick(section, QUOTA_FIELDS),
                                       check_mode=check_mode, force=bool(section.get('force')))
                run.result.update(quota=change.after, libvirtd_restart_needed=hook['libvirtd_restart_needed'],
                                  hook_path=hook['hook_path'])
            elif name == 'image_pool':
                change = ctx.run(image_pool_apply.apply, _pick(section, IMAGE_POOL_FIELDS), check_mode=check_mode,
                                 create=bool(section.get('create')))
                run.result['image_pool'] = change.after
            else:
                change = ctx.run(network_apply.apply, _pick(section, NETWORK_FIELDS), check_mode=check_mode,
                                 force=bool(section.get('force')), persist_method=section.get('persist'),
                                 persist_root=section.get('persist_root'),
                                 libvirt_network=section.get('libvirt_network'),
                                 confirm_timeout=section.get('confirm_timeout') or 0)
                run.result['network'] = change.after
                run.result.update(change.extra)
        except VpeError as exc:
            raise section_error(exc, name)
        run.add(name, change)


def _apply_pools(ctx, items, run, check_mode):
    run.result['pools'] = []
    for index, desired in enumerate(items):
        try:
            change = ctx.run(pools_apply.apply, desired, check_mode=check_mode)
        except VpeError as exc:
            raise item_error(exc, 'pools', index, desired, 'name')
        run.result['pools'].append(change.after)
        run.add('pools', change, header='pools[%d] %s' % (index, desired['name']))
