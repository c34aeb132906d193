# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metrics: the host's cpu, memory, network and disk history.

`read(ctx)` is the latest point, for vpe_facts and the Prometheus export.
`metrics_query.query(ctx, q, step)` answers GET /hypervisor/metrics: the
points of a calendar range (a read need not compile the range arithmetic).

Values: cpu in % of the whole host (2 decimals), memory in MB (MiB) used =
total - available, network and disk rates in bytes per second (whole
numbers). A point with nothing sampled is null, never 0. The current,
unfinished point holds what has been sampled so far; points that have not
begun are not listed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_latest import latest_row

# How a point's start is shown, in host local time: its key in a range and its `time`.
LABEL_FORMAT = '%Y-%m-%d %H:%M'

# Series name -> (unit, index of the covered amount in a row's COLUMNS, index of the sum, decimals).
SERIES = (
    ('cpu', '%', 0, 1, 2),
    ('memory', 'MB', 2, 3, 0),
    ('network_in', 'B/s', 4, 5, 0),
    ('network_out', 'B/s', 4, 6, 0),
    ('disk_read', 'B/s', 7, 8, 0),
    ('disk_write', 'B/s', 7, 9, 0),
)
SERIES_NAMES = tuple(s[0] for s in SERIES)


def label(epoch):
    return time.strftime(LABEL_FORMAT, time.localtime(epoch))


def value_of(sums, series):
    _name, _unit, covered, total, decimals = series
    if not sums[covered]:
        return None
    value = sums[total] / sums[covered]
    return round(value, decimals) if decimals else int(round(value))


def latest_point(state_dir):
    """(start epoch or None, {series: value or None}) of the newest 5-minute point."""
    row = latest_row(state_dir)
    if row is None:
        return None, dict((name, None) for name in SERIES_NAMES)
    return row[0], dict((series[0], value_of(row[1:], series)) for series in SERIES)


def latest(state_dir):
    """The newest 5-minute point: {time, cpu, memory, ...}; all null without data."""
    start, values = latest_point(state_dir)
    point = dict(values)
    point['time'] = label(start) if start is not None else None
    return point


def read(ctx):
    """The latest point (the facts' `metrics` section)."""
    return latest(ctx.store.state_dir)
