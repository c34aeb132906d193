# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replacing a file atomically: the one way every writer of ours (the state
store, the network's persisted config, the quota hook, the shim's tokens) does it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import tempfile


def write(path, text, mode, prefix='.vpe-', suffix='', owner=None, times=None, make_dir=False, sync_dir=False):
    """Write `text` to `path` through a temporary file in the same directory,
    fsynced and renamed over it: a crash leaves the old file or the new one,
    never a mix, and a failed write removes the temporary file.

    mode: the new file's permission bits; owner: (uid, gid) to give it;
    times: (atime, mtime) to give it; make_dir: create a missing directory
    (0755); sync_dir: fsync the directory too, so the rename itself survives
    a crash. Raises OSError/IOError: the caller words the error."""
    directory = os.path.dirname(os.path.abspath(path))
    if make_dir and not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            os.fchmod(handle.fileno(), mode)
            if owner is not None:
                os.fchown(handle.fileno(), owner[0], owner[1])
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if times is not None:
            os.utime(tmp, times)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync_dir:
        fsync_dir(directory)


def fsync_dir(directory):
    """Make a rename or an unlink in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
