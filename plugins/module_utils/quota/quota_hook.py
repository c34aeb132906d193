# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the quota hook lives and whether libvirtd runs it (read side).

Installing and removing it is quota_hook_apply. A read only stats and reads
a few small files: no libvirt call, no change code.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import os

HOOKS_DIR = '/etc/libvirt/hooks'
HOOK_NAME = 'vpe-quota'
# The first line of every hook we write: how we know a single `qemu` hook is ours.
MARKER = '# vpe.hypervisor quota hook'
SETTINGS_PREFIX = 'SETTINGS = '
# Every quota read looks at the hook: its SETTINGS line is within the first
# few KiB (after the module docstring), the rest need not be read.
HEAD_BYTES = 8192
# libvirtd writes its pid file when it starts; the modular daemon is virtqemud.
DAEMON_PID_FILES = ('/run/libvirtd.pid', '/run/virtqemud.pid')


def dropin_path(hooks_dir=HOOKS_DIR):
    return os.path.join(hooks_dir, 'qemu.d', HOOK_NAME)


def single_path(hooks_dir=HOOKS_DIR):
    return os.path.join(hooks_dir, 'qemu')


def installed(hooks_dir=HOOKS_DIR):
    """(path, settings) of our hook where it is installed, else (None, None)."""
    for path in (dropin_path(hooks_dir), single_path(hooks_dir)):
        settings = settings_of(path)
        if settings is not None:
            return path, settings
    return None, None


def settings_of(path):
    """The SETTINGS a hook of ours at `path` was installed with, or None
    (no file, not ours)."""
    try:
        with open(path) as handle:
            head = handle.read(HEAD_BYTES)
    except (IOError, OSError, UnicodeDecodeError):
        return None
    lines = head.splitlines()
    if len(lines) < 2 or lines[1] != MARKER:
        return None
    for line in lines:
        if line.startswith(SETTINGS_PREFIX):
            try:
                value = ast.literal_eval(line[len(SETTINGS_PREFIX):].split('  #')[0])
            except (ValueError, SyntaxError):
                return None
            return value if isinstance(value, dict) else None
    return None


def daemon_started_at():
    """When the running libvirt daemon started (its pid file's mtime), or None."""
    for path in DAEMON_PID_FILES:
        try:
            return os.stat(path).st_mtime
        except OSError:
            continue
    return None


def loaded(path):
    """Whether libvirtd has taken `path` in: libvirt looks for hooks only when
    it starts, so a hook placed after that is not run until a restart. Where
    the daemon's start cannot be told, assume it has."""
    started = daemon_started_at()
    if started is None:
        return True
    try:
        return os.stat(path).st_mtime <= started
    except OSError:
        return False


def enforced(state_dir, enforce, hooks_dir=HOOKS_DIR):
    """True when starts are checked now: enforce is not off, our hook is
    installed for this state_dir, and libvirtd was started after it was."""
    if enforce == 'off':
        return False
    path, settings = installed(hooks_dir)
    if path is None or settings.get('state_dir') != os.path.abspath(state_dir):
        return False
    return loaded(path)
