"""GET /hypervisor/metrics.svg over HTTP on a shim with a seeded metrics store,
the page's open routes, and the renderer on hand-made series."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ansible_collections.vpe.hypervisor.api_shim import svgchart

pytestmark = [pytest.mark.api, pytest.mark.libvirtd]

SVG = '{http://www.w3.org/2000/svg}'
SERIES_UNITS = {'cpu': '%', 'memory': 'GB', 'network_in': 'MB/s', 'network_out': 'KB/s',
                'disk_read': 'KB/s', 'disk_write': 'MB/s'}
UI_DIR = Path(svgchart.__file__).parent / 'ui'


def runs_of(datas):
    """Runs of consecutive non-null (key, value) of an API `datas` object."""
    runs, current = [], []
    for key, value in datas.items():
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((key, value))
    return runs + ([current] if current else [])


def parse_svg(text):
    root = ET.fromstring(text)
    assert root.tag == SVG + 'svg'
    plot = root.find('.//%srect[@class="plot"]' % SVG)
    geometry = {k: float(plot.get(k)) for k in ('x', 'y', 'width', 'height')}
    paths = root.findall('.//%spath[@class="seg"]' % SVG)
    points = [[tuple(float(n) for n in pair.split(','))
               for pair in re.findall(r'-?[\d.]+,-?[\d.]+', p.get('d'))] for p in paths]
    return root, geometry, points


@pytest.mark.parametrize('series', sorted(SERIES_UNITS))
def test_svg_holds_every_seeded_point_and_the_gap(seeded_shim, series):
    shim, _gap = seeded_shim
    api = shim.request('GET', '/hypervisor/metrics?q=yesterday', token='read').json()['metrics'][series]
    runs = runs_of(api['datas'])
    assert len(runs) == 2, 'the seeded store has one gap yesterday'

    resp = shim.request('GET', '/hypervisor/metrics.svg?q=yesterday&series=%s' % series, token='read')
    assert resp.status_code == 200, resp.text
    assert resp.headers['Content-Type'] == 'image/svg+xml'
    assert resp.headers['ETag']
    root, plot, segments = parse_svg(resp.text)
    assert root.get('data-series') == series
    assert root.find('.//%stext[@class="unit"]' % SVG).text == SERIES_UNITS[series]
    assert [len(s) for s in segments] == [len(r) for r in runs]

    # Every vertex reads back as the API's value on the chart's own scale.
    ymax = float(root.get('data-ymax')) * float(root.get('data-scale'))
    for run, segment in zip(runs, segments):
        xs = [x for x, _y in segment]
        assert xs == sorted(xs) and plot['x'] <= xs[0] and xs[-1] <= plot['x'] + plot['width']
        for (_key, value), (_x, y) in zip(run, segment):
            shown = (plot['y'] + plot['height'] - y) / plot['height'] * ymax
            assert shown == pytest.approx(value, abs=ymax * 0.1 / plot['height'] + 1e-9)
    # the gap lies between the segments: 10:00-12:00 of a 24-hour axis
    hour = plot['width'] / 24.0
    assert segments[0][-1][0] < plot['x'] + 10 * hour + 1 and segments[1][0][0] > plot['x'] + 12 * hour - 1


def test_svg_parameters_are_checked_and_named(seeded_shim):
    shim, _gap = seeded_shim
    for query, field in [('q=today', 'series'), ('series=cpu&q=someday', 'q'), ('series=swap', 'series'),
                         ('series=cpu&step=299', 'step'), ('series=cpu&step=abc', 'step'),
                         ('series=cpu&width=9', 'width')]:
        resp = shim.request('GET', '/hypervisor/metrics.svg?' + query, token='read')
        assert resp.status_code == 400, query
        assert resp.headers['Content-Type'].startswith('application/problem+json')
        assert resp.json()['field'] == field, resp.json()
    assert shim.request('GET', '/hypervisor/metrics.svg?series=cpu', token=None).status_code == 401
    wrong = shim.request('GET', '/hypervisor/metrics.svg?series=cpu', token='not-the-token-0000')
    assert wrong.status_code == 401 and wrong.json()['detail'] == 'token not accepted'

    # default range today, a step of the caller's choosing, ETag revalidation
    today = shim.request('GET', '/hypervisor/metrics.svg?series=cpu&step=3600', token='read')
    root, _plot, segments = parse_svg(today.text)
    assert root.get('data-q') == 'today' and root.get('data-step') == '3600'
    assert segments, 'today is seeded up to now'
    again = shim.request('GET', '/hypervisor/metrics.svg?series=cpu&step=3600', token='read',
                         headers={'If-None-Match': today.headers['ETag']})
    assert again.status_code in (200, 304)  # 200 when a new point began in between


def test_page_and_assets_are_open_small_and_kept_to_this_host(seeded_shim):
    shim, _gap = seeded_shim
    total = 0
    for path, ctype in [('/ui', 'text/html'), ('/ui/app.js', 'text/javascript'), ('/ui/style.css', 'text/css')]:
        resp = shim.request('GET', path, token=None)
        assert resp.status_code == 200 and resp.headers['Content-Type'].startswith(ctype)
        assert "default-src 'none'" in resp.headers['Content-Security-Policy']
        assert "connect-src 'self'" in resp.headers['Content-Security-Policy']
        total += len(resp.content)
        # nothing from another host: no absolute URL to load
        assert not re.search(r'(src|href)=["\']?(https?:)?//', resp.text)
        assert '@import' not in resp.text and 'url(' not in resp.text.replace('data:', '')
    assert total == sum(p.stat().st_size for p in UI_DIR.iterdir())
    assert total < 40 * 1024, 'the page should stay small: %d bytes' % total
    assert shim.request('GET', '/ui/other.js', token=None).status_code == 404
    assert shim.request('GET', '/ui/', token=None, allow_redirects=False).headers['Location'] == '/ui'


# -- the renderer alone ---------------------------------------------------------

def test_renderer_breaks_the_line_at_nulls_and_marks_lone_points():
    datas = {'2026-03-02 00:00': 1.0, '2026-03-02 00:05': 2.0, '2026-03-02 00:10': None,
             '2026-03-02 00:15': 5.5, '2026-03-02 00:20': None, '2026-03-02 00:25': 3.0,
             '2026-03-02 00:30': 4.0}
    root, _plot, segments = parse_svg(svgchart.render('cpu', 'today', '%', datas))
    assert [len(s) for s in segments] == [2, 1, 2]
    assert root.findall('.//%spath' % SVG)[1].get('d').endswith('h0')
    assert root.get('data-points') == '5' and root.get('data-ymax') == '6'
    labels = [t.text for t in root.findall('.//%sg[@class="axis-x"]/%stext' % (SVG, SVG))]
    assert labels[:3] == ['00:00', '03:00', '06:00']


@pytest.mark.parametrize('q,labels', [('thisweek', ['Mon 2', 'Tue 3']), ('lastmonth', ['03-01', '03-08'])])
def test_renderer_axes_by_range(q, labels):
    start = '2026-03-02 00:00' if q == 'thisweek' else '2026-03-01 00:00'
    root, _plot, segments = parse_svg(svgchart.render('network_in', q, 'B/s', {start: 3 * 1024 ** 2}))
    assert [t.text for t in root.findall('.//%sg[@class="axis-x"]/%stext' % (SVG, SVG))][:2] == labels
    assert root.find('.//%stext[@class="unit"]' % SVG).text == 'MB/s'
    assert len(segments) == 1


def test_renderer_with_nothing_sampled():
    root, _plot, segments = parse_svg(svgchart.render('memory', 'today', 'MB', {'2026-03-02 00:00': None}))
    assert segments == [] and root.get('data-points') == '0'
    root, _plot, segments = parse_svg(svgchart.render('memory', 'today', 'MB', {}))
    assert segments == [] and 'no data' in ET.tostring(root, encoding='unicode')


def test_openapi_documents_the_chart_and_the_open_page(seeded_shim):
    shim, _gap = seeded_shim
    paths = shim.request('GET', '/openapi.json', token=None).json()['paths']
    chart = paths['/hypervisor/metrics.svg']['get']
    assert 'image/svg+xml' in chart['responses']['200']['content']
    assert {p['name'] for p in chart['parameters']} == {'q', 'series', 'step'}
    for path in ('/ui', '/ui/app.js', '/ui/style.css'):
        assert paths[path]['get']['security'] == []
