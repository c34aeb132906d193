# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bytes on disk of a pool's directory.

A module run walks each directory once (DiskUsage); a long-lived process (the
shim) keeps each directory's total between requests (disk_usage_kept, which
a module run does not compile).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os


def used_bytes(path):
    """Bytes on disk (st_blocks * 512) of the regular files directly in `path`.

    A dir pool's volumes are the files of its directory, so one scandir walk
    counts them all without a libvirt round trip per volume. Symlinks are not
    followed (what they point at is not in the pool) and subdirectories are
    not descended. A missing or unreadable directory counts 0.
    """
    total = 0
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
                except OSError:
                    continue  # removed while we walked
    except OSError:
        return 0
    return total


class DiskUsage(object):
    """used_bytes() for a context: every call walks (a module run reads
    once). disk_usage_kept.KeptDiskUsage keeps totals instead."""

    keep = False

    def used_bytes(self, path):
        return used_bytes(path)
