"""Hostile clients for the stall test (tests/reliability/test_stalled_clients.py
and bench/stall.py): connections that never finish their request headers.

Three kinds, spread evenly over the connections:
- silent: connects and sends nothing (with TLS: never sends a ClientHello);
- half: sends the request line and one header, then nothing;
- trickle: sends a header line, then one more every `trickle_every` seconds,
  never the blank line that ends the headers.

Everything stays on loopback. The attackers bind to `source` (127.0.0.2 by
default), so the shim sees them as another client than the one measuring.
"""

import socket
import ssl
import threading
import time

KINDS = ('silent', 'half', 'trickle')


class Stallers(object):
    """`count` stalled connections to host:port until close()."""

    def __init__(self, host, port, count=200, tls=False, source='127.0.0.2', trickle_every=0.5):
        self.host, self.port, self.tls, self.source = host, port, tls, source
        self.trickle_every = trickle_every
        self.socks = []
        self.refused = 0  # connections the server closed or refused
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # in parallel: a server that handshakes TLS in its accept loop would
        # otherwise make opening them take minutes
        openers = [threading.Thread(target=self._open_many, args=(count, start, 20)) for start in range(20)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
        self._thread = threading.Thread(target=self._trickle, name='stall-trickle', daemon=True)
        self._thread.start()

    def _open_many(self, count, start, step):
        for number in range(start, count, step):
            self._open(KINDS[number % len(KINDS)])

    def _open(self, kind):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(5)
        try:
            if self.source:
                raw.bind((self.source, 0))
            raw.connect((self.host, self.port))
            sock = raw
            if self.tls and kind != 'silent':
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(raw)
            if kind != 'silent':
                sock.sendall(b'GET /hypervisor/quota HTTP/1.1\r\nHost: stall\r\n')
        except (OSError, ssl.SSLError):
            raw.close()
            with self._lock:
                self.refused += 1
            return
        with self._lock:
            self.socks.append((kind, sock))

    def _trickle(self):
        line = 0
        while not self._stop.wait(self.trickle_every):
            line += 1
            with self._lock:
                socks = list(self.socks)
            for kind, sock in socks:
                if kind != 'trickle':
                    continue
                try:
                    sock.sendall(b'X-Stall-%d: x\r\n' % line)
                except (OSError, ssl.SSLError):
                    with self._lock:
                        if (kind, sock) in self.socks:
                            self.socks.remove((kind, sock))
                            self.refused += 1

    def close(self):
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for _kind, sock in self.socks:
                try:
                    sock.close()
                except OSError:
                    pass
            self.socks = []


def timed_requests(session_get, count, pause=0.2):
    """Call session_get() `count` times; [(seconds, status or exception name)]."""
    results = []
    for _number in range(count):
        started = time.perf_counter()
        try:
            status = session_get().status_code
        except Exception as exc:  # a timeout is a result here, not an error
            status = type(exc).__name__
        results.append((time.perf_counter() - started, status))
        time.sleep(pause)
    return results
