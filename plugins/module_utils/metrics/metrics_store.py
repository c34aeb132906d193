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

Rollups (as RRD and Proxmox keep them): tables `rollup_1800` and
`rollup_7200` hold the same sums per 30-minute and 2-hour block (keyed by the
block's start, a multiple of its length in epoch seconds), written in the same
transaction as the buckets, so a block always equals the sum of its buckets.
A read cuts each range into aligned pieces and takes each piece from the
coarsest level that covers it whole: a month at 2-hour spacing is a few
hundred rows instead of 8928 buckets. A store of schema 1 (buckets only) gets
its rollups computed from its buckets when a writer opens it (`create=True`);
until then readers use the buckets alone.

The file is in WAL mode with synchronous=NORMAL: readers (the shim, vpe_facts)
never block the collector, every sample is one transaction, and a crash or a
power cut loses at most the last samples, never the file's consistency.

This is the writer (the collector) and the range reader (the shim's queries).
The latest point, all vpe_facts reads, is metrics_latest: a module run
compiles none of this file.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import sqlite3

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
# BUCKET, DB_FILE, bucket_of, db_path: re-exported for the collector, the shim and the tests.
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_latest import (  # noqa: F401 pylint: disable=unused-import
    BUCKET, COLUMNS, DB_FILE, LATEST_SQL, bucket_of, db_path)

SCHEMA_VERSION = 2
# Level (seconds) -> table; coarsest last. A level divides the next one.
LEVELS = (BUCKET, 1800, 7200)
TABLES = {BUCKET: 'buckets', 1800: 'rollup_1800', 7200: 'rollup_7200'}

TABLE_SQL = '''
CREATE TABLE IF NOT EXISTS %s (
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
SCHEMA = TABLE_SQL % 'buckets'


def pieces(start, end, levels=LEVELS):
    """[(level, first, stop)]: the buckets with start <= bucket < end, cut into
    runs of whole blocks, each from the coarsest of `levels` that fits."""
    pos = -(-int(start) // BUCKET) * BUCKET
    stop = -(-int(end) // BUCKET) * BUCKET
    coarse_first = sorted(levels, reverse=True)
    out = []
    while pos < stop:
        for level in coarse_first:
            if pos % level == 0 and pos + level <= stop:
                break
        if out and out[-1][0] == level and out[-1][2] == pos:
            out[-1] = (level, out[-1][1], pos + level)
        else:
            out.append((level, pos, pos + level))
        pos += level
    return out


class MetricsStore(object):
    """A connection to the store. `create=False` opens an existing file only."""

    def __init__(self, state_dir, create=False):
        self.state_dir = state_dir
        self.path = db_path(state_dir)
        self.conn = None
        self.rows_read = {}
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
                self._upgrade()
            self.conn.execute('PRAGMA synchronous=NORMAL')
        except sqlite3.Error as exc:
            self.close()
            raise VpeError('cannot open the metrics store %s: %s' % (self.path, exc))

    def _upgrade(self):
        """Schema 1 -> 2: add the rollup tables, filled from the buckets, in one transaction."""
        conn = self.conn
        conn.execute('BEGIN IMMEDIATE')
        try:
            if conn.execute('PRAGMA user_version').fetchone()[0] < SCHEMA_VERSION:
                for level in LEVELS[1:]:
                    conn.execute(TABLE_SQL % TABLES[level])
                self._rebuild_rollups(None, None)
                conn.execute('PRAGMA user_version=%d' % SCHEMA_VERSION)
            conn.execute('COMMIT')
        except BaseException:
            self._rollback()
            raise

    def rebuild_rollups(self, start=None, end=None):
        """Recompute the rollups of the blocks holding buckets in [start, end)
        (all when None) from the buckets, for a writer that wrote buckets alone."""
        conn = self.conn
        conn.execute('BEGIN IMMEDIATE')
        try:
            self._rebuild_rollups(start, end)
            conn.execute('COMMIT')
        except BaseException:
            self._rollback()
            raise

    def _rebuild_rollups(self, start, end):
        sums = ', '.join('SUM(%s)' % c for c in COLUMNS)
        for level in LEVELS[1:]:
            table = TABLES[level]
            lo = -2 ** 62 if start is None else int(start) // level * level
            hi = 2 ** 62 if end is None else -(-int(end) // level) * level
            self.conn.execute('DELETE FROM %s WHERE bucket >= ? AND bucket < ?' % table, (lo, hi))
            self.conn.execute('INSERT INTO %s (bucket, %s) SELECT bucket / %d * %d, %s FROM buckets '
                              'WHERE bucket >= ? AND bucket < ? GROUP BY bucket / %d'
                              % (table, ', '.join(COLUMNS), level, level, sums, level), (lo, hi))

    def levels(self):
        """The levels this store holds: all of them from schema 2 on."""
        if self.conn is None:
            return ()
        if self.conn.execute('PRAGMA user_version').fetchone()[0] >= 2:
            return LEVELS
        return (BUCKET,)

    @property
    def exists(self):
        return self.conn is not None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def add(self, contributions):
        """Add {bucket: {column: amount}} to the buckets and their rollups in one transaction."""
        conn = self.conn
        conn.execute('BEGIN IMMEDIATE')
        try:
            for level in LEVELS:
                blocks = {}
                for bucket, amounts in contributions.items():
                    block = blocks.setdefault(int(bucket) // level * level, {})
                    for column, value in amounts.items():
                        block[column] = block.get(column, 0) + value
                table = TABLES[level]
                for block in sorted(blocks):
                    amounts = blocks[block]
                    names = [c for c in COLUMNS if amounts.get(c)]
                    if not names:
                        continue
                    # INSERT OR IGNORE + UPDATE instead of UPSERT: works on SQLite < 3.24 too.
                    conn.execute('INSERT OR IGNORE INTO %s (bucket) VALUES (?)' % table, (block,))
                    conn.execute('UPDATE %s SET %s WHERE bucket = ?'
                                 % (table, ', '.join('%s = %s + ?' % (c, c) for c in names)),
                                 [amounts[c] for c in names] + [block])
            conn.execute('COMMIT')
        except BaseException:
            self._rollback()
            raise

    def _rollback(self):
        if self.conn.in_transaction:
            self.conn.execute('ROLLBACK')

    def prune(self, before):
        """Delete what starts before epoch `before` (one epoch for every level, or
        {level: epoch}); a rollup block goes once it ends at or before its cutoff.
        Returns how many 5-minute buckets went."""
        cutoffs = before if isinstance(before, dict) else dict((level, before) for level in LEVELS)
        conn = self.conn
        conn.execute('BEGIN IMMEDIATE')
        try:
            count = conn.execute('DELETE FROM buckets WHERE bucket < ?', (cutoffs[BUCKET],)).rowcount
            for level in self.levels()[1:]:
                conn.execute('DELETE FROM %s WHERE bucket <= ?' % TABLES[level], (cutoffs[level] - level,))
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
        """Column sums of the buckets in each [start, end) of `bounds`, each range
        read from the coarsest level that covers it (pieces), grouped by SQLite.

        Returns {index in bounds: (COLUMNS sums)} for the ranges holding any
        bucket; `rows_read` is then {level: rows summed}.
        """
        self.rows_read = {}
        if self.conn is None or not bounds:
            return {}
        conn = self.conn
        levels = self.levels()
        try:
            conn.execute('PRAGMA temp_store=MEMORY')
            conn.execute('CREATE TEMP TABLE IF NOT EXISTS pieces (i INTEGER, lvl INTEGER, s INTEGER, e INTEGER)')
            conn.execute('DELETE FROM temp.pieces')
            conn.executemany('INSERT INTO temp.pieces VALUES (?, ?, ?, ?)',
                             ((i, level, first, stop) for i, (s, e) in enumerate(bounds)
                              for level, first, stop in pieces(s, e, levels)))
        except sqlite3.Error as exc:
            raise VpeError('cannot query the metrics store %s: %s' % (self.path, exc))
        sums = ', '.join('SUM(b.%s)' % c for c in COLUMNS)
        rows = self._select(' UNION ALL '.join(
            'SELECT p.i, %d, COUNT(*), %s FROM temp.pieces p CROSS JOIN %s b ON b.bucket >= p.s AND b.bucket < p.e '
            'WHERE p.lvl = %d GROUP BY p.i' % (level, sums, TABLES[level], level) for level in levels), ())
        out = {}
        for row in rows:
            self.rows_read[row[1]] = self.rows_read.get(row[1], 0) + row[2]
            part = row[3:]
            acc = out.get(row[0])
            out[row[0]] = part if acc is None else tuple(a + b for a, b in zip(acc, part))
        return out

    def latest(self):
        """The newest bucket row, or None."""
        rows = self._select(LATEST_SQL, ())
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
