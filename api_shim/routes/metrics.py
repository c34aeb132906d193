# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GET /hypervisor/metrics (JSON history), GET /hypervisor/metrics.svg (one
metric chart, for the host page) and GET /metrics (Prometheus text, made by
api_shim/prometheus.py).

GET /hypervisor/metrics answers are kept serialised per (q, step) while the
store's files are unchanged and the 5-minute bucket is the same (every point
of a range starts on one): the collector writes once a minute, and a month
at 16 connections otherwise recomputed 360 points per request. /metrics
keeps its newest point the same way and its text while what it exports is
unchanged.
"""

import os
import threading
import time

import bottle

from ansible_collections.vpe.hypervisor.api_shim import metrics_query, prometheus, svgchart
from ansible_collections.vpe.hypervisor.api_shim.http import (
    body_response, etag_of_bytes, not_modified, query_params, serialised)
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics import metrics
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import BUCKET, db_path

KEY = 'metrics'
SVG_TYPE = 'image/svg+xml'


class AnswerCache(object):
    """Serialised answers per (q, step), valid while the store's stamp and the bucket hold."""

    # The store's files are stat'ed at most this often (a stat per request
    # costs a GIL hand-over at 16 connections): a sample shows this much later.
    CHECK_EVERY = 0.2
    # Answers kept at most (a step may be any multiple of 300 up to a day).
    SIZE = 32

    def __init__(self, state_dir):
        path = db_path(state_dir)
        self.paths = (path, path + '-wal')
        self.lock = threading.Lock()
        self.key_locks = {}
        self.answers = {}
        self.checked = None
        self.files = None
        self.scrape = None  # (inputs, text) of the last GET /metrics

    def _files(self):
        mono = time.monotonic()
        if self.checked is None or mono - self.checked >= self.CHECK_EVERY:
            stamps = []
            for path in self.paths:
                try:
                    info = os.stat(path)
                    stamps.append((info.st_ino, info.st_mtime_ns, info.st_size))
                except OSError:
                    stamps.append(None)
            self.files, self.checked = tuple(stamps), mono
        return self.files

    def get(self, key, compute):
        """compute()'s (body, tag) for `key`, or the one kept. One compute per key
        at a time; the stamp is read before it, so a write during it shows next time."""
        stamp = (self._files(), int(time.time() // BUCKET))
        kept = self.answers.get(key)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        with self.lock:
            key_lock = self.key_locks.setdefault(key, threading.Lock())
        with key_lock:
            kept = self.answers.get(key)
            if kept is not None and kept[0] == stamp:
                return kept[1]
            answer = compute()
            with self.lock:
                self.answers.pop(key, None)
                while len(self.answers) >= self.SIZE:
                    self.answers.pop(next(iter(self.answers)))  # the oldest
                self.answers[key] = (stamp, answer)
            return answer


def _cache(ctx):
    """The process's AnswerCache (one per context: the shim has one)."""
    return ctx.keep('metrics', lambda: AnswerCache(ctx.state_dir))


def check_series(name):
    if name is None or name == '':
        raise InvalidInput('series is required; one of %s' % ', '.join(metrics.SERIES_NAMES), field='series')
    if name not in metrics.SERIES_NAMES:
        raise InvalidInput('series must be one of %s, got %r' % (', '.join(metrics.SERIES_NAMES), name),
                           field='series')
    return name


def get_metrics(ctx):
    params = query_params(('q', 'step'))
    q, step = metrics_query.check_query(params.get('q'), params.get('step'))
    body, tag = _cache(ctx).get((q, step), lambda: serialised({KEY: ctx.run(metrics_query.query, q, step)}))
    return body_response(body, tag)


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
    return bottle.HTTPResponse(body=prometheus.text(ctx, _cache(ctx)), status=200,
                               headers={'Content-Type': prometheus.CONTENT_TYPE, 'Cache-Control': 'no-store'})
