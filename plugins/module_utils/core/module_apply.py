# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a module runs a change: one desired state or a list of them through a
service's apply, exiting with changed, the result and the diff."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput, VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_common import context_for, fail


def run_apply(module, service, result_key, desired, **kwargs):
    """Apply `desired` through `service` and exit with changed/diff/result,
    the Change's extra result keys, and its warnings."""
    ctx = context_for(module)
    try:
        change = ctx.run(service.apply, desired, check_mode=module.check_mode, **kwargs)
    except VpeError as exc:
        fail(module, exc)
    finally:
        ctx.close()
    for warning in change.warnings:
        module.warn(warning)
    result = dict(change.extra, changed=change.changed)
    result[result_key] = change.after
    if module._diff:
        result['diff'] = diff_of(change)
    module.exit_json(**result)


def diff_of(change, header=None):
    """The diff of one Change; `header` names the resource when a run has several."""
    diff = {'before': change.before, 'after': change.after}
    if header is not None:
        diff.update(before_header=header, after_header=header)
    return diff


def run_apply_list(module, service, list_key, items, key='name'):
    """Apply each of `items` in order through `service`, on one connection.

    Every item passes service.check_desired, and no two share a `key`, before
    the first is applied: bad input anywhere changes nothing. An item that
    fails later fails the run naming it, with what the items before it did.
    """
    try:
        check_items(service, list_key, items, key)
    except VpeError as exc:
        fail(module, exc)
    ctx = context_for(module)
    changes = []
    try:
        for index, desired in enumerate(items):
            try:
                change = ctx.run(service.apply, desired, check_mode=module.check_mode)
                changes.append(change)
                for warning in change.warnings:
                    module.warn(warning)
            except VpeError as exc:
                fail(module, item_error(exc, list_key, index, desired, key),
                     **_list_result(module, list_key, items, changes, key))
    finally:
        ctx.close()
    module.exit_json(**_list_result(module, list_key, items, changes, key))


def check_items(service, list_key, items, key):
    """Raise the first item's error (naming the item), or a repeated `key`."""
    first_index = {}
    for index, desired in enumerate(items):
        try:
            service.check_desired(desired)
        except VpeError as exc:
            raise item_error(exc, list_key, index, desired, key)
        name = desired[key]
        if name in first_index:
            raise item_error(InvalidInput('%s %s is already given by %s[%d]; each %s may appear once in %s'
                                          % (key, name, list_key, first_index[name], key, list_key), field=key),
                             list_key, index, desired, key)
        first_index[name] = index


def item_error(exc, list_key, index, desired, key):
    """The same error, its message and field prefixed with the item: pools[2] (fast): ..."""
    where = '%s[%d]' % (list_key, index)
    label = desired.get(key) if isinstance(desired, dict) else None
    prefix = '%s (%s)' % (where, label) if isinstance(label, str) else where
    field = '%s.%s' % (where, exc.field) if exc.field else where
    return type(exc)('%s: %s' % (prefix, exc.detail), field=field, **exc.extra)


def _list_result(module, list_key, items, changes, key):
    """changed/<list_key>/diff of the items applied so far (changes[i] is items[i])."""
    result = {'changed': any(c.changed for c in changes), list_key: [c.after for c in changes]}
    if module._diff:
        result['diff'] = [diff_of(change, items[index][key]) for index, change in enumerate(changes)]
    return result
