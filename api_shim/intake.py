# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stalled clients cannot starve the workers: cheroot with a request intake.

Plain cheroot hands a connection to a worker thread as soon as it is accepted
or readable, and the worker then blocks reading the request line and headers
(and, with TLS, cheroot's accept loop blocks in the handshake). Forty clients
sending half a header held all eight workers; one client that never sent its
TLS ClientHello held the accept loop.

Here the selector thread does that reading, without blocking: it finishes the
TLS handshake, reads the request head and a body of up to MAX_BODY into the
connection's read buffer, and only then queues the connection for a worker,
which finds the whole request waiting. A connection must deliver its request
within `timeout` seconds of its accept (or of its previous answer, when kept
alive); cheroot's own expiry closes it otherwise, so trickling bytes buys no
time. Each client address may hold `max_per_client` open connections and the
server `max_connections` in all; more are closed at once.

Uses only what cheroot 9 (Debian 12's python3-cheroot) and 11 share:
ConnectionManager calls server.process_conn() for new and readable
connections and its selector takes register(); StreamReader is a _pyio
BufferedReader (_read_buf, _read_pos).
"""

import logging
import selectors
import socket
import ssl
import threading
import time

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from ansible_collections.vpe.hypervisor.api_shim.http import MAX_BODY

LOG = logging.getLogger('vpe.shim')

MAX_HEAD = 16 * 1024
RECV_SIZE = 64 * 1024
TOO_LARGE = (b'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n'
             b'Connection: close\r\n\r\n')
CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'
WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
END_OF_CHUNKS = b'0\r\n\r\n'


class Intake(object):
    """What the selector thread has read of one connection's next request."""

    __slots__ = ('data', 'continued', 'events')

    def __init__(self, data=b''):
        self.data = data
        self.continued = False
        self.events = selectors.EVENT_READ


def parse_head(head):
    """{lower-case header name: value} of a request head (bytes, no final CRLFCRLF)."""
    fields = {}
    for line in head.split(b'\n')[1:]:
        name, sep, value = line.partition(b':')
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


def request_state(data):
    """('more' | 'ready' | 'too large', data) for what was read so far.

    'ready' once the head and the body (Content-Length up to MAX_BODY, or a
    chunked body up to its last chunk) are in; a body over MAX_BODY is left
    to the app, which refuses it (413) without reading it.
    """
    end = data.find(b'\r\n\r\n')
    if end < 0:
        if b'\n\n' in data:
            return 'ready', data  # bare LF line ends: cheroot answers 400 at once
        return ('too large' if len(data) > MAX_HEAD else 'more'), data
    if end > MAX_HEAD:
        return 'too large', data
    fields = parse_head(data[:end])
    body = len(data) - end - 4
    if b'chunked' in fields.get(b'transfer-encoding', b'').lower():
        done = data.endswith(END_OF_CHUNKS) or body > MAX_BODY
        return ('ready' if done else 'more'), data
    try:
        length = int(fields.get(b'content-length', b'0') or 0)
    except ValueError:
        return 'ready', data  # cheroot answers 400
    if length > MAX_BODY or body >= length:
        return 'ready', data
    return 'more', data


def without_expect(data):
    """The request with its `Expect: 100-continue` line taken out (we sent the 100 ourselves)."""
    end = data.find(b'\r\n\r\n')
    lines = data[:end].split(b'\r\n')
    kept = [lines[0]] + [line for line in lines[1:] if line.partition(b':')[0].strip().lower() != b'expect']
    return b'\r\n'.join(kept) + data[end:]


class DeferredHandshakeAdapter(BuiltinSSLAdapter):
    """cheroot's TLS adapter, minus the blocking handshake in the accept loop:
    the intake drives it without blocking."""

    def wrap(self, sock):
        return self.context.wrap_socket(sock, do_handshake_on_connect=False, server_side=True), {}


class Connection(cheroot_server.HTTPConnection):
    """Counts itself out of its client's connections when closed; freed as
    soon as it is dropped.

    cheroot's __init__ caches get_peer_creds and resolve_peer_creds per
    instance (lru_cache of its own bound methods), a reference cycle: a
    closed connection then waits for the cyclic GC, with its socket objects
    and its read and write buffers (the size of the largest answer it sent).
    Under load those connections survive into the oldest generation, which
    is collected seldom: 100,000 requests over short-lived keep-alive
    connections left a few hundred of them, about 4 MiB of RSS
    (bench/rss_probe.py; cheroot issue #746). Peer credentials are for UNIX
    sockets and the shim serves TCP only, so the class's own, uncached
    methods do.
    """

    def __init__(self, *args, **kwargs):
        super(Connection, self).__init__(*args, **kwargs)
        for name in ('get_peer_creds', 'resolve_peer_creds'):
            self.__dict__.pop(name, None)

    def close(self):
        release = getattr(self.server, 'release', None)
        if release is not None:
            release(self)
        super(Connection, self).close()


class IntakeServer(wsgi.Server):
    """cheroot's WSGI server whose workers only ever see whole requests."""

    ConnectionClass = Connection

    def __init__(self, *args, **kwargs):
        self.max_per_client = kwargs.pop('max_per_client', 100)
        self.max_connections = kwargs.pop('max_connections', 2000)
        super(IntakeServer, self).__init__(*args, **kwargs)
        self._open = {}  # client address -> open connections
        self._open_total = 0
        self._count_lock = threading.Lock()
        self._recv_buffers = threading.local()  # process_conn runs in the selector thread and in workers

    # -- connection counting --------------------------------------------------

    def _admit(self, conn):
        client = getattr(conn, 'remote_addr', None)
        with self._count_lock:
            held = self._open.get(client, 0)
            if held >= self.max_per_client or self._open_total >= self.max_connections:
                return False
            self._open[client] = held + 1
            self._open_total += 1
            conn.vpe_counted = client
        return True

    def release(self, conn):
        with self._count_lock:
            if not hasattr(conn, 'vpe_counted'):
                return  # refused, or released already
            client = conn.vpe_counted
            del conn.vpe_counted
            self._open_total -= 1
            left = self._open.get(client, 1) - 1
            if left > 0:
                self._open[client] = left
            else:
                self._open.pop(client, None)

    # -- the intake -----------------------------------------------------------

    def process_conn(self, conn):
        """Called by cheroot for a new, readable or pipelined connection:
        read what is there; queue it for a worker once the request is whole."""
        intake = getattr(conn, 'vpe_intake', None)
        if intake is None:
            if not hasattr(conn, 'vpe_counted'):  # new
                conn.last_used = time.time()  # the deadline counts from the accept
                if not self._admit(conn):
                    LOG.warning('refused a connection from %s: over the connection limit', conn.remote_addr)
                    self._close(conn)
                    return
            intake = conn.vpe_intake = Intake(self._take_buffered(conn))
        state = 'more'
        sock = conn.socket
        try:
            sock.setblocking(False)
            if not self._handshake(conn, intake):
                sock.settimeout(self.timeout)
                self._wait(conn, intake)
                return
            if intake.data:
                state, intake.data = request_state(intake.data)
            while state == 'more':
                # one recv at a time: a whole request usually comes in one, and
                # then no EAGAIN is raised and caught
                try:
                    chunk = self._recv(sock)
                except WOULD_BLOCK:
                    break
                if not chunk:
                    state = 'closed'
                    break
                intake.data += chunk
                state, intake.data = request_state(intake.data)
            sock.settimeout(self.timeout)
        except (OSError, ssl.SSLError, ValueError):
            self._close(conn)
            return
        if state == 'ready':
            self._dispatch(conn, intake)
        elif state == 'too large':
            self._send_quietly(conn, TOO_LARGE)
            self._close(conn)
        elif state == 'closed':
            self._close(conn)
        else:
            self._maybe_continue(conn, intake)
            self._wait(conn, intake)

    def _recv(self, sock):
        """What one recv (up to RECV_SIZE) brings, as bytes of its own size.

        Read into this thread's buffer, not sock.recv(RECV_SIZE): that
        mallocs 64 KiB per request and shrinks it to the request's size,
        and in the selector thread's heap (glibc's main arena) the few
        hundred bytes kept of each, among what is freed around them,
        fragmented it: 3 MiB more RSS after 100,000 requests, all free
        chunks of 12 to 67 KiB (malloc_info; bench/rss_probe.py).
        """
        view = getattr(self._recv_buffers, 'view', None)
        if view is None:
            view = self._recv_buffers.view = memoryview(bytearray(RECV_SIZE))
        return view[:sock.recv_into(view)].tobytes()

    @staticmethod
    def _take_buffered(conn):
        """Bytes of a pipelined request cheroot already read into rfile."""
        rfile = conn.rfile
        with rfile._read_lock:
            data = rfile._read_buf[rfile._read_pos:]
            rfile._read_buf, rfile._read_pos = b'', 0
        return bytes(data)

    def _handshake(self, conn, intake):
        """True once TLS (if any) is set up; False: waiting for the peer."""
        sock = conn.socket
        if not isinstance(sock, ssl.SSLSocket) or getattr(conn, 'vpe_tls_done', False):
            return True
        try:
            sock.do_handshake()  # the socket is non-blocking here
        except ssl.SSLWantReadError:
            intake.events = selectors.EVENT_READ
            return False
        except ssl.SSLWantWriteError:
            intake.events = selectors.EVENT_WRITE
            return False
        conn.vpe_tls_done = True
        conn.ssl_env = self.ssl_adapter.get_environ(sock)
        intake.events = selectors.EVENT_READ
        return True

    def _maybe_continue(self, conn, intake):
        """A client waiting for `100 Continue` gets it from here, so its body
        is read here too (and the worker does not send a second one)."""
        end = intake.data.find(b'\r\n\r\n')
        if end < 0 or intake.continued:
            return
        if parse_head(intake.data[:end]).get(b'expect', b'').lower() == b'100-continue':
            intake.continued = True
            intake.data = without_expect(intake.data)
            self._send_quietly(conn, CONTINUE)

    def _wait(self, conn, intake):
        try:
            self._connections._selector.register(conn.socket.fileno(), intake.events, data=conn)
        except (OSError, ValueError, KeyError):
            self._close(conn)

    def _dispatch(self, conn, intake):
        conn.vpe_intake = None
        rfile = conn.rfile
        with rfile._read_lock:
            rfile._read_buf, rfile._read_pos = intake.data, 0
        super(IntakeServer, self).process_conn(conn)

    def _send_quietly(self, conn, data):
        sock = conn.socket
        try:
            sock.setblocking(False)
            sock.send(data)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                sock.settimeout(self.timeout)
            except OSError:
                pass

    @staticmethod
    def _close(conn):
        try:
            conn.close()
        except (OSError, ssl.SSLError):
            pass


def make_server(app, host, port, threads, tls_cert=None, tls_key=None, max_per_client=100,
                max_connections=2000, timeout=10):
    server = IntakeServer((host, port), app, numthreads=threads, server_name='vpe-hypervisor-shim',
                          timeout=timeout, request_queue_size=socket.SOMAXCONN,
                          max_per_client=max_per_client, max_connections=max_connections)
    server.max_request_header_size = MAX_HEAD
    if tls_cert:
        server.ssl_adapter = DeferredHandshakeAdapter(tls_cert, tls_key)
    return server
