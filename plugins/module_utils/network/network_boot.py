# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot-time revert of a network change still unconfirmed when the host restarts.

A transient systemd timer dies with a reboot, so while a change waits (on a
host where systemd is PID 1) two enabled oneshot units in /etc/systemd/system
stand by: `vpe-net-revert-boot-files` puts the persistence files back before
the network stack starts (so the host boots with its old configuration), and
`vpe-net-revert-boot` reverts the rest (libvirt, the live state, the record)
once libvirtd is up. Both run network_revert from the copied code
(network_pending.bundle_dir); both are removed once the change is confirmed
or reverted, and they do nothing for a record that is no longer pending.

The api_shim role installs a static pair instead (`vpe-net-boot-revert-files`,
`vpe-net-boot-revert`: root's, always enabled, running the installed code,
idle unless a change armed before the boot is pending), because the shim it
runs as a service user can write neither /etc/systemd/system nor code root
may run. Where they cover the state directory, no per-change units are
written.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_pending as pending
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError

WATCHDOG_MODULE = 'ansible_collections.vpe.hypervisor.plugins.module_utils.network.network_revert'
UNIT_PREFIX = 'vpe-net-revert'
SYSTEMD_DIR = '/etc/systemd/system'
WANTS_DIR = 'multi-user.target.wants'
UNITS = (('boot-files', 'files'), ('boot', 'all'))   # (name suffix, revert phase)


STATIC_UNIT = 'vpe-net-boot-revert.service'   # the api_shim role's (roles/api_shim/templates/vpe-net-boot-revert.service.j2)


def static_units_cover(state_dir, systemd_dir=SYSTEMD_DIR):
    """True when the api_shim role's boot units are installed and enabled for `state_dir`."""
    try:
        with open(os.path.join(systemd_dir, STATIC_UNIT)) as handle:
            text = handle.read()
    except (IOError, OSError):
        return False
    return (os.path.exists(os.path.join(systemd_dir, WANTS_DIR, STATIC_UNIT))
            and ('--state-dir %s ' % state_dir) in text)


def watchdog_argv(state_dir, change_id, *extra):
    """The command that runs network_revert (with PYTHONPATH at the copied code)."""
    return [sys.executable or '/usr/bin/python3', '-s', '-m', WATCHDOG_MODULE,
            '--state-dir', state_dir, '--id', change_id] + list(extra)


def unit_text(state_dir, bundle, change_id, phase, persist_root='/'):
    argv = watchdog_argv(state_dir, change_id, '--phase', phase, '--reason', 'reboot', '--persist-root', persist_root)
    if phase == 'files':
        order = ('DefaultDependencies=no\nAfter=local-fs.target\nWants=network-pre.target\n'
                 'Before=network-pre.target systemd-networkd.service networking.service NetworkManager.service\n'
                 'Before=shutdown.target\nConflicts=shutdown.target\n')
        what = 'the network files'
    else:
        order = 'After=network.target libvirtd.service virtnetworkd.service\n'
        what = 'the live network and libvirt'
    return ('# Written by vpe.hypervisor: removed once network change %s is confirmed or reverted.\n'
            '[Unit]\nDescription=vpe.hypervisor: revert %s of unconfirmed network change %s\n%s'
            'ConditionPathExists=%s\n\n[Service]\nType=oneshot\nEnvironment=PYTHONPATH=%s\nExecStart=%s\n\n'
            '[Install]\nWantedBy=multi-user.target\n'
            % (change_id, what, change_id, order, pending.path(state_dir), bundle, ' '.join(argv)))


def unit_paths(systemd_dir=SYSTEMD_DIR):
    """Every path install_units writes: each unit, then its wants link."""
    paths = []
    for suffix, _phase in UNITS:
        name = '%s-%s.service' % (UNIT_PREFIX, suffix)
        paths += [os.path.join(systemd_dir, name), os.path.join(systemd_dir, WANTS_DIR, name)]
    return paths


def install_units(state_dir, bundle, change_id, systemd_dir=SYSTEMD_DIR, persist_root='/'):
    """Write and enable both units (wants links, as `systemctl enable` makes); the paths written."""
    written = []
    try:
        wants = os.path.join(systemd_dir, WANTS_DIR)
        if not os.path.isdir(wants):
            os.makedirs(wants, 0o755)
        for suffix, phase in UNITS:
            name = '%s-%s.service' % (UNIT_PREFIX, suffix)
            path = os.path.join(systemd_dir, name)
            with open(path, 'w') as handle:
                handle.write(unit_text(state_dir, bundle, change_id, phase, persist_root))
            written.append(path)
            link = os.path.join(wants, name)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(path, link)
            written.append(link)
    except (IOError, OSError) as exc:
        for path in written:
            if os.path.lexists(path):
                os.unlink(path)
        raise VpeError('cannot install the boot-time revert units in %s: %s; nothing was changed'
                       % (systemd_dir, exc))
    return written


def remove_units(record):
    """Remove the units a record lists; the errors met."""
    errors = []
    for path in (record or {}).get('boot_units') or []:
        try:
            if os.path.lexists(path):
                os.unlink(path)
        except OSError as exc:
            errors.append('remove %s: %s' % (path, exc))
    return errors
