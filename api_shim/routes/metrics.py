# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /hypervisor/metrics (JSON history), GET /hypervisor/metrics.svg (one
metric chart, for the host page) and GET /metrics (Prometheus text, made by
api_shim/prometheus.py)."""

import bottle

from ansible_collections.vpe.hypervisor.api_shim import metrics_query, prometheus, svgchart
from ansible_collections.vpe.hypervisor.api_shim.http import etag_of_bytes, json_response, not_modified, query_params
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics import metrics
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput

KEY = 'metrics'
SVG_TYPE = 'image/svg+xml'


def check_series(name):
    if name is None or name == '':
        raise InvalidInput('series is required; one of %s' % ', '.join(metrics.SERIES_NAMES), field='series')
    if name not in metrics.SERIES_NAMES:
        raise InvalidInput('series must be one of %s, got %r' % (', '.join(metrics.SERIES_NAMES), name),
                           field='series')
    return name


def get_metrics(ctx):
    params = query_params(('q', 'step'))
    doc = ctx.run(metrics_query.query, params.get('q'), params.get('step'))
    return json_response({KEY: doc})


def get_metrics_svg(ctx):
    params = query_params(('q', 'series', 'step'))
    series = check_series(params.get('series'))
    q, step = metrics_query.check_query(params.get('q'), params.get('step'))
    doc = ctx.run(metrics_query.query, q, step)
    picture = doc[series]
    body = svgchart.render(series, doc['duration'], picture['unit'], picture['datas'],
                           step=doc['step']).encode('utf-8')
    tag = etag_of_bytes(body)
    if not_modified(tag):
        return bottle.HTTPResponse(status=304, headers={'ETag': tag})
    return bottle.HTTPResponse(body=body, status=200, headers={
        'Content-Type': SVG_TYPE, 'ETag': tag, 'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'"})


def get_prometheus(ctx):
    query_params(())
    return bottle.HTTPResponse(body=prometheus.text(ctx), status=200,
                               headers={'Content-Type': prometheus.CONTENT_TYPE, 'Cache-Control': 'no-store'})
