# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors every service raises; each knows its HTTP status.

The shim turns them into application/problem+json, the modules into
fail_json. Services never raise anything else for a condition a user can fix.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class VpeError(Exception):
    status = 500
    title = 'Internal error'

    def __init__(self, detail, field=None, **extra):
        super(VpeError, self).__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    def to_dict(self):
        """The problem document body, minus type/instance."""
        doc = {'title': self.title, 'status': self.status, 'detail': self.detail}
        if self.field is not None:
            doc['field'] = self.field
        doc.update(self.extra)
        return doc


class InvalidInput(VpeError):
    status = 400
    title = 'Invalid input'


class Unauthorized(VpeError):
    status = 401
    title = 'Unauthorized'


class Forbidden(VpeError):
    status = 403
    title = 'Forbidden'


class NotFound(VpeError):
    status = 404
    title = 'Not found'


class MethodNotAllowed(VpeError):
    status = 405
    title = 'Method not allowed'


class Conflict(VpeError):
    status = 409
    title = 'Conflict'


class PreconditionFailed(VpeError):
    status = 412
    title = 'Precondition failed'


class PayloadTooLarge(VpeError):
    status = 413
    title = 'Payload too large'


class UnsupportedMediaType(VpeError):
    status = 415
    title = 'Unsupported media type'


class Unavailable(VpeError):
    """libvirt (or another host service) cannot be reached right now."""
    status = 503
    title = 'Service unavailable'


class MissingLibrary(VpeError):
    """A Python binding the host needs is not installed."""
    status = 500
    title = 'Missing library'
