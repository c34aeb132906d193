# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calendar ranges of the metrics API in host local time, cut into points.

A range (q) is a calendar period in the host's local time zone (the process's
TZ, as `time.localtime` sees it): a day, a Monday week or a month, from its
first local midnight to the local midnight after it.

Each day of the range is cut on its own wall clock: a point is every local
time that is a multiple of `step` after midnight (00:00, 00:05, ... for 5
minutes) and exists on that day; a point runs, in real elapsed time, until
the next point (or the next midnight). Days therefore always start at 00:00,
and on a day without a clock change a point is exactly `step` seconds long.

Clock changes (DST):
- a wall time that does not exist (the hour skipped in spring) has no point,
  so a 23-hour day has 276 five-minute points;
- a wall time that occurs twice (the hour repeated in autumn) has a point at
  each occurrence, so a 25-hour day has 300 five-minute intervals, but both
  carry the same "YYYY-MM-DD HH:MM" key: they are merged into one point whose
  value is the exact average over both intervals (288 keys). Nothing sampled
  is dropped and no key is invented.

Only the standard library's `time` module is used (no zoneinfo: module_utils
run on Python 3.8); tests switch zones with TZ and time.tzset().
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics import label

BUCKET = 300
DAY = 86400
MAX_STEP = DAY

QUERIES = ('today', 'yesterday', 'thisweek', 'lastweek', 'thismonth', 'lastmonth')
DEFAULT_QUERY = 'today'
DEFAULT_STEP = {
    'today': 300, 'yesterday': 300,
    'thisweek': 1800, 'lastweek': 1800,
    'thismonth': 7200, 'lastmonth': 7200,
}


def local_date(epoch):
    lt = time.localtime(epoch)
    return datetime.date(lt.tm_year, lt.tm_mon, lt.tm_mday)


def _first_of_month(day):
    return day.replace(day=1)


def _next_month(day):
    if day.month == 12:
        return datetime.date(day.year + 1, 1, 1)
    return datetime.date(day.year, day.month + 1, 1)


def period(q, now):
    """(first day, day after the last) of range q, as dates in local time."""
    today = local_date(now)
    if q == 'today':
        return today, today + datetime.timedelta(days=1)
    if q == 'yesterday':
        return today - datetime.timedelta(days=1), today
    monday = today - datetime.timedelta(days=today.weekday())
    if q == 'thisweek':
        return monday, monday + datetime.timedelta(days=7)
    if q == 'lastweek':
        return monday - datetime.timedelta(days=7), monday
    first = _first_of_month(today)
    if q == 'thismonth':
        return first, _next_month(first)
    if q == 'lastmonth':
        return _first_of_month(first - datetime.timedelta(days=1)), first
    raise ValueError('unknown range %r' % (q,))


def wall_epochs(day, seconds):
    """Every epoch at which the local clock reads `day` 00:00 + seconds.

    Empty when that wall time does not exist (skipped by a clock change), two
    epochs when it occurs twice. mktime is asked with isdst=0 and isdst=1 and
    only answers that read back as the same wall time are kept.
    """
    hour, rest = divmod(seconds, 3600)
    minute, second = divmod(rest, 60)
    wanted = (day.year, day.month, day.day, hour, minute, second)
    found = set()
    for isdst in (0, 1):
        try:
            epoch = int(time.mktime((day.year, day.month, day.day, hour, minute, second, 0, 0, isdst)))
        except (OverflowError, ValueError):
            continue
        lt = time.localtime(epoch)
        if (lt.tm_year, lt.tm_mon, lt.tm_mday, lt.tm_hour, lt.tm_min, lt.tm_sec) == wanted:
            found.add(epoch)
    return sorted(found)


def day_start(day):
    """The first instant of local date `day` (its midnight, when that exists)."""
    found = wall_epochs(day, 0)
    if found:
        return found[0]
    # Midnight skipped by a clock change (some zones switch at 00:00): the day
    # begins where the clock jumps to; mktime normalises forward into it.
    epoch = int(time.mktime((day.year, day.month, day.day, 0, 0, 0, 0, 0, -1)))
    while local_date(epoch - 1) == day:
        epoch -= BUCKET
    while local_date(epoch) != day:
        epoch += 60
    return epoch


def day_points(day, step, start=None, end=None):
    """[(key, start epoch, end epoch)] of the points of one local day, in time order.

    `start` and `end` are the day's and the next day's day_start, when known.
    """
    start = day_start(day) if start is None else start
    end = day_start(day + datetime.timedelta(days=1)) if end is None else end
    if end - start == DAY and time.localtime(start).tm_gmtoff == time.localtime(end).tm_gmtoff:
        # No clock change: keys are plain arithmetic on the wall clock.
        prefix = day.strftime('%Y-%m-%d ')
        return [(prefix + '%02d:%02d' % (k // 3600, k % 3600 // 60), start + k, min(start + k + step, end))
                for k in range(0, DAY, step)]
    starts = set([start])
    for seconds in range(step, DAY, step):
        starts.update(wall_epochs(day, seconds))
    starts = sorted(s for s in starts if start <= s < end)
    bounds = starts + [end]
    return [(label(bounds[i]), bounds[i], bounds[i + 1]) for i in range(len(starts))]


def points(q, step, now):
    """[(key, start, end)] for range q at `step` seconds, up to the point holding `now`.

    Points that have not begun yet are left out, so a current range ends with
    the unfinished point that holds `now`. Keys repeat only in a repeated hour.
    """
    first, stop = period(q, now)
    out = []
    day = first
    start = day_start(day)
    while day < stop and start <= now:
        following = day + datetime.timedelta(days=1)
        end = day_start(following)
        for point in day_points(day, step, start, end):
            if point[1] > now:
                return out
            out.append(point)
        day, start = following, end
    return out


def range_bounds(q, now):
    """(start, end) epochs of range q."""
    first, stop = period(q, now)
    return day_start(first), day_start(stop)
