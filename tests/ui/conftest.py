"""A shim on the real libvirtd over a state dir whose metrics store holds two
months of made-up but plausible samples, with a known gap yesterday."""

import math
import random
import time

import pytest

import metricstest
import vpetest
from ansible_collections.vpe.hypervisor.api_shim import metrics_ranges

GAP_HOURS = (10, 12)  # yesterday 10:00-12:00 (host time) has no samples


def plausible(bucket):
    """A daily rhythm with some deterministic jitter, in the API's units."""
    lt = time.localtime(bucket)
    day = (lt.tm_hour * 60 + lt.tm_min) / 1440.0
    wave = 0.5 - 0.5 * math.cos(2 * math.pi * day)  # 0 at midnight, 1 at noon
    jitter = random.Random(bucket).random()
    return {
        'cpu': round(8 + 45 * wave + 6 * jitter, 2),
        'memory': 6000 + int(2500 * wave + 300 * jitter),
        'net_in': 200000 + 1800000 * wave * (0.7 + 0.6 * jitter),
        'net_out': 80000 + 600000 * wave * (0.7 + 0.6 * jitter),
        'disk_read': 50000 + 900000 * wave * jitter,
        'disk_write': 300000 + 1200000 * wave * (0.5 + jitter),
    }


@pytest.fixture(scope='module')
def seeded_shim(tmp_path_factory):
    """(shim, gap) with the store seeded from the start of last month to now,
    except the gap [start, end) epochs yesterday."""
    workdir = tmp_path_factory.mktemp('ui')
    state_dir = workdir / 'state'
    now = time.time()
    first = metrics_ranges.range_bounds('lastmonth', now)[0]
    yesterday = metrics_ranges.range_bounds('yesterday', now)[0]
    gap = (yesterday + GAP_HOURS[0] * 3600, yesterday + GAP_HOURS[1] * 3600)
    metricstest.seed(state_dir, first, now, gaps=[gap], values=plausible)
    shim = vpetest.Shim(workdir, state_dir=state_dir)
    yield shim, gap
    shim.stop()
