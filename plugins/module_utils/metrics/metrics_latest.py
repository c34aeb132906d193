# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the metrics store is, the shape of its rows, and its newest bucket:
all a read of the latest point (vpe_facts, the Prometheus export) needs.

Writing the store and reading ranges of it is metrics_store (the collector
and the shim's range queries), which a read does not compile.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError

DB_FILE = 'metrics.sqlite3'
BUCKET = 300

# Column order of a bucket row after its key.
COLUMNS = ('cpu_s', 'cpu_sum', 'mem_n', 'mem_sum', 'net_s', 'net_in', 'net_out',
           'disk_s', 'disk_read', 'disk_write')

LATEST_SQL = 'SELECT bucket, %s FROM buckets ORDER BY bucket DESC LIMIT 1' % ', '.join(COLUMNS)


def db_path(state_dir):
    return os.path.join(state_dir, DB_FILE)


def bucket_of(epoch):
    return int(epoch // BUCKET) * BUCKET


def latest_row(state_dir):
    """The newest bucket row (bucket, *COLUMNS), or None: no store yet, or
    one whose collector has not written its schema yet."""
    path = db_path(state_dir)
    if not os.path.exists(path):
        return None
    import sqlite3  # only where there is a store: a host without a collector never loads it
    try:
        conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    except sqlite3.Error as exc:
        raise VpeError('cannot open the metrics store %s: %s' % (path, exc))
    try:
        return conn.execute(LATEST_SQL).fetchone()
    except sqlite3.OperationalError as exc:
        if 'no such table' in str(exc):
            return None
        raise VpeError('cannot read the metrics store %s: %s' % (path, exc))
    except sqlite3.Error as exc:
        raise VpeError('cannot read the metrics store %s: %s' % (path, exc))
    finally:
        conn.close()
