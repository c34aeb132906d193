# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus exporter behind GET /metrics (routes/metrics.py).

It builds a fresh registry on every scrape, so nothing is kept between
scrapes and nothing leaks into prometheus_client's global registry. Host
gauges come from the newest 5-minute point of the metrics store (absent
while the collector has written nothing); usages, quota and pools come from
their services. When libvirt does not answer, the scrape still succeeds with
`vpe_libvirt_up 0` and the host gauges, so a fleet's Prometheus sees why.
With the shim's cache it keeps its newest point and its text while what it
exports is unchanged.
"""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Unavailable
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics import metrics
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota, usage
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import image_pool, pools

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


def text(ctx, cache=None):
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
