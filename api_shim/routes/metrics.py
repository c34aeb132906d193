# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /hypervisor/metrics (JSON history) and GET /metrics (Prometheus text).

/metrics builds a fresh registry on every scrape, so nothing is kept between
scrapes and nothing leaks into prometheus_client's global registry. Host
gauges come from the newest 5-minute point of the metrics store (absent
while the collector has written nothing); usages, quota and pools come from
their services. When libvirt does not answer, the scrape still succeeds with
`vpe_libvirt_up 0` and the host gauges, so a fleet's Prometheus sees why.

GET /hypervisor/metrics answers are kept serialised per (q, step) while the
store's files are unchanged and the 5-minute bucket is the same (every point
of a range starts on one): the collector writes once a minute, and a month
at 16 connections otherwise recomputed 360 points per request. /metrics
keeps its newest point the same way and its text while what it exports is
unchanged.
"""

import os
import threading
import time

import bottle
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ansible_collections.vpe.hypervisor.api_shim.http import body_response, query_params, serialised
from ansible_collections.vpe.hypervisor.plugins.module_utils import image_pool, metrics, metrics_query, pools, quota, usage
from ansible_collections.vpe.hypervisor.plugins.module_utils.errors import Unavailable
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics_store import BUCKET, db_path

KEY = 'metrics'
# The classic text format every Prometheus version scrapes (newer clients announce 1.0.0).
CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
MIB = 1024 ** 2
GIB = 1024 ** 3

# series -> (metric name, help, factor to the metric's unit)
HOST_GAUGES = (
    ('cpu', 'vpe_host_cpu_percent', 'Busy share of all host CPUs, percent, over the latest 5-minute point', 1),
    ('memory', 'vpe_host_memory_used_bytes', 'Host memory used (total - available), latest 5-minute point', MIB),
    ('network_in', 'vpe_host_network_receive_bytes_per_second',
     'Bytes per second received by physical NICs and bonds, latest 5-minute point', 1),
    ('network_out', 'vpe_host_network_transmit_bytes_per_second',
     'Bytes per second sent by physical NICs and bonds, latest 5-minute point', 1),
    ('disk_read', 'vpe_host_disk_read_bytes_per_second',
     'Bytes per second read from physical disks, latest 5-minute point', 1),
    ('disk_write', 'vpe_host_disk_write_bytes_per_second',
     'Bytes per second written to physical disks, latest 5-minute point', 1),
)


def _gauge(name, doc, value, labels=None):
    family = GaugeMetricFamily(name, doc, labels=sorted(labels) if labels else None)
    if labels:
        family.add_metric([labels[k] for k in sorted(labels)], value)
    else:
        family.add_metric([], value)
    return family


def scrape_inputs(ctx, cache=None):
    """What a scrape exports: the newest point and the services' reads (None: libvirt did not answer)."""
    state_dir = ctx.store.state_dir
    if cache is None:
        point = metrics.latest_point(state_dir)
    else:
        point = cache.get(('latest',), lambda: metrics.latest_point(state_dir))
    try:
        reads = (ctx.run(usage.read), ctx.run(quota.read), ctx.run(pools.read), ctx.run(image_pool.read))
    except Unavailable:
        reads = None
    return point, reads


class ScrapeCollector(object):
    """Everything one scrape exports, from scrape_inputs()."""

    def __init__(self, inputs):
        self.point, self.reads = inputs

    def collect(self):
        start, values = self.point
        if start is not None:
            yield _gauge('vpe_host_metrics_point_start_seconds',
                         'Start (Unix time) of the 5-minute point the vpe_host_* gauges describe', start)
        for series, name, doc, factor in HOST_GAUGES:
            if values[series] is not None:
                yield _gauge(name, doc, values[series] * factor)
        yield from self._libvirt_families()

    def _libvirt_families(self):
        if self.reads is None:
            return [_gauge('vpe_libvirt_up', 'Whether libvirt answered this scrape', 0)]
        used, limits, listed, image = self.reads
        out = [
            _gauge('vpe_libvirt_up', 'Whether libvirt answered this scrape', 1),
            _gauge('vpe_usages_instances', 'Domains defined on the host, any state', used['instances']),
            _gauge('vpe_usages_cpu_used', 'vCPUs held by the domains defined', used['cpu_used']),
            _gauge('vpe_usages_cpu_allocatable', 'vCPUs that may be allocated (the quota)', used['cpu_total']),
            _gauge('vpe_usages_memory_used_bytes', 'Maximum memory held by the domains defined',
                   used['memory_used_mb'] * MIB),
            _gauge('vpe_usages_memory_allocatable_bytes', 'Memory that may be allocated (the quota)',
                   used['memory_total_mb'] * MIB),
            _gauge('vpe_quota_cpu_max', 'Quota: vCPUs that may be allocated', limits['cpu_max']),
            _gauge('vpe_quota_memory_max_bytes', 'Quota: memory that may be allocated',
                   limits['memory_max_mb'] * MIB),
        ]
        used_family = GaugeMetricFamily('vpe_pool_used_bytes', 'Bytes on disk of a volume pool (from used_gb)',
                                        labels=['pool', 'uuid'])
        max_family = GaugeMetricFamily('vpe_pool_max_bytes', 'Capacity limit of a volume pool (from max_gb)',
                                       labels=['pool', 'uuid'])
        for pool in listed:
            used_family.add_metric([pool['name'], pool['uuid']], float(pool['used_gb']) * GIB)
            if pool.get('max_gb') is not None:
                max_family.add_metric([pool['name'], pool['uuid']], float(pool['max_gb']) * GIB)
        out.extend([used_family, max_family])
        if image.get('path'):
            out.append(_gauge('vpe_image_pool_used_bytes', 'Bytes on disk of the image pool (from used_gb)',
                              float(image['used_gb']) * GIB))
            if image.get('max_gb') is not None:
                out.append(_gauge('vpe_image_pool_max_bytes', 'Capacity limit of the image pool (from max_gb)',
                                  float(image['max_gb']) * GIB))
        return out


def prometheus_text(ctx, cache=None):
    """The Prometheus exposition of this host, from a registry made for this call.

    With a `cache` (the shim's), the text of the last scrape is sent again when
    its inputs are the same: rendering 60 samples costs more than reading them.
    """
    inputs = scrape_inputs(ctx, cache)
    kept = cache.scrape if cache is not None else None
    if kept is not None and kept[0] == inputs:  # every read returns fresh objects: compared by value
        return kept[1]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeCollector(inputs))
    text = generate_latest(registry)
    if cache is not None:
        cache.scrape = (inputs, text)
    return text


class AnswerCache(object):
    """Serialised answers per (q, step), valid while the store's stamp and the bucket hold."""

    # The store's files are stat'ed at most this often (a stat per request
    # costs a GIL hand-over at 16 connections): a sample shows this much later.
    CHECK_EVERY = 0.2
    # Answers kept at most (a step may be any multiple of 300 up to a day).
    SIZE = 32

    def __init__(self, state_dir):
        path = db_path(state_dir)
        self.paths = (path, path + '-wal')
        self.lock = threading.Lock()
        self.key_locks = {}
        self.answers = {}
        self.checked = None
        self.files = None
        self.scrape = None  # (inputs, text) of the last GET /metrics

    def _files(self):
        mono = time.monotonic()
        if self.checked is None or mono - self.checked >= self.CHECK_EVERY:
            stamps = []
            for path in self.paths:
                try:
                    info = os.stat(path)
                    stamps.append((info.st_ino, info.st_mtime_ns, info.st_size))
                except OSError:
                    stamps.append(None)
            self.files, self.checked = tuple(stamps), mono
        return self.files

    def get(self, key, compute):
        """compute()'s (body, tag) for `key`, or the one kept. One compute per key
        at a time; the stamp is read before it, so a write during it shows next time."""
        stamp = (self._files(), int(time.time() // BUCKET))
        kept = self.answers.get(key)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        with self.lock:
            key_lock = self.key_locks.setdefault(key, threading.Lock())
        with key_lock:
            kept = self.answers.get(key)
            if kept is not None and kept[0] == stamp:
                return kept[1]
            answer = compute()
            with self.lock:
                self.answers.pop(key, None)
                while len(self.answers) >= self.SIZE:
                    self.answers.pop(next(iter(self.answers)))  # the oldest
                self.answers[key] = (stamp, answer)
            return answer


def register(shim):
    ctx = shim.ctx
    cache = AnswerCache(ctx.store.state_dir)

    @shim.route('/hypervisor/metrics', 'GET', 'read')
    def get_metrics():
        params = query_params(('q', 'step'))
        q, step = metrics_query.check_query(params.get('q'), params.get('step'))
        body, tag = cache.get((q, step), lambda: serialised({KEY: ctx.run(metrics_query.query, q, step)}))
        return body_response(body, tag)

    @shim.route('/metrics', 'GET', 'read')
    def prometheus():
        query_params(())
        return bottle.HTTPResponse(body=prometheus_text(ctx, cache), status=200,
                                   headers={'Content-Type': CONTENT_TYPE, 'Cache-Control': 'no-store'})
