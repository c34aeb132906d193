# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request and response plumbing shared by every route: JSON envelopes,
problem+json errors, body limits, query checks and ETags."""

import functools
import hashlib
import json
import logging
import traceback

import bottle

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import (
    InvalidInput, PayloadTooLarge, PreconditionFailed, UnsupportedMediaType, VpeError)

MAX_BODY = 64 * 1024
PROBLEM_TYPE = 'application/problem+json'
LOG = logging.getLogger('vpe.shim')


def dumps(doc):
    return json.dumps(doc, sort_keys=True, separators=(',', ':'))


def etag_of(doc):
    return etag_of_bytes(dumps(doc).encode('utf-8'))


def etag_of_bytes(data):
    """The strong ETag of a response body."""
    return '"%s"' % hashlib.sha256(data).hexdigest()[:32]


def problem_body(exc):
    """The RFC 9457 document for a VpeError."""
    doc = {'type': 'about:blank', 'instance': bottle.request.path}
    doc.update(exc.to_dict())
    return doc


def problem_response(exc):
    body = dumps(problem_body(exc))
    headers = {'Content-Type': PROBLEM_TYPE, 'Cache-Control': 'no-store'}
    if exc.status == 401:
        headers['WWW-Authenticate'] = 'Bearer realm="vpe-hypervisor"'
    if exc.status == 503:
        headers['Retry-After'] = '1'
    return bottle.HTTPResponse(body=body, status=exc.status, headers=headers)


def json_response(doc, status=200, etag=True):
    body = dumps(doc)  # once: the ETag is the hash of these very bytes
    return body_response(body, etag_of_bytes(body.encode('utf-8')) if etag else None, status)


def serialised(doc):
    """(body, ETag) of `doc`, for an answer kept to be sent again (body_response)."""
    body = dumps(doc)
    return body, etag_of_bytes(body.encode('utf-8'))


def body_response(body, tag, status=200):
    """The JSON response of an already serialised `body` and its ETag (None: no ETag)."""
    headers = {'Content-Type': 'application/json', 'Cache-Control': 'no-store'}
    if tag is not None:
        headers['ETag'] = tag
        if bottle.request.method == 'GET' and not_modified(tag):
            return bottle.HTTPResponse(status=304, headers={'ETag': tag})
    return bottle.HTTPResponse(body=body, status=status, headers=headers)


def not_modified(tag):
    """True when the request's If-None-Match names `tag`."""
    raw = bottle.request.headers.get('If-None-Match', '')
    return tag in [t.strip() for t in raw.split(',') if t.strip()]


def check_if_match(*current_docs):
    """412 unless If-Match is absent, '*' or the ETag of one of `current_docs`
    (a resource's own document, or the list a GET showed it in)."""
    raw = bottle.request.headers.get('If-Match')
    if raw is None or not current_docs:
        return
    tags = [t.strip() for t in raw.split(',') if t.strip()]
    if '*' in tags or any(etag_of(doc) in tags for doc in current_docs):
        return
    raise PreconditionFailed('If-Match %s does not match the current ETag %s; GET the resource again'
                             % (raw, etag_of(current_docs[-1])), field='If-Match')


def read_json_body(required=True):
    """The request's JSON document; enforces media type and the 64 KiB limit."""
    environ = bottle.request.environ
    length_header = environ.get('CONTENT_LENGTH') or ''
    chunked = 'chunked' in environ.get('HTTP_TRANSFER_ENCODING', '').lower()
    try:
        length = int(length_header) if length_header else 0
    except ValueError:
        raise InvalidInput('Content-Length %r is not a number' % length_header, field='Content-Length')
    if length > MAX_BODY:
        raise PayloadTooLarge('request body of %d bytes is over the %d byte limit' % (length, MAX_BODY),
                              field='body')
    if length == 0 and not chunked:
        if required:
            raise InvalidInput('a JSON body is required', field='body')
        return None
    ctype = (bottle.request.content_type or '').split(';')[0].strip().lower()
    if ctype != 'application/json' and not ctype.endswith('+json'):
        raise UnsupportedMediaType('Content-Type must be application/json, got %r' % (ctype or 'none'),
                                   field='Content-Type')
    raw = environ['wsgi.input'].read(MAX_BODY + 1 if chunked else length)
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge('request body is over the %d byte limit' % MAX_BODY, field='body')
    try:
        return json.loads(raw.decode('utf-8'))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput('body is not valid JSON: %s' % exc, field='body')
    except RecursionError:  # '[[[[...' nested deeper than the parser's stack, yet under 64 KiB
        raise InvalidInput('body is not valid JSON: nested too deeply', field='body')


def read_envelope(key, required=True):
    """The object under `key` in a body shaped {"key": {...}}."""
    doc = read_json_body(required=required)
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise InvalidInput('body must be a JSON object {"%s": {...}}' % key, field='body')
    for name in doc:
        if name != key:
            raise InvalidInput('unknown top-level field %r; the body must be {"%s": {...}}' % (name, key),
                               field=name)
    if key not in doc:
        if required:
            raise InvalidInput('body must be {"%s": {...}}' % key, field=key)
        return None
    body = doc[key]
    # JSON null is not a value: a field that should stay as it is is left out.
    # (Modules map an option not given to None; over REST that is the absent key.)
    if body is None:
        raise InvalidInput('%s must be an object, got null' % key, field=key)
    if isinstance(body, dict):
        for name in sorted(body):
            if body[name] is None:
                raise InvalidInput('%s must not be null; leave the field out to keep its value' % name,
                                   field=name)
    return body


def query_params(allowed):
    """The query string as a dict; names outside `allowed` are a 400."""
    params = {}
    for name in bottle.request.query.keys():
        if name not in allowed:
            raise InvalidInput('unknown query parameter %r; allowed: %s' % (name, ', '.join(sorted(allowed)) or 'none'),
                               field=name)
        params[name] = bottle.request.query.getunicode(name)
    return params


def query_bool(params, name, default=False):
    raw = params.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ('true', '1', 'yes', ''):  # a bare ?force means force
        return True
    if value in ('false', '0', 'no'):
        return False
    raise InvalidInput('%s must be true or false, got %r' % (name, raw), field=name)


def guarded(fn):
    """Turn VpeErrors into problem responses and anything else into a 500 problem."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except bottle.HTTPResponse:
            raise
        except VpeError as exc:
            return problem_response(exc)
        except Exception:  # the last line of defence: a bug must still answer problem+json
            LOG.error('unhandled error on %s %s\n%s', bottle.request.method, bottle.request.path,
                      traceback.format_exc())
            return problem_response(VpeError('internal error; see the shim log'))
    return wrapper
