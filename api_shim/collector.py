# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics collector: `python -m ansible_collections.vpe.hypervisor.api_shim collect`.

Every `interval` seconds (60 by default, on wall-clock multiples of it) it
samples the host (api_shim.metrics_collect) and adds the sample's share
to the 5-minute buckets of the store (module_utils.metrics.metrics_store) and to
their 30-minute and 2-hour rollups, one transaction per sample. Once an hour
it prunes buckets and 30-minute rollups older than 62 days and before last
month, 2-hour rollups older than 400 days. One collector per state_dir: a second one exits.

It keeps no state between runs: after a restart or a reboot the first
sample only sets the counters' baseline, so the store stays consistent
whatever stopped it. SIGTERM and SIGINT stop it between two samples.
"""

import errno
import fcntl
import logging
import os
import signal
import sqlite3
import threading
import time

from ansible_collections.vpe.hypervisor.api_shim import metrics_collect, metrics_query
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import MetricsStore

LOG = logging.getLogger('vpe.collector')
DEFAULT_INTERVAL = 60.0
MIN_INTERVAL = 0.2
MAX_INTERVAL = 300.0
PRUNE_EVERY = 3600
LOCK_FILE = 'metrics.lock'


class CollectorError(Exception):
    pass


def _lock(state_dir):
    """Hold the collector lock of state_dir for the life of the process."""
    path = os.path.join(state_dir, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    except OSError as exc:
        raise CollectorError('cannot open %s: %s' % (path, exc.strerror))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise CollectorError('another collector already runs on %s' % state_dir)
        raise CollectorError('cannot lock %s: %s' % (path, exc.strerror))
    return fd


class Collector(object):

    def __init__(self, state_dir, interval=DEFAULT_INTERVAL):
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise CollectorError('--interval must be between %g and %g seconds, got %g'
                                 % (MIN_INTERVAL, MAX_INTERVAL, interval))
        self.state_dir = state_dir
        self.interval = interval
        self.sampler = metrics_collect.Sampler(interval)
        self.stop_event = threading.Event()
        self.pending = {}
        self.last_prune = None
        self.samples = 0

    def stop(self, *_args):
        self.stop_event.set()

    def step(self, store):
        """Take one sample and write it (with anything a failed write left over)."""
        metrics_collect.merge(self.pending, self.sampler.sample())
        try:
            store.add(self.pending)
            self.pending = {}
        except sqlite3.Error as exc:
            # Kept and written with the next sample (e.g. the disk was full).
            LOG.error('cannot write the metrics store: %s; retrying with the next sample', exc)
        self.samples += 1
        now = time.time()
        if self.last_prune is None or now - self.last_prune >= PRUNE_EVERY:
            try:
                removed = store.prune(metrics_query.retention_cutoffs(now))
                if removed:
                    LOG.info('pruned %d bucket(s) older than the retention', removed)
                self.last_prune = now
            except sqlite3.Error as exc:
                LOG.error('cannot prune the metrics store: %s', exc)

    def run(self, count=None):
        """Sample until stopped (or `count` samples were taken)."""
        metrics_collect.require_psutil()
        try:
            os.makedirs(self.state_dir, 0o750)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise CollectorError('cannot create state_dir %s: %s' % (self.state_dir, exc.strerror))
        lock_fd = _lock(self.state_dir)
        try:
            store = MetricsStore(self.state_dir, create=True)
        except BaseException:
            os.close(lock_fd)
            raise
        LOG.info('collecting every %gs into %s', self.interval, store.path)
        try:
            while not self.stop_event.is_set():
                self.step(store)
                if count is not None and self.samples >= count:
                    break
                now = time.time()
                next_tick = (int(now / self.interval) + 1) * self.interval
                self.stop_event.wait(max(0.0, next_tick - now))
        finally:
            store.close()
            os.close(lock_fd)
        return self.samples


def main(state_dir, interval=DEFAULT_INTERVAL, count=None):
    """Run the collector in this process; returns an exit status."""
    try:
        collector = Collector(state_dir, interval)
    except CollectorError as exc:
        LOG.error('%s', exc)
        return 2
    signal.signal(signal.SIGTERM, collector.stop)
    signal.signal(signal.SIGINT, collector.stop)
    try:
        taken = collector.run(count)
    except (CollectorError, VpeError) as exc:
        LOG.error('%s', exc)
        return 2
    LOG.info('stopped after %d sample(s)', taken)
    return 0
