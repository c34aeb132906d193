# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Bottle application: one Context (one libvirt connection) per process,
the route table of api_shim.routes, and problem+json for every error."""

import threading

import bottle

from ansible_collections.vpe.hypervisor.api_shim import routes
from ansible_collections.vpe.hypervisor.api_shim.audit import record_change
from ansible_collections.vpe.hypervisor.api_shim.http import PROBLEM_TYPE, check_if_match, dumps, guarded
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import serving, state_write
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Change
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import (
    MethodNotAllowed, NotFound, VpeError)


class AuditedContext(object):
    """The Context routes see: every Change a service returns is noted in the
    request's environ for the audit line (api_shim/audit.py), so the routes
    stay thin and know nothing of auditing."""

    def __init__(self, ctx):
        self._ctx = ctx
        self.state_dir = ctx.store.state_dir
        self._kept = {}
        self._kept_lock = threading.Lock()

    def keep(self, name, make):
        """What a route keeps for the process (a cache), made once by make()."""
        with self._kept_lock:
            if name not in self._kept:
                self._kept[name] = make()
            return self._kept[name]

    def run(self, fn, *args, **kwargs):
        result = self._ctx.run(fn, *args, **kwargs)
        if isinstance(result, Change):
            record_change(bottle.request.environ, result)
        return result

    def apply_if_match(self, current, fn, *args, **kwargs):
        """The one way a route changes something: under the state lock, 412
        unless If-Match names what current() returns (the documents a GET may
        have shown; none: no check), then run the service function fn."""
        with state_write.locked(self._ctx.store):
            check_if_match(*current())
            return self.run(fn, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._ctx, name)


class Shim(object):
    """The app plus what routes need: the service context and the authenticator."""

    def __init__(self, ctx, authenticator):
        self.ctx = AuditedContext(ctx)
        self.auth = authenticator
        self.app = bottle.Bottle(catchall=True)
        self.app.error_handler.update({
            404: self._not_found,
            405: self._not_allowed,
            500: self._server_error,
        })

    def add(self, method, path, scope, fn):
        """Serve fn(ctx, **url_args) for method/path behind auth (scope None: open)."""
        def handler(**kwargs):
            if scope is not None:
                self.auth.require(scope)
            if method == 'GET':
                return fn(self.ctx, **kwargs)
            try:
                return fn(self.ctx, **kwargs)
            finally:
                # Reads reuse what libvirt's events have not invalidated;
                # our own change must show on the very next read, before
                # its event arrives (and even if the call failed half-way).
                self.ctx.forget()
        handler.__name__ = fn.__name__
        self.app.route(path, method, guarded(handler))

    @staticmethod
    def _problem(exc):
        bottle.response.content_type = PROBLEM_TYPE
        doc = {'type': 'about:blank', 'instance': bottle.request.path}
        doc.update(exc.to_dict())
        return dumps(doc)

    def _not_found(self, _err):
        return self._problem(NotFound('no such resource: %s' % bottle.request.path))

    def _not_allowed(self, err):
        allowed = err.headers.get('Allow', '') if err.headers else ''
        return self._problem(MethodNotAllowed('%s is not allowed on %s; allowed: %s'
                                              % (bottle.request.method, bottle.request.path, allowed)))

    def _server_error(self, _err):
        return self._problem(VpeError('internal error; see the shim log'))


def create_app(ctx, authenticator):
    """A WSGI app serving the hypervisor API for `ctx`.

    The shim's context lives as long as the process, so it keeps what
    services may reuse between requests (see serving.serve_many).
    """
    serving.serve_many(ctx)
    shim = Shim(ctx, authenticator)
    for method, path, scope, fn in routes.table():
        shim.add(method, path, scope, fn)
    return shim.app
