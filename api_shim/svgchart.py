# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small line-chart renderer: one metric series of GET /hypervisor/metrics
as a standalone SVG document (no plotting library).

The picture matches the host page's charts (api_shim/ui/app.js draws the same
thing in the browser): the x axis spans the whole calendar range in host wall
time, the y axis starts at 0 with "nice" ticks and the unit scaled to the
values (B/s -> KB/s -> MB/s ..., 1024-based like the rest of the API), and a
null point breaks the line: every run of consecutive values is its own
<path class="seg">, so a gap in the store is a gap in the picture.
"""

import datetime
import math
from xml.sax.saxutils import escape, quoteattr

WIDTH = 720
HEIGHT = 240
MARGIN = {'left': 64, 'right': 16, 'top': 30, 'bottom': 28}
COLOR = '#2f6fb0'
TITLES = {
    'cpu': 'CPU', 'memory': 'Memory', 'network_in': 'Network in', 'network_out': 'Network out',
    'disk_read': 'Disk read', 'disk_write': 'Disk write',
}
SCALED_UNITS = {
    'B/s': ('B/s', 'KB/s', 'MB/s', 'GB/s', 'TB/s'),
    'MB': ('MB', 'GB', 'TB'),
}
WEEKDAYS = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
KEY_FORMAT = '%Y-%m-%d %H:%M'


def parse_key(key):
    return datetime.datetime.strptime(key, KEY_FORMAT)


def range_span(q, first):
    """(start, end) wall-clock datetimes of range q whose first point is `first`."""
    start = datetime.datetime(first.year, first.month, first.day)
    if q in ('today', 'yesterday'):
        return start, start + datetime.timedelta(days=1)
    if q in ('thisweek', 'lastweek'):
        return start, start + datetime.timedelta(days=7)
    if start.month == 12:
        return start, start.replace(year=start.year + 1, month=1)
    return start, start.replace(month=start.month + 1)


def scale_unit(unit, top):
    """(divisor, label) so that `top` reads as a number of at most 4 digits."""
    names = SCALED_UNITS.get(unit)
    if not names:
        return 1, unit
    divisor = 1
    index = 0
    while index + 1 < len(names) and top / divisor >= 1024:
        divisor *= 1024
        index += 1
    return divisor, names[index]


def nice_step(raw):
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= raw."""
    if raw <= 0:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw * (1 - 1e-9):
            return factor * power
    return 10 * power


def y_axis(top):
    """(step, ymax): about four nice intervals from 0 to at least `top`."""
    if not top or top <= 0:
        return 0.25, 1
    step = nice_step(top / 4.0)
    return step, step * math.ceil(top / step - 1e-9)


def fmt_number(value):
    if value == int(value):
        return '%d' % value
    text = ('%.2f' % value).rstrip('0').rstrip('.')
    return text


def x_ticks(q, start, end):
    """[(datetime, label)] of the x axis."""
    ticks = []
    if q in ('today', 'yesterday'):
        for hour in range(0, 24, 3):
            ticks.append((start + datetime.timedelta(hours=hour), '%02d:00' % hour))
    elif q in ('thisweek', 'lastweek'):
        for day in range(7):
            when = start + datetime.timedelta(days=day)
            ticks.append((when, '%s %d' % (WEEKDAYS[when.weekday()], when.day)))
    else:
        when = start
        while when < end:
            ticks.append((when, when.strftime('%m-%d')))
            when += datetime.timedelta(days=7)
    return ticks


def segments(datas):
    """Runs of consecutive non-null points: [[(key, value), ...], ...]."""
    runs = []
    current = []
    for key, value in datas:
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((key, value))
    if current:
        runs.append(current)
    return runs


def render(series, q, unit, datas, step=None, width=WIDTH, height=HEIGHT):
    """The SVG document (text) of one series.

    `datas` is the API's {"YYYY-MM-DD HH:MM": number|null} in time order (or a
    list of pairs); keys are host wall-clock times.
    """
    items = list(datas.items()) if isinstance(datas, dict) else list(datas)
    values = [v for _k, v in items if v is not None]
    top = max(values) if values else 0
    divisor, shown_unit = scale_unit(unit, top)
    tick_step, ymax = y_axis(top / divisor)
    left, right, top_m, bottom = MARGIN['left'], MARGIN['right'], MARGIN['top'], MARGIN['bottom']
    pw, ph = width - left - right, height - top_m - bottom
    title = '%s (%s), %s' % (TITLES.get(series, series), shown_unit, q)

    out = []
    add = out.append
    add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
        'class="vpe-chart" font-family="DejaVu Sans, Verdana, sans-serif" font-size="11" '
        'data-series=%s data-q=%s data-unit=%s data-scale="%d" data-ymax="%s" data-points="%d"%s>'
        % (width, height, width, height, quoteattr(series), quoteattr(q), quoteattr(shown_unit),
           divisor, fmt_number(ymax), len(values), (' data-step="%d"' % step) if step else ''))
    add('<title>%s</title>' % escape(title))
    add('<rect width="100%" height="100%" fill="#ffffff"/>')
    add('<text x="%d" y="18" font-size="13" font-weight="bold" fill="#222">%s</text>'
        % (left, escape(TITLES.get(series, series))))
    add('<text x="%d" y="18" text-anchor="end" fill="#666">%s</text>' % (width - right, escape(q)))

    # y grid, tick labels and unit
    add('<g class="axis-y" fill="#555" text-anchor="end">')
    count = int(round(ymax / tick_step))
    for index in range(count + 1):
        value = tick_step * index
        y = top_m + ph - ph * value / ymax
        add('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e3e6ea"/>' % (left, left + pw, y, y))
        add('<text x="%d" y="%.1f">%s</text>' % (left - 6, y + 4, escape(fmt_number(value))))
    add('</g>')
    add('<text class="unit" x="%d" y="%d" fill="#555" text-anchor="end">%s</text>'
        % (left - 6, top_m - 8, escape(shown_unit)))
    add('<rect class="plot" x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#b8bec6"/>'
        % (left, top_m, pw, ph))

    if not items:
        add('<text x="%d" y="%d" text-anchor="middle" fill="#888">no data</text>'
            % (left + pw // 2, top_m + ph // 2))
        add('</svg>')
        return '\n'.join(out)

    start, end = range_span(q, parse_key(items[0][0]))
    span = (end - start).total_seconds()

    def x_of(when):
        return left + pw * (when - start).total_seconds() / span

    add('<g class="axis-x" fill="#555" text-anchor="middle">')
    for when, label in x_ticks(q, start, end):
        x = x_of(when)
        add('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#b8bec6"/>' % (x, x, top_m + ph, top_m + ph + 4))
        add('<text x="%.1f" y="%d">%s</text>' % (x, top_m + ph + 16, escape(label)))
    add('</g>')

    add('<g class="series" fill="none" stroke="%s" stroke-width="1.6" stroke-linejoin="round" '
        'stroke-linecap="round">' % COLOR)
    for run in segments(items):
        coords = ['%.1f,%.1f' % (x_of(parse_key(key)), top_m + ph - ph * min(value / divisor, ymax) / ymax)
                  for key, value in run]
        if len(coords) == 1:
            d = 'M%s h0' % coords[0]
        else:
            d = 'M%s L%s' % (coords[0], ' '.join(coords[1:]))
        add('<path class="seg" data-count="%d" d="%s"/>' % (len(run), d))
    add('</g>')
    add('</svg>')
    return '\n'.join(out)
