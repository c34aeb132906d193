"""The metrics service over a seeded store: 62 days of 5-minute buckets, with
gaps, answering every range at fixed clocks."""

import os

import pytest

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import facts
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics import metrics
from ansible_collections.vpe.hypervisor.api_shim import metrics_query
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import MetricsStore, db_path
from metricstest import FakeStateCtx, at, bucket_row, default_values, local_zone, seed

SERIES = {'cpu': '%', 'memory': 'MB', 'network_in': 'B/s', 'network_out': 'B/s',
          'disk_read': 'B/s', 'disk_write': 'B/s'}


@pytest.fixture(scope='module')
def seeded(tmp_path_factory):
    """UTC host, now = Friday 2026-11-27 14:49:35; 62 days of buckets up to now.

    Gaps: yesterday 10:00-13:00, and the whole of 2026-10-10 (last month).
    """
    with local_zone('UTC'):
        state_dir = tmp_path_factory.mktemp('metrics') / 'state'
        now = at(2026, 11, 27, 14, 49) + 35
        gaps = [(at(2026, 11, 26, 10), at(2026, 11, 26, 13)), (at(2026, 10, 10), at(2026, 10, 11))]
        seed(state_dir, now - 62 * 86400, now + 1, gaps=gaps)
        yield FakeStateCtx(state_dir), now


def nulls(datas):
    return sorted(k for k, v in datas.items() if v is None)


@pytest.mark.parametrize('q,step,count,first,last', [
    ('today', 300, 178, '2026-11-27 00:00', '2026-11-27 14:45'),
    ('yesterday', 300, 288, '2026-11-26 00:00', '2026-11-26 23:55'),
    ('thisweek', 1800, 4 * 48 + 30, '2026-11-23 00:00', '2026-11-27 14:30'),
    ('lastweek', 1800, 7 * 48, '2026-11-16 00:00', '2026-11-22 23:30'),
    ('thismonth', 7200, 26 * 12 + 8, '2026-11-01 00:00', '2026-11-27 14:00'),
    ('lastmonth', 7200, 31 * 12, '2026-10-01 00:00', '2026-10-31 22:00'),
])
def test_every_range_has_its_points_in_the_spec_envelope(seeded, q, step, count, first, last):
    ctx, now = seeded
    with local_zone('UTC'):
        doc = metrics_query.query(ctx, q, now=now)
    assert doc['duration'] == q and doc['step'] == step
    assert set(doc) == {'duration', 'step'} | set(SERIES)
    for name, unit in SERIES.items():
        assert doc[name]['unit'] == unit
        datas = doc[name]['datas']
        assert len(datas) == count
        assert (min(datas), max(datas)) == (first, last)
        assert all(v is None or isinstance(v, (int, float)) for v in datas.values())


def test_gaps_are_null_exactly_where_nothing_was_sampled(seeded):
    ctx, now = seeded
    with local_zone('UTC'):
        yesterday = metrics_query.query(ctx, 'yesterday', now=now)['cpu']['datas']
        week = metrics_query.query(ctx, 'thisweek', now=now)['memory']['datas']
        month = metrics_query.query(ctx, 'thismonth', now=now)['disk_write']['datas']
        last = metrics_query.query(ctx, 'lastmonth', now=now)['network_in']['datas']
        today = metrics_query.query(ctx, 'today', now=now)['cpu']['datas']
    assert nulls(yesterday) == ['2026-11-26 %02d:%02d' % (h, m) for h in (10, 11, 12) for m in range(0, 60, 5)]
    assert nulls(week) == ['2026-11-26 %02d:%02d' % (h, m) for h in (10, 11, 12) for m in (0, 30)]
    # 12:00-14:00 holds an hour of data: not null, the average of what is there
    assert nulls(month) == ['2026-11-26 10:00']
    assert month['2026-11-26 12:00'] == 2000
    assert nulls(last) == ['2026-10-10 %02d:00' % h for h in range(0, 24, 2)]
    assert nulls(today) == []


def test_a_coarse_point_is_the_exact_average_of_its_buckets(seeded):
    ctx, now = seeded
    with local_zone('UTC'):
        start = at(2026, 10, 20, 6)
        expected = [default_values(b) for b in range(start, start + 7200, 300)]
        doc = metrics_query.query(ctx, 'lastmonth', now=now)
        fine = metrics_query.query(ctx, 'lastmonth', step='1800', now=now)
    point = '2026-10-20 06:00'
    assert doc['cpu']['datas'][point] == round(sum(v['cpu'] for v in expected) / 24, 2)
    assert doc['memory']['datas'][point] == round(sum(v['memory'] for v in expected) / 24)
    assert doc['network_in']['datas'][point] == round(sum(v['net_in'] for v in expected) / 24)
    assert doc['disk_read']['datas'][point] == 500
    assert fine['step'] == 1800 and len(fine['cpu']['datas']) == 31 * 48


def test_future_points_are_not_listed_and_later_data_is_ignored(seeded):
    ctx, now = seeded
    with local_zone('UTC'):
        early = metrics_query.query(ctx, 'today', now=at(2026, 11, 27, 1, 2))
    assert list(early['cpu']['datas']) == ['2026-11-27 00:%02d' % m for m in range(0, 60, 5)] + ['2026-11-27 01:00']


def test_the_repeated_hour_is_merged_into_one_key_with_the_exact_average(tmp_path):
    with local_zone('Europe/Berlin'):
        first_pass = at(2026, 10, 25, 2, 0, isdst=1)
        second_pass = at(2026, 10, 25, 2, 0, isdst=0)
        assert second_pass - first_pass == 3600

        def values(bucket):
            if first_pass <= bucket < second_pass:
                return {'cpu': 10.0}
            if second_pass <= bucket < second_pass + 3600:
                return {'cpu': 30.0}
            return {'cpu': 50.0}
        seed(tmp_path, at(2026, 10, 25), at(2026, 10, 26), values=values)
        ctx = FakeStateCtx(tmp_path)
        now = at(2026, 10, 26, 12)
        fine = metrics_query.query(ctx, 'yesterday', now=now)['cpu']['datas']
        coarse = metrics_query.query(ctx, 'yesterday', step=7200, now=now)['cpu']['datas']
    assert len(fine) == 288
    assert fine['2026-10-25 02:00'] == 20.0 and fine['2026-10-25 02:55'] == 20.0
    assert fine['2026-10-25 01:55'] == 50.0 and fine['2026-10-25 03:00'] == 50.0
    assert list(coarse)[:3] == ['2026-10-25 00:00', '2026-10-25 02:00', '2026-10-25 04:00']
    assert coarse['2026-10-25 02:00'] == 30.0  # (10 + 30 + 50) / 3 over its three hours


def test_without_a_store_everything_is_null_and_nothing_is_created(tmp_path):
    ctx = FakeStateCtx(tmp_path / 'state')
    doc = metrics_query.query(ctx, 'today')
    assert doc['cpu']['datas'] and set(doc['cpu']['datas'].values()) == {None}
    assert metrics.read(ctx) == dict.fromkeys(['time'] + list(SERIES))
    assert not (tmp_path / 'state').exists()


def test_read_is_the_latest_point_and_facts_carry_it(tmp_path, test_ctx, state_dir):
    with local_zone('UTC'):
        store = MetricsStore(str(state_dir), create=True)
        latest_row = bucket_row(at(2026, 11, 27, 9, 55), cpu=12.345, memory=2048, net_in=10.4, net_out=20,
                                disk_read=0, disk_write=4096.6)
        store.conn.execute('INSERT INTO buckets VALUES %s' % (latest_row,))
        store.conn.execute('INSERT INTO buckets VALUES %s' % (bucket_row(at(2026, 11, 27, 9, 50), cpu=99),))
        store.close()
        expected = {'time': '2026-11-27 09:55', 'cpu': 12.35, 'memory': 2048, 'network_in': 10, 'network_out': 20,
                    'disk_read': 0, 'disk_write': 4097}
        assert metrics.read(test_ctx) == expected
        gathered = facts.gather(test_ctx, ['metrics'])
    assert gathered == {'metrics': expected}
    assert 'metrics' in facts.SECTION_NAMES


def test_store_is_wal_and_prunes_only_what_is_past_retention(tmp_path):
    with local_zone('UTC'):
        now = at(2027, 1, 31, 23, 59)
        cutoff = metrics_query.retention_cutoff(now)
        assert cutoff <= now - 62 * 86400
        assert cutoff <= at(2026, 12, 1)  # all of last month stays
        seed(tmp_path, now - 70 * 86400, now)
        store = MetricsStore(str(tmp_path))
        assert store.conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
        removed = store.prune(cutoff)
        kept = store.rows(0, now + 1)
        store.close()
        assert removed == len(range(now - 70 * 86400 - (now % 300), cutoff, 300))
        assert kept[0][0] >= cutoff and len(kept) >= 62 * 288
        assert len(metrics_query.query(FakeStateCtx(tmp_path), 'lastmonth', now=now)['cpu']['datas']) == 31 * 12
        assert None not in metrics_query.query(FakeStateCtx(tmp_path), 'lastmonth', now=now)['cpu']['datas'].values()
    assert oct(os.stat(db_path(str(tmp_path))).st_mode & 0o777) == '0o640'
