# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host page: GET /ui and its two assets, open (they hold no data and ask
for a token). Its charts are GET /hypervisor/metrics.svg (routes/metrics.py).

The page's files are read once at start-up from api_shim/ui/. A Content
Security Policy keeps the page to this host: scripts, styles and API calls
from 'self' only, nothing else loaded or framed.
"""

import os

import bottle

from ansible_collections.vpe.hypervisor.api_shim.http import etag_of_bytes, not_modified, query_params

UI_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'ui')
ASSETS = (
    ('/ui', 'index.html', 'text/html; charset=utf-8'),
    ('/ui/app.js', 'app.js', 'text/javascript; charset=utf-8'),
    ('/ui/style.css', 'style.css', 'text/css; charset=utf-8'),
)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _asset_handler(name, ctype):
    """The handler of one asset, its file read now (at start-up)."""
    with open(os.path.join(UI_DIR, name), 'rb') as handle:
        body = handle.read()
    tag = etag_of_bytes(body)
    headers = {
        'Content-Type': ctype, 'ETag': tag, 'Cache-Control': 'no-cache',
        'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer',
    }

    def handler(_ctx):
        query_params(())
        if not_modified(tag):
            return bottle.HTTPResponse(status=304, headers={'ETag': tag})
        return bottle.HTTPResponse(body=body, status=200, headers=headers)
    handler.__name__ = 'ui_' + name.replace('.', '_')
    return handler


def get_ui_slash(_ctx):
    return bottle.HTTPResponse(status=301, headers={'Location': '/ui'})


def routes():
    """The page's routes (open), for the route table."""
    return tuple(('GET', path, None, _asset_handler(name, ctype)) for path, name, ctype in ASSETS) + (
        ('GET', '/ui/', None, get_ui_slash),)
