# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bearer tokens with two scopes: `read` (GET) and `admin` (everything).

The token file holds lines `SCOPE TOKEN`; blank lines and `#` comments are
ignored. It must not be readable by other users: the shim refuses to start
otherwise, because anyone who can read it can reconfigure the host.
"""

import hmac
import os
import stat

import bottle

from ansible_collections.vpe.hypervisor.plugins.module_utils.errors import Forbidden, Unauthorized

SCOPES = ('read', 'admin')
MIN_TOKEN_LENGTH = 16


class TokenFileError(Exception):
    pass


def load_tokens(path):
    """[(scope, token bytes)] from the token file, or TokenFileError saying why not."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise TokenFileError('cannot read token file %s: %s' % (path, exc.strerror))
    if info.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        raise TokenFileError('token file %s is accessible to other users (mode %04o); run chmod 600 %s'
                             % (path, stat.S_IMODE(info.st_mode), path))
    tokens = []
    with open(path, 'r') as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.split()
            if len(parts) != 2 or parts[0] not in SCOPES:
                raise TokenFileError('%s line %d: expected "read TOKEN" or "admin TOKEN"' % (path, number))
            if len(parts[1]) < MIN_TOKEN_LENGTH:
                raise TokenFileError('%s line %d: token shorter than %d characters' % (path, number, MIN_TOKEN_LENGTH))
            tokens.append((parts[0], parts[1].encode('utf-8')))
    if not tokens:
        raise TokenFileError('token file %s holds no tokens' % path)
    return tokens


class Authenticator(object):

    def __init__(self, tokens):
        self.tokens = tokens

    def scope_of(self, presented):
        """The scope of a presented token, or None. Compares against every
        token in constant time, so timing says nothing about which is near."""
        presented = presented.encode('utf-8')
        found = None
        for scope, token in self.tokens:
            if hmac.compare_digest(presented, token) and found != 'admin':
                found = scope
        return found

    def require(self, scope):
        header = bottle.request.headers.get('Authorization', '')
        kind, _sep, presented = header.partition(' ')
        if not header:
            raise Unauthorized('missing Authorization header; send "Authorization: Bearer <token>"')
        if kind.lower() != 'bearer' or not presented.strip():
            raise Unauthorized('Authorization must be "Bearer <token>"')
        granted = self.scope_of(presented.strip())
        if granted is None:
            raise Unauthorized('token not accepted')
        if scope == 'admin' and granted != 'admin':
            raise Forbidden('this request needs an admin token; the token given has read scope only')
        return granted
