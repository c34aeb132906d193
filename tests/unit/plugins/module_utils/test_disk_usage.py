"""A directory's bytes on disk, kept between calls by a context that serves
many (DiskUsage.keep): a file added or removed shows once the directory is
checked again (CHECK_EVERY), a file that grew once the kept total is older
than MAX_AGE, walked by a background thread while the old total is served."""

import os
import time

import pytest

from ansible_collections.vpe.hypervisor.plugins.module_utils import disk_usage
from ansible_collections.vpe.hypervisor.plugins.module_utils.disk_usage import DiskUsage, used_bytes

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
    usage = DiskUsage()
    first = usage.used_bytes(str(pool_dir))
    write(pool_dir / 'a.img', 1)  # grows: the directory does not change
    assert usage.used_bytes(str(pool_dir)) == used_bytes(str(pool_dir)) > first


def test_a_grown_file_shows_after_max_age_without_a_reader_waiting(pool_dir, monkeypatch):
    usage = DiskUsage(keep=True)
    first = usage.used_bytes(str(pool_dir))
    write(pool_dir / 'a.img', 2)
    assert usage.used_bytes(str(pool_dir)) == first  # kept: younger than MAX_AGE
    monkeypatch.setattr(disk_usage, 'MAX_AGE', 0.0)
    assert usage.used_bytes(str(pool_dir)) == first  # served the old total; a thread walks
    deadline = time.monotonic() + 5
    while usage.used_bytes(str(pool_dir)) == first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert usage.used_bytes(str(pool_dir)) == used_bytes(str(pool_dir)) >= first + 2 * MIB


def test_a_file_added_or_removed_shows_once_the_directory_is_checked_again(pool_dir, monkeypatch):
    usage = DiskUsage(keep=True)
    first = usage.used_bytes(str(pool_dir))
    write(pool_dir / 'b.img', 1)
    assert usage.used_bytes(str(pool_dir)) == first  # checked less than CHECK_EVERY ago: no stat
    monkeypatch.setattr(disk_usage, 'CHECK_EVERY', 0.0)
    assert usage.used_bytes(str(pool_dir)) == first + os.stat(str(pool_dir / 'b.img')).st_blocks * 512
    os.unlink(str(pool_dir / 'b.img'))
    assert usage.used_bytes(str(pool_dir)) == first


def test_a_directory_changed_within_the_racy_window_is_not_kept(pool_dir, monkeypatch):
    usage = DiskUsage(keep=True)
    write(pool_dir / 'b.img', 1)  # mtime is now: a later change in the same tick could hide
    walks = []
    monkeypatch.setattr(disk_usage, 'used_bytes', lambda path: walks.append(path) or used_bytes(path))
    usage.used_bytes(str(pool_dir))
    usage.used_bytes(str(pool_dir))
    assert len(walks) == 2
    age(pool_dir, 10)
    usage.used_bytes(str(pool_dir))
    usage.used_bytes(str(pool_dir))
    assert len(walks) == 3


def test_missing_directory_counts_zero_and_forget_drops_totals(pool_dir, tmp_path):
    usage = DiskUsage(keep=True)
    assert usage.used_bytes(str(tmp_path / 'missing')) == 0
    first = usage.used_bytes(str(pool_dir))
    write(pool_dir / 'a.img', 1)
    age(pool_dir, 10)  # same mtime as before? no: set again, but a forget must re-walk anyway
    usage.forget()
    assert usage.used_bytes(str(pool_dir)) == used_bytes(str(pool_dir)) > first


def test_totals_expiring_together_are_walked_one_at_a_time(tmp_path, monkeypatch):
    dirs = []
    for i in range(5):
        directory = tmp_path / ('p%d' % i)
        directory.mkdir()
        write(directory / 'a.img', 1)
        age(directory, 10)
        dirs.append(str(directory))
    usage = DiskUsage(keep=True)
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
    monkeypatch.setattr(disk_usage, 'MAX_AGE', 0.0)
    for directory in dirs:
        usage.used_bytes(directory)
    deadline = time.monotonic() + 5
    while len(most) < len(dirs) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(most) == len(dirs) and max(most) == 1
