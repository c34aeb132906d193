"""Range arithmetic of the metrics API against fixed clocks and real time zones."""

from collections import Counter

import pytest

from ansible_collections.vpe.hypervisor.api_shim import metrics_query
from ansible_collections.vpe.hypervisor.api_shim import metrics_ranges as ranges
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput
from metricstest import at, local_zone


def keys(points):
    return [key for key, _start, _end in points]


def elapsed(points):
    return sum(end - start for _key, start, end in points)


@pytest.fixture
def utc():
    with local_zone('UTC'):
        yield


@pytest.fixture
def berlin():
    with local_zone('Europe/Berlin'):
        yield


def test_today_runs_from_midnight_to_the_point_holding_now(utc):
    now = at(2026, 11, 27, 14, 49) + 35
    pts = ranges.points('today', 300, now)
    assert len(pts) == 14 * 12 + 10
    assert keys(pts)[0] == '2026-11-27 00:00'
    assert keys(pts)[-1] == '2026-11-27 14:45'
    assert pts[-1][1] <= now < pts[-1][2]
    # exactly at a boundary the new point has begun
    assert keys(ranges.points('today', 300, at(2026, 11, 27, 14, 50)))[-1] == '2026-11-27 14:50'
    assert keys(ranges.points('today', 300, at(2026, 11, 27))) == ['2026-11-27 00:00']


def test_yesterday_is_a_whole_day(utc):
    pts = ranges.points('yesterday', 300, at(2026, 11, 27, 0, 1))
    assert len(pts) == 288
    assert (keys(pts)[0], keys(pts)[-1]) == ('2026-11-26 00:00', '2026-11-26 23:55')
    assert elapsed(pts) == 86400


def test_weeks_start_on_monday_and_cross_the_year(utc):
    # Friday 2027-01-01 12:10: this week began Monday 2026-12-28
    now = at(2027, 1, 1, 12, 10)
    this = ranges.points('thisweek', 1800, now)
    assert keys(this)[0] == '2026-12-28 00:00'
    assert keys(this)[-1] == '2027-01-01 12:00'
    assert len(this) == 4 * 48 + 25
    last = ranges.points('lastweek', 1800, now)
    assert len(last) == 7 * 48
    assert (keys(last)[0], keys(last)[-1]) == ('2026-12-21 00:00', '2026-12-27 23:30')
    # on a Monday, lastweek is the seven days before
    assert keys(ranges.points('lastweek', 1800, at(2026, 12, 28, 0, 0)))[0] == '2026-12-21 00:00'
    assert keys(ranges.points('thisweek', 1800, at(2026, 12, 27, 23, 59)))[0] == '2026-12-21 00:00'


@pytest.mark.parametrize('now,q,first,last,count', [
    ((2026, 12, 31, 23, 59), 'thismonth', '2026-12-01 00:00', '2026-12-31 22:00', 31 * 12),
    ((2027, 1, 1, 0, 0), 'lastmonth', '2026-12-01 00:00', '2026-12-31 22:00', 31 * 12),
    ((2027, 1, 1, 0, 0), 'thismonth', '2027-01-01 00:00', '2027-01-01 00:00', 1),
    ((2026, 3, 31, 12, 0), 'lastmonth', '2026-02-01 00:00', '2026-02-28 22:00', 28 * 12),
    ((2028, 3, 1, 8, 0), 'lastmonth', '2028-02-01 00:00', '2028-02-29 22:00', 29 * 12),
    ((2028, 2, 29, 23, 30), 'thismonth', '2028-02-01 00:00', '2028-02-29 22:00', 29 * 12),
    ((2026, 5, 31, 9, 0), 'lastmonth', '2026-04-01 00:00', '2026-04-30 22:00', 30 * 12),
])
def test_month_ends_and_leap_days(utc, now, q, first, last, count):
    pts = ranges.points(q, 7200, at(*now))
    assert (keys(pts)[0], keys(pts)[-1], len(pts)) == (first, last, count)


def test_leap_day_yesterday_and_today(utc):
    assert keys(ranges.points('yesterday', 300, at(2028, 3, 1, 1)))[0] == '2028-02-29 00:00'
    assert keys(ranges.points('yesterday', 300, at(2028, 2, 29, 1)))[0] == '2028-02-28 00:00'


def test_step_that_does_not_divide_a_day_restarts_at_each_midnight(utc):
    pts = ranges.points('yesterday', 3900, at(2026, 11, 27, 9))
    assert len(pts) == 23  # 22 full points and a last one cut at midnight
    assert pts[-1][2] - pts[-1][1] == 86400 - 22 * 3900
    assert elapsed(pts) == 86400


def test_spring_forward_day_has_23_hours_and_no_skipped_keys(berlin):
    pts = ranges.points('yesterday', 300, at(2026, 3, 30, 12))
    assert len(pts) == 276
    assert elapsed(pts) == 23 * 3600
    assert not [k for k in keys(pts) if k.startswith('2026-03-29 02:')]
    assert keys(pts)[23:26] == ['2026-03-29 01:55', '2026-03-29 03:00', '2026-03-29 03:05']
    assert all(end - start == 300 for _k, start, end in pts)
    # two-hour points: 02:00 does not exist, so 00:00 runs (3 h of real time) until 04:00
    coarse = ranges.points('yesterday', 7200, at(2026, 3, 30, 12))
    assert keys(coarse)[:3] == ['2026-03-29 00:00', '2026-03-29 04:00', '2026-03-29 06:00']
    assert coarse[0][2] - coarse[0][1] == 3 * 3600
    assert len(coarse) == 11


def test_fall_back_day_has_25_hours_and_the_repeated_hour_shares_its_keys(berlin):
    pts = ranges.points('yesterday', 300, at(2026, 10, 26, 12))
    assert len(pts) == 300
    assert elapsed(pts) == 25 * 3600
    counts = Counter(keys(pts))
    assert len(counts) == 288
    assert sorted(k for k, n in counts.items() if n == 2) == ['2026-10-25 02:%02d' % m for m in range(0, 60, 5)]
    twice = [(start, end) for key, start, end in pts if key == '2026-10-25 02:00']
    assert twice[1][0] - twice[0][0] == 3600
    coarse = ranges.points('yesterday', 7200, at(2026, 10, 26, 12))
    assert keys(coarse)[:4] == ['2026-10-25 00:00', '2026-10-25 02:00', '2026-10-25 02:00', '2026-10-25 04:00']
    assert elapsed(coarse) == 25 * 3600


def test_dst_months(berlin):
    october = ranges.points('lastmonth', 7200, at(2026, 11, 3))
    assert len(october) == 31 * 12 + 1 and len(set(keys(october))) == 31 * 12
    march = ranges.points('lastmonth', 7200, at(2026, 4, 3))
    assert len(march) == 31 * 12 - 1
    assert elapsed(march) == 31 * 86400 - 3600
    # the week holding the change
    week = ranges.points('lastweek', 1800, at(2026, 10, 26, 8))
    assert len(week) == 7 * 48 + 2 and len(set(keys(week))) == 7 * 48


def test_zone_with_a_quarter_hour_offset_keeps_buckets_aligned():
    with local_zone('Asia/Kathmandu'):
        pts = ranges.points('yesterday', 300, at(2026, 11, 27, 9))
        assert len(pts) == 288
        assert all(start % 300 == 0 for _k, start, _e in pts)
        assert keys(pts)[0] == '2026-11-26 00:00'


@pytest.mark.parametrize('q,step,expected', [
    (None, None, ('today', 300)),
    ('', '', ('today', 300)),
    ('yesterday', None, ('yesterday', 300)),
    ('thisweek', None, ('thisweek', 1800)),
    ('lastweek', None, ('lastweek', 1800)),
    ('thismonth', None, ('thismonth', 7200)),
    ('lastmonth', None, ('lastmonth', 7200)),
    ('lastmonth', '300', ('lastmonth', 300)),
    ('today', '86400', ('today', 86400)),
    ('today', 3600, ('today', 3600)),
])
def test_default_and_given_steps(q, step, expected):
    assert metrics_query.check_query(q, step) == expected


@pytest.mark.parametrize('q', ['week', 'Today', 'today ', 'last_month', '0'])
def test_unknown_range_names_the_allowed_ones(q):
    with pytest.raises(InvalidInput) as caught:
        metrics_query.check_query(q, None)
    assert caught.value.field == 'q'
    assert 'today, yesterday, thisweek, lastweek, thismonth, lastmonth' in caught.value.detail


@pytest.mark.parametrize('step', ['0', '299', '301', '450', '86700', '-300', '1e3', '3OO', 'abc', '٣٠٠', True, 600.0])
def test_bad_step_names_the_rule(step):
    with pytest.raises(InvalidInput) as caught:
        metrics_query.check_query('today', step)
    assert caught.value.field == 'step'
    assert 'multiple of 300 from 300 to 86400' in caught.value.detail


def test_a_skipped_midnight_starts_the_day_at_the_first_existing_minute():
    # Sao Paulo moved its clocks at midnight: 2018-11-04 began at 01:00, and 2019-02-16 had 23:xx twice.
    with local_zone('America/Sao_Paulo'):
        spring = ranges.points('yesterday', 300, at(2018, 11, 5, 12))
        autumn = ranges.points('yesterday', 300, at(2019, 2, 17, 12))
    assert (len(spring), keys(spring)[0], elapsed(spring)) == (276, '2018-11-04 01:00', 23 * 3600)
    assert (len(autumn), len(set(keys(autumn))), elapsed(autumn)) == (300, 288, 25 * 3600)
    assert keys(autumn)[-1] == '2019-02-16 23:55'
