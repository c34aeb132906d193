"""A directory's bytes on disk, kept between calls by a context that serves
many (disk_usage_kept.KeptDiskUsage): a file added or removed shows once the directory is
checked again (CHECK_EVERY), a file that grew once the kept total is older
than REFRESH_AFTER (walked by a background thread while the old total is
served) and at the latest MAX_AGE (walked before answering)."""

import os
import time

import pytest

import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import disk_usage, disk_usage_kept
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage.disk_usage import used_bytes
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage.disk_usage_kept import KeptDiskUsage

MIB = 1024 * 1024


def write(path, mib):
    with open(str(path), 'ab') as handle:
        handle.write(b'x' * (mib * MIB))
        handle.flush()
        os.fsync(handle.fileno())


def age(path, seconds):
    """Set the directory's mtime `seconds` back, out of the racy window."""
    then = time.time() - seconds
    os.utime(str(path), (then, then))


@pytest.fixture
def pool_dir(tmp_path):
    write(tmp_path / 'a.img', 1)
    age(tmp_path, 10)
    return tmp_path


def test_off_walks_every_time(pool_dir):
    usage = KeptDiskUsage()
    first = usage.used_bytes(str(pool_dir))
    write(pool_dir / 'a.img', 1)  # grows: the directory does not change
    assert usage.used_bytes(str(pool_dir)) == used_bytes(str(pool_dir)) > first


def test_a_grown_file_shows_after_refresh_after_without_a_reader_waiting(pool_dir, monkeypatch):
    usage = KeptDiskUsage(keep=True)
    first = usage.used_bytes(str(pool_dir))
    write(pool_dir / 'a.img', 2)
    assert usage.used_bytes(str(pool_dir)) == first  # kept: younger than REFRESH_AFTER
    monkeypatch.setattr(disk_usage_kept, 'REFRESH_AFTER', 0.0)
    assert usage.used_bytes(str(pool_dir)) == first  # served the old total; a thread walks
    grown = vpetest.eventually(lambda: usage.used_bytes(str(pool_dir)), lambda v: v != first, timeout=5)
    assert grown == used_bytes(str(pool_dir)) >= first + 2 * MIB


def test_a_total_older_than_max_age_is_walked_before_answering(pool_dir, monkeypatch):
    usage = KeptDiskUsage(keep=True)
    first = usage.used_bytes(str(pool_dir))
    write(pool_dir / 'a.img', 2)
    monkeypatch.setattr(disk_usage_kept, 'MAX_AGE', 0.0)
    assert usage.used_bytes(str(pool_dir)) == used_bytes(str(pool_dir)) >= first + 2 * MIB


def test_a_file_added_or_removed_shows_once_the_directory_is_checked_again(pool_dir, monkeypatch):
    usage = KeptDiskUsage(keep=True)
    first = usage.used_bytes(str(pool_dir))
    write(pool_dir / 'b.img', 1)
    assert usage.used_bytes(str(pool_dir)) == first  # checked less than CHECK_EVERY ago: no stat
    monkeypatch.setattr(disk_usage_kept, 'CHECK_EVERY', 0.0)
    assert usage.used_bytes(str(pool_dir)) == first + os.stat(str(pool_dir / 'b.img')).st_blocks * 512
    os.unlink(str(pool_dir / 'b.img'))
    assert usage.used_bytes(str(pool_dir)) == first


def test_a_directory_changed_within_the_racy_window_is_not_kept(pool_dir, monkeypatch):
    usage = KeptDiskUsage(keep=True)
    monkeypatch.setattr(disk_usage_kept, 'RACY_SECONDS', 3600.0)  # every mtime is "just now"
    walks = []
    monkeypatch.setattr(disk_usage, 'used_bytes', lambda path: walks.append(path) or used_bytes(path))
    usage.used_bytes(str(pool_dir))
    usage.used_bytes(str(pool_dir))
    assert len(walks) == 2
    monkeypatch.setattr(disk_usage_kept, 'RACY_SECONDS', 0.1)  # the directory is 10 s old
    usage.used_bytes(str(pool_dir))
    usage.used_bytes(str(pool_dir))
    assert len(walks) == 3


def test_a_missing_directory_counts_zero_and_paths_not_read_are_forgotten(pool_dir, tmp_path, monkeypatch):
    usage = KeptDiskUsage(keep=True)
    assert usage.used_bytes(str(tmp_path / 'missing')) == 0
    usage.used_bytes(str(pool_dir))
    assert str(pool_dir) in usage._kept
    monkeypatch.setattr(disk_usage_kept, 'FORGET_AFTER', 0.0)
    other = tmp_path / 'other'
    other.mkdir()
    age(other, 10)
    usage.used_bytes(str(other))  # a walk prunes what was not read since
    assert str(pool_dir) not in usage._kept


def test_totals_expiring_together_are_walked_one_at_a_time(tmp_path, monkeypatch):
    dirs = []
    for i in range(5):
        directory = tmp_path / ('p%d' % i)
        directory.mkdir()
        write(directory / 'a.img', 1)
        age(directory, 10)
        dirs.append(str(directory))
    usage = KeptDiskUsage(keep=True)
    for directory in dirs:
        usage.used_bytes(directory)
    running, most = [], []

    def walk(path):
        running.append(path)
        most.append(len(running))
        time.sleep(0.02)
        running.remove(path)
        return used_bytes(path)

    monkeypatch.setattr(disk_usage, 'used_bytes', walk)
    monkeypatch.setattr(disk_usage_kept, 'REFRESH_AFTER', 0.0)
    for directory in dirs:
        usage.used_bytes(directory)
    vpetest.eventually(lambda: len(most), lambda n: n >= len(dirs), timeout=5)
    assert len(most) == len(dirs) and max(most) == 1
