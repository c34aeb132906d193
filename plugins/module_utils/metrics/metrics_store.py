# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics store: one SQLite row per 5-minute bucket under state_dir.

A bucket is keyed by its start in epoch seconds (a multiple of 300, so the
store does not depend on the host's time zone). It holds sums, never
averages, so any coarser average is exact:

- cpu_s / cpu_sum: seconds covered by CPU deltas, and the integral of the
  busy percentage over them (percent x seconds);
- mem_n / mem_sum: memory samples taken in the bucket and their MiB sum;
- net_s / net_in / net_out: seconds covered by NIC deltas and the bytes
  received / sent in them;
- disk_s / disk_read / disk_write: the same for physical disks.

A series' value over any set of buckets is sum / covered (bytes per second,
percent, MiB); a set with nothing covered is empty (null), never 0.

The file is in WAL mode with synchronous=NORMAL: readers (the shim, vpe_facts)
never block the collector, every sample is one transaction, and a crash or a
power cut loses at most the last samples, never the file's consistency.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import sqlite3

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError

DB_FILE = 'metrics.sqlite3'
SCHEMA_VERSION = 1
BUCKET = 300

# Column order of a bucket row after its key.
COLUMNS = ('cpu_s', 'cpu_sum', 'mem_n', 'mem_sum', 'net_s', 'net_in', 'net_out',
           'disk_s', 'disk_read', 'disk_write')

SCHEMA = '''
CREATE TABLE IF NOT EXISTS buckets (
    bucket INTEGER PRIMARY KEY,
    cpu_s REAL NOT NULL DEFAULT 0,
    cpu_sum REAL NOT NULL DEFAULT 0,
    mem_n INTEGER NOT NULL DEFAULT 0,
    mem_sum REAL NOT NULL DEFAULT 0,
    net_s REAL NOT NULL DEFAULT 0,
    net_in REAL NOT NULL DEFAULT 0,
    net_out REAL NOT NULL DEFAULT 0,
    disk_s REAL NOT NULL DEFAULT 0,
    disk_read REAL NOT NULL DEFAULT 0,
    disk_write REAL NOT NULL DEFAULT 0
)
'''


def db_path(state_dir):
    return os.path.join(state_dir, DB_FILE)


def bucket_of(epoch):
    return int(epoch // BUCKET) * BUCKET


class MetricsStore(object):
    """A connection to the store. `create=False` opens an existing file only."""

    def __init__(self, state_dir, create=False):
        self.state_dir = state_dir
        self.path = db_path(state_dir)
        self.conn = None
        if create:
            try:
                os.makedirs(state_dir, 0o750)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise VpeError('cannot create state_dir %s: %s' % (state_dir, exc.strerror), field='state_dir')
        elif not os.path.exists(self.path):
            return
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE).
            self.conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            if create:
                os.chmod(self.path, 0o640)
                self.conn.execute('PRAGMA journal_mode=WAL')
                self.conn.execute(SCHEMA)
                self.conn.execute('PRAGMA user_version=%d' % SCHEMA_VERSION)
            self.conn.execute('PRAGMA synchronous=NORMAL')
        except sqlite3.Error as exc:
            self.close()
            raise VpeError('cannot open the metrics store %s: %s' % (self.path, exc))

    @property
    def exists(self):
        return self.conn is not None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def add(self, contributions):
        """Add {bucket: {column: amount}} to the store in one transaction."""
        conn = self.conn
        conn.execute('BEGIN IMMEDIATE')
        try:
            for bucket in sorted(contributions):
                amounts = contributions[bucket]
                names = [c for c in COLUMNS if amounts.get(c)]
                if not names:
                    continue
                # INSERT OR IGNORE + UPDATE instead of UPSERT: works on SQLite < 3.24 too.
                conn.execute('INSERT OR IGNORE INTO buckets (bucket) VALUES (?)', (bucket,))
                conn.execute('UPDATE buckets SET %s WHERE bucket = ?' % ', '.join('%s = %s + ?' % (c, c) for c in names),
                             [amounts[c] for c in names] + [bucket])
            conn.execute('COMMIT')
        except BaseException:
            self._rollback()
            raise

    def _rollback(self):
        if self.conn.in_transaction:
            self.conn.execute('ROLLBACK')

    def prune(self, before):
        """Delete buckets that start before epoch `before`; return how many."""
        conn = self.conn
        conn.execute('BEGIN IMMEDIATE')
        try:
            count = conn.execute('DELETE FROM buckets WHERE bucket < ?', (before,)).rowcount
            conn.execute('COMMIT')
        except BaseException:
            self._rollback()
            raise
        return count

    def rows(self, start, end):
        """Bucket rows with start <= bucket < end, in time order: (bucket, *COLUMNS)."""
        return self._select('SELECT bucket, %s FROM buckets WHERE bucket >= ? AND bucket < ? ORDER BY bucket'
                            % ', '.join(COLUMNS), (start, end))

    def sums(self, bounds):
        """Column sums of the buckets in each [start, end) of `bounds`, grouped by SQLite.

        Returns {index in bounds: (COLUMNS sums)} for the ranges holding any bucket.
        """
        if self.conn is None or not bounds:
            return {}
        conn = self.conn
        try:
            conn.execute('PRAGMA temp_store=MEMORY')
            conn.execute('CREATE TEMP TABLE IF NOT EXISTS points (i INTEGER PRIMARY KEY, s INTEGER, e INTEGER)')
            conn.execute('DELETE FROM temp.points')
            conn.executemany('INSERT INTO temp.points VALUES (?, ?, ?)',
                             ((i, int(s), int(e)) for i, (s, e) in enumerate(bounds)))
        except sqlite3.Error as exc:
            raise VpeError('cannot query the metrics store %s: %s' % (self.path, exc))
        rows = self._select('SELECT p.i, %s FROM temp.points p JOIN buckets b ON b.bucket >= p.s AND b.bucket < p.e '
                            'GROUP BY p.i' % ', '.join('SUM(b.%s)' % c for c in COLUMNS), ())
        return dict((row[0], row[1:]) for row in rows)

    def latest(self):
        """The newest bucket row, or None."""
        rows = self._select('SELECT bucket, %s FROM buckets ORDER BY bucket DESC LIMIT 1' % ', '.join(COLUMNS), ())
        return rows[0] if rows else None

    def _select(self, sql, args):
        if self.conn is None:
            return []
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if 'no such table' in str(exc):
                return []  # created by a collector that has not written its schema yet
            raise VpeError('cannot read the metrics store %s: %s' % (self.path, exc))
        except sqlite3.Error as exc:
            raise VpeError('cannot read the metrics store %s: %s' % (self.path, exc))
