# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /hypervisor/metrics: the points of a calendar range (metrics_ranges)
with the exact average of each series over each point, from the 5-minute
buckets the collector keeps (metrics_store); and what the collector may prune.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.vpe.hypervisor.api_shim import metrics_ranges as ranges
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics import SERIES, value_of
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import COLUMNS, MetricsStore

BUCKET = ranges.BUCKET
MIN_STEP = BUCKET
MAX_STEP = ranges.MAX_STEP

STEP_RULE = 'a whole number of seconds, a multiple of %d from %d to %d (e.g. 300, 1800, 7200)' % (
    BUCKET, MIN_STEP, MAX_STEP)


def check_query(q=None, step=None):
    """The range and step to answer, or InvalidInput naming the allowed values.

    `q` None or '' is the default range (today); `step` None or '' is the
    range's default spacing. `step` may be an int or a string of digits.
    """
    if q is None or q == '':
        q = ranges.DEFAULT_QUERY
    if q not in ranges.QUERIES:
        raise InvalidInput('q must be one of %s, got %r' % (', '.join(ranges.QUERIES), q), field='q')
    if step is None or step == '':
        return q, ranges.DEFAULT_STEP[q]
    if isinstance(step, bool):
        raise InvalidInput('step must be %s, got %r' % (STEP_RULE, step), field='step')
    if not isinstance(step, int):
        text = str(step).strip()
        if not (text.isascii() and text.isdigit()):
            raise InvalidInput('step must be %s, got %r' % (STEP_RULE, step), field='step')
        step = int(text)
    if step < MIN_STEP or step > MAX_STEP or step % BUCKET:
        raise InvalidInput('step must be %s, got %d' % (STEP_RULE, step), field='step')
    return q, step


RETENTION_DAYS = 62
# The 2-hour rollups stay 13 months (about 0.3 MiB): a year of history at month spacing.
LONG_RETENTION_DAYS = 400


def retention_cutoff(now):
    """Buckets before this epoch may be pruned: older than 62 days and before last month."""
    return min(int(now) - RETENTION_DAYS * ranges.DAY, ranges.range_bounds('lastmonth', now)[0])


def retention_cutoffs(now):
    """{level: epoch} for MetricsStore.prune: 5-minute buckets and 30-minute
    rollups as retention_cutoff, 2-hour rollups LONG_RETENTION_DAYS."""
    short = retention_cutoff(now)
    return {BUCKET: short, 1800: short, 7200: min(short, int(now) - LONG_RETENTION_DAYS * ranges.DAY)}


def series_of(points, sums):
    """{series: {key: value}} for [(key, start, end)] points and {point index: column sums}.

    Points sharing a key (a repeated hour) are added up before averaging.
    """
    merged = {}
    for index, (key, _start, _end) in enumerate(points):
        part = sums.get(index)
        acc = merged.get(key)
        if acc is None:
            merged[key] = list(part) if part else [0] * len(COLUMNS)
        elif part:
            merged[key] = [a + b for a, b in zip(acc, part)]
    out = dict((s[0], {}) for s in SERIES)
    for key, _start, _end in points:
        acc = merged[key]
        for series in SERIES:
            out[series[0]][key] = value_of(acc, series)
    return out


def query(ctx, q=None, step=None, now=None):
    """The `metrics` object of GET /hypervisor/metrics."""
    q, step = check_query(q, step)
    now = time.time() if now is None else now
    points = ranges.points(q, step, now)
    store = MetricsStore(ctx.store.state_dir)
    try:
        sums = store.sums([(start, end) for _key, start, end in points])
    finally:
        store.close()
    values = series_of(points, sums)
    doc = {'duration': q, 'step': step}
    for name, unit, _covered, _total, _decimals in SERIES:
        doc[name] = {'unit': unit, 'datas': values[name]}
    return doc
