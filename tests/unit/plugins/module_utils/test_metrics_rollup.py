"""The 30-minute and 2-hour rollups of the metrics store, on a real store on
disk: written with the buckets, equal to their sums, read for coarse points,
computed for a store of the first schema, pruned per level."""

import random
import sqlite3

import pytest

from ansible_collections.vpe.hypervisor.api_shim import metrics_query
from ansible_collections.vpe.hypervisor.api_shim import metrics_ranges as ranges
from ansible_collections.vpe.hypervisor.api_shim.metrics_collect import deltas
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import (
    COLUMNS, LEVELS, TABLES, MetricsStore, db_path, pieces)
from metricstest import FakeStateCtx, at, local_zone, seed


def table(state_dir, name):
    conn = sqlite3.connect(db_path(str(state_dir)))
    try:
        return dict((row[0], row[1:]) for row in conn.execute('SELECT bucket, %s FROM %s' % (', '.join(COLUMNS), name)))
    finally:
        conn.close()


def aggregated(buckets, level):
    out = {}
    for bucket, row in buckets.items():
        acc = out.setdefault(bucket // level * level, [0.0] * len(COLUMNS))
        for i, value in enumerate(row):
            acc[i] += value
    return out


def assert_rollups_match_buckets(state_dir):
    buckets = table(state_dir, 'buckets')
    assert buckets
    for level in LEVELS[1:]:
        rollup = table(state_dir, TABLES[level])
        expected = aggregated(buckets, level)
        assert sorted(rollup) == sorted(expected), level
        for block, row in expected.items():
            assert rollup[block] == pytest.approx(row, rel=1e-9, abs=1e-6), (level, block)


def collector_samples(start, count, interval=60):
    """What a collector adds, sample by sample: counters moving by varying amounts."""
    rnd = random.Random(7)
    cpu = [0.0, 0.0]
    nic = [0, 0]
    disk = [0, 0]
    previous = None
    for i in range(count):
        busy = rnd.uniform(0, interval)
        cpu = [cpu[0] + busy, cpu[1] + interval * 2]
        nic = [nic[0] + rnd.randrange(10 ** 6), nic[1] + rnd.randrange(10 ** 6)]
        disk = [disk[0] + rnd.randrange(10 ** 7), disk[1] + rnd.randrange(10 ** 7)]
        current = {'clock': 1000.0 + i * interval + rnd.uniform(0, 1), 'wall': start + i * interval + 0.5,
                   'cpu': tuple(cpu), 'memory_mib': rnd.uniform(1000, 9000),
                   'nics': {'eth0': tuple(nic)}, 'disks': {'vda': tuple(disk)}}
        yield deltas(previous, current, 2 * interval + 300)
        previous = current


def test_every_sample_adds_to_the_rollups_what_it_adds_to_the_buckets(tmp_path):
    store = MetricsStore(str(tmp_path), create=True)
    try:
        for contribution in collector_samples(at(2026, 11, 27, 9, 47), 300):  # 5 hours, across block edges
            store.add(contribution)
    finally:
        store.close()
    assert len(table(tmp_path, 'rollup_7200')) >= 3 and len(table(tmp_path, 'rollup_1800')) >= 10
    assert_rollups_match_buckets(tmp_path)


def test_a_store_of_the_first_schema_gets_its_rollups_when_a_writer_opens_it(tmp_path):
    with local_zone('UTC'):
        now = at(2026, 11, 27, 14, 49)
        seed(tmp_path, now - 40 * 86400, now + 1)
        before = metrics_query.query(FakeStateCtx(tmp_path), 'lastmonth', now=now)
        conn = sqlite3.connect(db_path(str(tmp_path)))
        conn.execute('DROP TABLE rollup_1800')
        conn.execute('DROP TABLE rollup_7200')
        conn.execute('PRAGMA user_version=1')  # as 0.1.0 left it: buckets only
        conn.commit()
        conn.close()

        reader = MetricsStore(str(tmp_path))  # a reader does not upgrade: it sums the buckets
        assert reader.levels() == (300,)
        reader.close()
        assert metrics_query.query(FakeStateCtx(tmp_path), 'lastmonth', now=now) == before

        MetricsStore(str(tmp_path), create=True).close()  # the collector starting
        assert_rollups_match_buckets(tmp_path)
        store = MetricsStore(str(tmp_path))
        assert store.levels() == LEVELS
        assert store.conn.execute('PRAGMA user_version').fetchone()[0] == 2
        store.close()
        assert metrics_query.query(FakeStateCtx(tmp_path), 'lastmonth', now=now) == before


def rows_read(state_dir, q, step, now):
    points = ranges.points(q, step, now)
    store = MetricsStore(str(state_dir))
    try:
        store.sums([(start, end) for _key, start, end in points])
        return len(points), store.rows_read
    finally:
        store.close()


def test_a_month_reads_one_2_hour_row_per_point_and_the_same_values(tmp_path):
    with local_zone('UTC'):
        now = at(2026, 11, 27, 14, 49) + 35
        seed(tmp_path, now - 62 * 86400, now + 1)
        count, read = rows_read(tmp_path, 'thismonth', 7200, now)
        assert count == 26 * 12 + 8 and read == {7200: count}
        count, read = rows_read(tmp_path, 'lastweek', 1800, now)
        assert read == {1800: count}
        assert rows_read(tmp_path, 'today', 300, now)[1] == {300: 178}
        month = metrics_query.query(FakeStateCtx(tmp_path), 'thismonth', now=now)

        # Without its buckets the month still answers: the values come from the rollups.
        conn = sqlite3.connect(db_path(str(tmp_path)))
        conn.execute('DELETE FROM buckets WHERE bucket >= ?', (at(2026, 11, 1),))
        conn.commit()
        conn.close()
        assert metrics_query.query(FakeStateCtx(tmp_path), 'thismonth', now=now) == month
        assert set(metrics_query.query(FakeStateCtx(tmp_path), 'thismonth', 300, now=now)['cpu']['datas']
                   .values()) == {None}


def test_points_off_the_utc_grid_mix_levels_and_stay_exact(tmp_path, monkeypatch):
    """Berlin's 2-hour points start on odd UTC hours in winter: each is four 30-minute
    rows; India's half-hour offset: 5-minute heads and tails around them."""
    for zone, most in (('Europe/Berlin', 4), ('Asia/Kolkata', 9)):
        state_dir = tmp_path / zone.replace('/', '-')
        with local_zone(zone):
            now = at(2026, 11, 27, 14, 49) + 35
            seed(state_dir, now - 62 * 86400, now + 1)
            count, read = rows_read(state_dir, 'thismonth', 7200, now)
            assert sum(read.values()) <= most * count and read.get(300, 0) < 24 * count / 2
            answers = [metrics_query.query(FakeStateCtx(state_dir), q, step, now=now)
                       for q, step in (('thismonth', 7200), ('lastweek', 3600), ('today', 900))]
            monkeypatch.setattr(MetricsStore, 'levels', lambda self: (300,))  # the buckets alone
            assert answers == [metrics_query.query(FakeStateCtx(state_dir), q, step, now=now)
                               for q, step in (('thismonth', 7200), ('lastweek', 3600), ('today', 900))]
            monkeypatch.undo()


@pytest.mark.parametrize('start,end,expected', [
    (7200, 14400, [(7200, 7200, 14400)]),
    (3600, 14400, [(1800, 3600, 7200), (7200, 7200, 14400)]),
    (3900, 9300, [(300, 3900, 5400), (1800, 5400, 9000), (300, 9000, 9300)]),
    (100, 700, [(300, 300, 900)]),  # buckets that start inside the range, as before rollups
])
def test_pieces_take_the_coarsest_level_that_fits(start, end, expected):
    assert pieces(start, end) == expected


def test_each_level_is_pruned_at_its_own_retention(tmp_path):
    with local_zone('UTC'):
        now = at(2027, 1, 31, 23, 59)
        seed(tmp_path, now - 420 * 86400, now)
        cutoffs = metrics_query.retention_cutoffs(now)
        short = metrics_query.retention_cutoff(now)
        assert cutoffs[300] == cutoffs[1800] == short and cutoffs[7200] <= now - 400 * 86400
        store = MetricsStore(str(tmp_path))
        removed = store.prune(cutoffs)
        store.close()
        buckets, halves, twos = (sorted(table(tmp_path, TABLES[level])) for level in LEVELS)
        assert removed and buckets[0] == -(-short // 300) * 300
        assert halves[0] <= short < halves[0] + 1800  # the block holding the cutoff stays
        assert twos[0] + 7200 > cutoffs[7200] >= twos[0]
        assert twos[0] < now - 399 * 86400 < buckets[0]
        # every range a client may ask still answers in full
        month = metrics_query.query(FakeStateCtx(tmp_path), 'lastmonth', now=now)['cpu']['datas']
        assert len(month) == 31 * 12 and None not in month.values()
        assert_rollups_match_buckets_after(tmp_path, short)


def assert_rollups_match_buckets_after(state_dir, since):
    """Blocks wholly after the cutoff still equal their buckets."""
    buckets = table(state_dir, 'buckets')
    for level in LEVELS[1:]:
        rollup = table(state_dir, TABLES[level])
        for block, row in aggregated(buckets, level).items():
            if block >= since:
                assert rollup[block] == pytest.approx(row, rel=1e-9, abs=1e-6)
