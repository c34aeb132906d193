# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit trail: one JSON line per mutating request, refused ones included.

A line holds `time` (UTC, ISO 8601), `client` (address), `token` (the
token's label, or the first 8 hex digits of its SHA-256; never the token;
null when none was accepted), `method`, `path`, `status`, and for a change
that ran `changed`, `before` and `after` (the service's own before/after).
Reads (GET, HEAD, OPTIONS) are not audited.

The log is a file opened for appending (one write per line, so lines from
concurrent requests never interleave; rotation is logrotate's, with
copytruncate or a reopen on SIGHUP) or standard output (`-`: the journal
under systemd).
"""

import datetime
import json
import os
import sys
import threading

from ansible_collections.vpe.hypervisor.api_shim.auth import WHO_KEY

READS = frozenset(('GET', 'HEAD', 'OPTIONS'))
CHANGE_KEY = 'vpe.change'
DEFAULT_NAME = 'audit.log'


class AuditLog(object):
    """Where audit lines go: a file path, or '-' for standard output."""

    def __init__(self, target):
        self.target = target
        self._lock = threading.Lock()
        self._fd = None
        self.reopen()

    def reopen(self):
        """(Re)open the file: after logrotate moved it (SIGHUP)."""
        if self.target == '-':
            return
        fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, 'O_CLOEXEC', 0), 0o600)
        with self._lock:
            old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)

    def write(self, record):
        line = (json.dumps(record, sort_keys=True, separators=(',', ':'), default=str) + '\n').encode('utf-8')
        with self._lock:
            if self.target == '-':
                out = getattr(sys.stdout, 'buffer', sys.stdout)
                out.write(line)
                out.flush()
            else:
                os.write(self._fd, line)

    def close(self):
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def record_change(environ, change):
    """Called (through AuditedContext) with every Change a request made."""
    changes = environ.setdefault(CHANGE_KEY, [])
    changes.append(change)


def audited(app, log):
    """WSGI middleware writing one audit line per mutating request."""
    def middleware(environ, start_response):
        method = environ.get('REQUEST_METHOD', '')
        if method in READS:
            return app(environ, start_response)
        seen = {}

        def recording_start(status, headers, exc_info=None):
            seen['status'] = int(status.split(' ', 1)[0])
            return start_response(status, headers, exc_info)

        try:
            return app(environ, recording_start)
        finally:
            log.write(line_for(environ, seen.get('status', 500)))
    return middleware


def line_for(environ, status):
    record = {
        'time': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds'),
        'client': environ.get('REMOTE_ADDR'),
        'token': environ.get(WHO_KEY),
        'method': environ.get('REQUEST_METHOD'),
        'path': environ.get('PATH_INFO'),
        'status': status,
    }
    if environ.get('QUERY_STRING'):
        record['query'] = environ['QUERY_STRING']
    changes = environ.get(CHANGE_KEY) or []
    if len(changes) == 1:
        record.update(changed=changes[0].changed, before=changes[0].before, after=changes[0].after)
    elif changes:
        record['changes'] = [{'changed': c.changed, 'before': c.before, 'after': c.after} for c in changes]
    return record
