"""Helpers for the metrics tests and bench: local time zones and seeded stores."""

import contextlib
import os
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import (
    BUCKET, COLUMNS, MetricsStore)


@contextlib.contextmanager
def local_zone(name):
    """Run the block with the process's local time zone set to `name` (TZ + tzset)."""
    # glibc falls back to UTC for an unknown zone, which would make DST tests lie.
    assert name == 'UTC' or os.path.exists(os.path.join('/usr/share/zoneinfo', name)), \
        'time zone %s is missing: install tzdata' % name
    old = os.environ.get('TZ')
    os.environ['TZ'] = name
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ['TZ']
        else:
            os.environ['TZ'] = old
        time.tzset()


def at(*wall, **kwargs):
    """Epoch of a local wall time (year, month, day, hour=0, minute=0), isdst as given (-1: let mktime pick)."""
    parts = list(wall) + [0] * (6 - len(wall))
    return int(time.mktime(tuple(parts) + (0, 0, kwargs.get('isdst', -1))))


def bucket_row(bucket, cpu=None, memory=None, net_in=None, net_out=None, disk_read=None, disk_write=None,
               seconds=BUCKET):
    """A bucket row whose averages are the given values (None: that series not covered)."""
    row = dict.fromkeys(COLUMNS, 0.0)
    if cpu is not None:
        row.update(cpu_s=seconds, cpu_sum=cpu * seconds)
    if memory is not None:
        row.update(mem_n=5, mem_sum=memory * 5)
    if net_in is not None or net_out is not None:
        row.update(net_s=seconds, net_in=(net_in or 0) * seconds, net_out=(net_out or 0) * seconds)
    if disk_read is not None or disk_write is not None:
        row.update(disk_s=seconds, disk_read=(disk_read or 0) * seconds, disk_write=(disk_write or 0) * seconds)
    return (bucket,) + tuple(row[c] for c in COLUMNS)


def default_values(bucket):
    """Deterministic, varying values for a bucket."""
    k = bucket // BUCKET
    return {'cpu': float(k % 7) * 10, 'memory': 1000 + k % 3, 'net_in': 100.0 * (k % 4),
            'net_out': 50.0, 'disk_read': 1000.0 * (k % 2), 'disk_write': 2000.0}


def seed(state_dir, start, end, gaps=(), values=default_values):
    """Write one full row per bucket in [start, end), except in the [from, to) `gaps`.

    Returns the number of rows written.
    """
    store = MetricsStore(str(state_dir), create=True)
    rows = []
    bucket = start - start % BUCKET
    while bucket < end:
        if not any(g0 <= bucket < g1 for g0, g1 in gaps):
            rows.append(bucket_row(bucket, **values(bucket)))
        bucket += BUCKET
    try:
        store.conn.execute('BEGIN')
        store.conn.executemany('INSERT OR REPLACE INTO buckets (bucket, %s) VALUES (?, %s)'
                               % (', '.join(COLUMNS), ', '.join('?' * len(COLUMNS))), rows)
        store.conn.execute('COMMIT')
        store.rebuild_rollups(start, end)  # rows written beside add(): their rollups from them
    finally:
        store.close()
    return len(rows)


class FakeStateCtx:
    """The part of a Context the metrics service uses: ctx.store.state_dir."""

    class _Store:
        def __init__(self, state_dir):
            self.state_dir = str(state_dir)

    def __init__(self, state_dir):
        self.store = self._Store(state_dir)
