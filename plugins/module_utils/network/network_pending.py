# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A network change that waits for confirmation: its record in state_dir.

network_confirm arms and confirms it, network_revert undoes it; both go
through here. The record, `network-pending.json` (JSON, written atomically),
holds the change's id, deadline and status (`pending`, `confirmed`,
`reverted`) and, while pending, everything the revert restores: the live
state before, the persistence files' old contents, the nmcli profiles and the
libvirt network's old definition.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import atomic_file
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError

PENDING_FILE = 'network-pending.json'
BUNDLE_DIR = 'network-revert'   # the code the watchdog runs, copied here (the module's own copy is deleted)
# where root keeps that copy when the state directory is another user's (the shim's): root must never run
# code from a directory whose owner can swap it
ROOT_BUNDLE_DIR = '/var/lib/vpe-network-revert'
RECORD_MODE = 0o640
BOOT_ID = '/proc/sys/kernel/random/boot_id'
PUBLIC = ('id', 'status', 'timeout', 'before', 'after', 'actions', 'watchdog', 'revert_errors', 'revert_reason')


def path(state_dir):
    return os.path.join(state_dir, PENDING_FILE)


def bundle_dir(state_dir):
    """Where the watchdog's code is copied: state_dir/network-revert, unless we are root and the state
    directory belongs to another user."""
    try:
        owner = os.stat(state_dir).st_uid
    except OSError:
        owner = os.geteuid()
    if os.geteuid() == 0 and owner != 0:
        return ROOT_BUNDLE_DIR
    return os.path.join(state_dir, BUNDLE_DIR)


def load(state_dir):
    """The record, or None when no change was ever armed."""
    try:
        with open(path(state_dir)) as handle:
            doc = json.load(handle)
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise VpeError('cannot read %s: %s' % (path(state_dir), exc.strerror))
    except ValueError as exc:
        raise VpeError('%s is not valid JSON (%s); remove it to drop the pending network change'
                       % (path(state_dir), exc))
    return doc if isinstance(doc, dict) else None


def save(state_dir, doc):
    """Write the record atomically (temp file, fsync, rename): a watchdog never reads half of it.

    0640: in the api_shim role's state directory (setgid, the shim's group) a
    record root writes (vpe_network with become) stays readable by the shim."""
    try:
        if not os.path.isdir(state_dir):
            os.makedirs(state_dir, 0o750)
        atomic_file.write(path(state_dir), json.dumps(doc, sort_keys=True), RECORD_MODE, prefix='.network-pending.',
                          suffix='.tmp')
    except (IOError, OSError) as exc:
        raise VpeError('cannot write %s: %s' % (path(state_dir), exc.strerror or exc), field='state_dir')


def host_time(epoch):
    """The spec's time format, host local time."""
    return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(epoch)) if epoch else None


def view(doc, now=None):
    """The part of a record users see (GET, the module's `pending`, confirm answers)."""
    now = time.time() if now is None else now
    out = dict((k, doc[k]) for k in PUBLIC if k in doc)
    out['created'] = host_time(doc.get('created'))
    out['deadline'] = host_time(doc.get('deadline'))
    out['expires_in'] = max(0, int(round(doc.get('deadline', now) - now))) if doc.get('status') == 'pending' else 0
    for key in ('confirmed_at', 'reverted_at'):
        if doc.get(key):
            out[key] = host_time(doc[key])
    return out


def boot_id():
    """This boot's id (a record armed in another boot lost its watchdog with that boot); None if unknown."""
    try:
        with open(BOOT_ID) as handle:
            return handle.read().strip() or None
    except (IOError, OSError):
        return None


def armed_in_another_boot(doc):
    """True when the host restarted since the record was armed (its watchdog died with that boot)."""
    now = boot_id()
    return bool(doc.get('boot_id') and now and doc['boot_id'] != now)


def pending(state_dir):
    """The record while a change waits for confirmation, else None."""
    doc = load(state_dir)
    return doc if doc is not None and doc.get('status') == 'pending' else None
