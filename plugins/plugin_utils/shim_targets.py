# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `hosts`, `token` and `token_file` options of the shim inventory, checked.

Every error names the entry (`hosts[2].url`) and the rule. No message here
quotes a token or a token file's content.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

ENTRY_KEYS = ('name', 'url', 'token', 'token_file')
MAX_TOKEN_FILE = 4096


class TargetError(ValueError):
    pass


def read_token_file(path, field):
    """The token a file holds (just the token, surrounding whitespace ignored)."""
    path = os.path.expanduser(str(path))
    try:
        with open(path, 'r') as handle:
            text = handle.read(MAX_TOKEN_FILE + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError('%s: cannot read %s: %s' % (field, path, getattr(exc, 'strerror', None) or exc))
    token = text.strip()
    if not token:
        raise TargetError('%s: %s is empty; it must hold the token' % (field, path))
    if len(text) > MAX_TOKEN_FILE or len(token.split()) != 1:
        raise TargetError('%s: %s must hold just the token, one word (a shim token file with "SCOPE TOKEN" '
                          'lines is not accepted: copy one read token into a file of its own)' % (field, path))
    return token


def resolve_token(prefix, token, token_file):
    """The token given as `token` or read from `token_file` (not both), or None."""
    name = (prefix + '.') if prefix else ''
    if token and token_file:
        raise TargetError('%stoken and %stoken_file are mutually exclusive; set one' % (name, name))
    if token_file:
        return read_token_file(token_file, name + 'token_file')
    if token is not None and not isinstance(token, str):
        raise TargetError('%stoken must be a string' % name)
    if token and len(token.split()) != 1:
        raise TargetError('%stoken must be one word (no spaces)' % name)
    return token or None


def _check_url(url, field):
    if not isinstance(url, str) or not url:
        raise TargetError('%s is required: the shim\'s base URL, e.g. https://hv1.example.com:8470' % field)
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        raise TargetError('%s has an invalid port: %s' % (field, url))
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise TargetError('%s must be an http:// or https:// URL with a host, got %s' % (field, url))
    if parts.username is not None or parts.password is not None:
        raise TargetError('%s must not carry credentials; give the shim token as token or token_file' % field)
    if parts.query or parts.fragment:
        raise TargetError('%s must be a base URL without ?query or #fragment, got %s' % (field, url))
    return url.rstrip('/'), parts.hostname


def parse_targets(hosts, token=None, token_file=None):
    """[{name, url, token}] from the options; TargetError naming the entry at fault.

    An entry is a URL (the host's name is the URL's host) or a mapping with
    `url` and optional `name`, `token`, `token_file` (these override the
    top-level ones, for fleets where each shim has its own token).
    """
    if not isinstance(hosts, (list, tuple)) or not hosts:
        raise TargetError('hosts must be a non-empty list of shim URLs or {name, url} mappings')
    default = resolve_token('', token, token_file)
    targets = []
    seen = {}
    for index, entry in enumerate(hosts):
        field = 'hosts[%d]' % index
        if isinstance(entry, str):
            url, host = _check_url(entry, field)
            name, entry_token = host, default
        elif isinstance(entry, Mapping):
            unknown = sorted(str(key) for key in entry if key not in ENTRY_KEYS)
            if unknown:
                raise TargetError('%s has unknown key(s) %s; allowed: %s' % (field, ', '.join(unknown), ', '.join(ENTRY_KEYS)))
            url, host = _check_url(entry.get('url'), field + '.url')
            name = entry.get('name', host)
            if not isinstance(name, str) or not name or len(name.split()) != 1:
                raise TargetError('%s.name must be a host name: a non-empty string without spaces' % field)
            entry_token = resolve_token(field, entry.get('token'), entry.get('token_file')) or default
        else:
            raise TargetError('%s must be a URL or a mapping with url (and name), got %s' % (field, type(entry).__name__))
        if name in seen:
            raise TargetError('%s: host name "%s" is already taken by hosts[%d]; give each shim its own name '
                              '({name: ..., url: ...})' % (field, name, seen[name]))
        if not entry_token:
            raise TargetError('%s (%s) has no token: set token or token_file, for all hosts or in this entry'
                              % (field, name))
        seen[name] = index
        targets.append({'name': str(name), 'url': str(url), 'token': str(entry_token)})
    return targets
