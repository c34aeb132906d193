# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bearer tokens with two scopes: `read` (GET) and `admin` (everything).

The token file (api_shim/tokens.py) holds `SCOPE sha256:HEX [LABEL]` or
`SCOPE TOKEN [LABEL]` lines and is followed while the shim runs. It must not
be readable by other users: the shim refuses to start otherwise, because
anyone who can read it can reconfigure the host (or, with hashed lines,
learn which tokens exist).

Who made a request (the token's label) goes into the WSGI environ under
WHO_KEY for the audit log. Repeated failures from one address get 429
(api_shim/throttle.py).
"""

import hashlib
import hmac

import bottle

from ansible_collections.vpe.hypervisor.api_shim import tokens as tokens_mod
from ansible_collections.vpe.hypervisor.api_shim.http import problem_response
from ansible_collections.vpe.hypervisor.api_shim.throttle import AuthThrottle
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Forbidden, Unauthorized, VpeError

# Re-exported: callers and tests know them from here.
SCOPES = tokens_mod.SCOPES
MIN_TOKEN_LENGTH = tokens_mod.MIN_TOKEN_LENGTH
TokenFileError = tokens_mod.TokenFileError
load_tokens = tokens_mod.load_tokens

WHO_KEY = 'vpe.token_label'


class TooManyRequests(VpeError):
    status = 429
    title = 'Too many requests'


def as_token(entry):
    """A Token from a Token or a (scope, token bytes) pair."""
    if isinstance(entry, tokens_mod.Token):
        return entry
    scope, secret = entry
    return tokens_mod.Token(scope, secret, False, hashlib.sha256(secret).hexdigest()[:8])


class StaticTokens(object):
    """A fixed token list with TokenFile's interface."""

    def __init__(self, entries):
        self.tokens = [as_token(entry) for entry in entries]

    def current(self):
        return self.tokens

    def reload(self, force=True):
        return False


class Authenticator(object):

    def __init__(self, tokens, throttle=None):
        """`tokens`: a TokenFile (followed), or a list of Tokens or (scope, token bytes)."""
        self.source = tokens if hasattr(tokens, 'current') else StaticTokens(tokens)
        self.throttle = throttle if throttle is not None else AuthThrottle()

    @property
    def tokens(self):
        return self.source.current()

    def match(self, presented):
        """The Token a presented token is, or None. Compares against every
        token in constant time, so timing says nothing about which is near;
        an admin token wins over a read token with the same secret."""
        presented = presented.encode('utf-8')
        digest = hashlib.sha256(presented).digest()
        found = None
        for entry in self.source.current():
            candidate = digest if entry.hashed else presented
            if hmac.compare_digest(candidate, entry.secret) and (found is None or found.scope != 'admin'):
                found = entry
        return found

    def scope_of(self, presented):
        found = self.match(presented)
        return found.scope if found is not None else None

    def require(self, scope):
        environ = bottle.request.environ
        client = environ.get('REMOTE_ADDR', '')  # not remote_route: X-Forwarded-For is the client's to forge
        wait = self.throttle.retry_after(client)
        if wait:
            response = problem_response(TooManyRequests(
                'too many failed authentication attempts from %s; retry in %d s' % (client, wait)))
            response.set_header('Retry-After', str(wait))
            raise response
        try:
            found = self.authenticate(bottle.request.headers.get('Authorization', ''))
        except Unauthorized:
            self.throttle.failed(client)
            raise
        environ[WHO_KEY] = found.label
        if scope == 'admin' and found.scope != 'admin':
            raise Forbidden('this request needs an admin token; the token given has read scope only')
        return found.scope

    def authenticate(self, header):
        kind, _sep, presented = header.partition(' ')
        if not header:
            raise Unauthorized('missing Authorization header; send "Authorization: Bearer <token>"')
        if kind.lower() != 'bearer' or not presented.strip():
            raise Unauthorized('Authorization must be "Bearer <token>"')
        found = self.match(presented.strip())
        if found is None:
            raise Unauthorized('token not accepted')
        return found
