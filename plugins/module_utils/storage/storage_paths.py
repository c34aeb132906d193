# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a pool or the image store may live.

A path is resolved with os.path.realpath before any check, so `..` segments
and symlinks are judged by where they really lead. Then it must not be `/`,
must not be in a system tree, and must not be equal to, inside or around the
path of another pool or of the image store.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput

# Trees no pool may be in. An entry ending in '*' matches every top-level
# directory starting with the rest (/lib, /lib32, /lib64, /libx32). Operators
# extend the list with "storage": {"extra_system_dirs": [...]} in the state file.
SYSTEM_TREES = ('/bin', '/boot', '/dev', '/etc', '/lib*', '/proc', '/run', '/sbin', '/sys', '/usr')


def resolve(field, value):
    """The real absolute path of `value` (symlinks followed, `..` collapsed)."""
    if not isinstance(value, str) or not value.startswith('/'):
        raise InvalidInput('%s must be an absolute path, got %r' % (field, value), field=field)
    return os.path.realpath(value)


def inside(path, tree):
    """True when `path` is `tree` or below it (both resolved)."""
    if tree == '/':
        return True
    return path == tree or path.startswith(tree.rstrip('/') + '/')


def system_tree_of(path, extra=()):
    """The system tree `path` is in, or None."""
    top = '/' + path.lstrip('/').split('/', 1)[0]
    for tree in tuple(SYSTEM_TREES) + tuple(extra or ()):
        if tree.endswith('*'):
            if top.startswith(tree[:-1]):
                return top
            continue
        real = os.path.realpath(tree)
        for candidate in (tree, real):
            if inside(path, candidate):
                return candidate
    return None


def check_location(field, value, extra_system=()):
    """Resolve `value`; refuse `/` and system trees. Returns the resolved path."""
    path = resolve(field, value)
    shown = value if path == value else '%s (resolves to %s)' % (value, path)
    if path == '/':
        raise InvalidInput('%s %s is the root directory; a pool needs a directory of its own' % (field, shown),
                           field=field)
    tree = system_tree_of(path, extra_system)
    if tree is not None:
        raise InvalidInput('%s %s is in the system directory %s; choose a path outside %s'
                           % (field, shown, tree, ', '.join(tuple(SYSTEM_TREES) + tuple(extra_system or ()))),
                           field=field)
    return path


def check_no_overlap(field, path, others):
    """Refuse `path` if it equals, is inside or contains one of `others`.

    `others` is a list of (label, resolved path), e.g. ('pool "p1"', '/srv/p1').
    """
    for label, other in others:
        if not other:
            continue
        if path == other:
            relation = 'is the path of'
        elif inside(path, other):
            relation = 'is inside %s, the path of' % other
        elif inside(other, path):
            relation = 'contains %s, the path of' % other
        else:
            continue
        raise Conflict('%s %s %s %s; storage paths must not overlap' % (field, path, relation, label),
                       field=field)


def check_existing_dir(field, value, path):
    if not os.path.isdir(path):
        what = 'does not exist' if not os.path.lexists(path) else 'is not a directory'
        raise InvalidInput('%s %s %s; it must be an existing directory' % (field, value, what), field=field)
