# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The token file: parse it, follow its changes, append new tokens.

One token a line, blank lines and `#` comments ignored:

    SCOPE sha256:HEX [LABEL]    the SHA-256 of the token (what the role and `token add` write)
    SCOPE TOKEN [LABEL]         the token itself (still accepted)

SCOPE is `read` (GET) or `admin` (everything); LABEL names the token in the
audit log (default: the first 8 hex digits of the token's SHA-256). The file
must not be accessible to other users. A SHA-256 without salt is enough here:
tokens are random (>= 16 characters; `token add` makes 256-bit ones), so
there is nothing to look up in a dictionary.
"""

import collections
import hashlib
import logging
import os
import re
import secrets
import stat
import threading
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import atomic_file

SCOPES = ('read', 'admin')
MIN_TOKEN_LENGTH = 16
HASH_PREFIX = 'sha256:'
LABEL_RE = re.compile(r'^[A-Za-z0-9_.@+-]{1,64}$')
HEX_RE = re.compile(r'^[0-9a-f]{64}$')
# How often a request may trigger a look at the file (stat only): a change
# is in force within this, well inside the 2 s promised.
RECHECK_SECONDS = 1.0

LOG = logging.getLogger('vpe.shim')

# secret: the token's bytes, or its SHA-256 digest when hashed is True.
Token = collections.namedtuple('Token', ['scope', 'secret', 'hashed', 'label'])


class TokenFileError(Exception):
    pass


def digest_of(token):
    return hashlib.sha256(token.encode('utf-8') if not isinstance(token, bytes) else token).digest()


def hashed_line(scope, token, label=None):
    """The token file line for `token` (its hash, never the token)."""
    return ' '.join([scope, HASH_PREFIX + digest_of(token).hex()] + ([label] if label else []))


def parse_line(path, number, line):
    parts = line.split()
    if len(parts) not in (2, 3) or parts[0] not in SCOPES:
        raise TokenFileError('%s line %d: expected "SCOPE sha256:HEX [LABEL]" or "SCOPE TOKEN [LABEL]" with SCOPE '
                             'read or admin' % (path, number))
    scope, secret = parts[0], parts[1]
    label = parts[2] if len(parts) == 3 else None
    if label is not None and not LABEL_RE.match(label):
        raise TokenFileError('%s line %d: label must be 1-64 characters of A-Z a-z 0-9 _ . @ + -' % (path, number))
    if secret.startswith(HASH_PREFIX):
        hexdigits = secret[len(HASH_PREFIX):].lower()
        if not HEX_RE.match(hexdigits):
            raise TokenFileError('%s line %d: sha256: must be followed by 64 hex digits' % (path, number))
        return Token(scope, bytes.fromhex(hexdigits), True, label or hexdigits[:8])
    if len(secret) < MIN_TOKEN_LENGTH:
        raise TokenFileError('%s line %d: token shorter than %d characters' % (path, number, MIN_TOKEN_LENGTH))
    return Token(scope, secret.encode('utf-8'), False, label or digest_of(secret).hex()[:8])


def check_private(path, info):
    if info.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        raise TokenFileError('token file %s is accessible to other users (mode %04o); run chmod 600 %s'
                             % (path, stat.S_IMODE(info.st_mode), path))


def load_tokens(path):
    """[Token] from the token file, or TokenFileError saying why not."""
    try:
        with open(path, 'r') as handle:
            check_private(path, os.fstat(handle.fileno()))
            text = handle.read()
    except OSError as exc:
        raise TokenFileError('cannot read token file %s: %s' % (path, exc.strerror))
    tokens = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith('#'):
            tokens.append(parse_line(path, number, line))
    if not tokens:
        raise TokenFileError('token file %s holds no tokens' % path)
    return tokens


def signature(path):
    """What changes when the file is rewritten, replaced or edited in place."""
    info = os.stat(path)
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode)


class TokenFile(object):
    """The tokens of a file, re-read when it changes (looked at most once per
    RECHECK_SECONDS, on a request) and on reload() (SIGHUP). A file that no
    longer parses keeps the tokens in force and is logged: a half-written
    file never locks everyone out."""

    def __init__(self, path, clock=time.monotonic):
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._signature = signature(path)
        self.tokens = load_tokens(path)  # the first load must succeed
        self._checked = clock()

    def current(self):
        if self._clock() - self._checked >= RECHECK_SECONDS:
            self.reload(force=False)
        return self.tokens

    def reload(self, force=True):
        with self._lock:
            self._checked = self._clock()
            try:
                seen = signature(self.path)
            except OSError as exc:
                LOG.error('token file %s: %s; keeping the %d tokens in force', self.path, exc.strerror,
                          len(self.tokens))
                return False
            if seen == self._signature and not force:
                return False
            try:
                tokens = load_tokens(self.path)
            except TokenFileError as exc:
                LOG.error('%s; keeping the %d tokens in force', exc, len(self.tokens))
                self._signature = seen  # say it once per change, not per request
                return False
            self.tokens, self._signature = tokens, seen
        LOG.info('token file %s read: %d tokens', self.path, len(tokens))
        return True


def new_token():
    """A random token: 256 bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def add_token(path, scope, label=None):
    """Append the hashed line of a new random token to `path` (created 0600
    when missing; its mode and owner kept otherwise), atomically. Returns the token."""
    if scope not in SCOPES:
        raise TokenFileError('scope must be read or admin, got %r' % scope)
    if label is not None and not LABEL_RE.match(label):
        raise TokenFileError('label must be 1-64 characters of A-Z a-z 0-9 _ . @ + -, got %r' % label)
    try:
        with open(path, 'r') as handle:
            info = os.fstat(handle.fileno())
            text = handle.read()
    except FileNotFoundError:
        info, text = None, '# vpe.hypervisor shim tokens: SCOPE sha256:HEX [LABEL]\n'
    except OSError as exc:
        raise TokenFileError('cannot read token file %s: %s' % (path, exc.strerror))
    if info is not None:
        check_private(path, info)
        existing = [line.split() for line in text.splitlines() if line.strip() and not line.strip().startswith('#')]
        if label and any(len(parts) == 3 and parts[2] == label for parts in existing):
            raise TokenFileError('%s already has a token labelled %s; remove its line first' % (path, label))
    token = new_token()
    if text and not text.endswith('\n'):
        text += '\n'
    write_atomically(path, text + hashed_line(scope, token, label) + '\n', info)
    return token


def write_atomically(path, text, info=None):
    """Write `text` to `path` by rename, with the mode (default 0600) and owner of `info`."""
    atomic_file.write(path, text, stat.S_IMODE(info.st_mode) if info else 0o600, prefix='.tokens-',
                      owner=(info.st_uid, info.st_gid) if info is not None and os.geteuid() == 0 else None)
