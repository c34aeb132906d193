# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Repeated authentication failures from one client address get 429.

A client with `limit` failed attempts (missing, malformed or wrong token)
within `window` seconds is refused with 429 and Retry-After, token unchecked,
until its oldest failure in the window is older than `window`. Other
addresses are not affected. Kept in memory, at most `max_clients` addresses
(the longest-quiet ones are forgotten first).
"""

import collections
import threading
import time


class AuthThrottle(object):

    def __init__(self, limit=10, window=60.0, max_clients=10000, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._failures = collections.OrderedDict()  # address -> deque of failure times
        self._lock = threading.Lock()

    def retry_after(self, client):
        """Seconds `client` must wait, or 0 when it may try."""
        now = self._clock()
        with self._lock:
            seen = self._failures.get(client)
            if not seen:
                return 0
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if not seen:
                del self._failures[client]
                return 0
            if len(seen) < self.limit:
                return 0
            return max(1, int(seen[0] + self.window - now + 0.999))

    def failed(self, client):
        now = self._clock()
        with self._lock:
            seen = self._failures.pop(client, None) or collections.deque(maxlen=self.limit)
            seen.append(now)
            self._failures[client] = seen  # now the most recent
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
