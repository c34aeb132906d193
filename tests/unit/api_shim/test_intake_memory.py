"""A closed connection is freed when it is dropped, without the cyclic GC:
cheroot's per-instance lru_cache of peer credentials made each connection a
reference cycle, and under load a few hundred closed connections (with
their buffers) waited for a collection of the oldest generation."""

import gc
import socket
import threading
import time
import weakref

import pytest

from ansible_collections.vpe.hypervisor.api_shim import intake


def app(_environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [b'x' * 30000]  # a buffer the size of a pools answer


@pytest.fixture
def no_gc():
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def live_connections():
    return [obj for obj in gc.get_objects() if isinstance(obj, intake.Connection)]


def test_a_closed_connection_is_freed_by_reference_counting(no_gc):
    server = intake.make_server(app, '127.0.0.1', 0, 1)
    ours, theirs = socket.socketpair()
    try:
        conn = intake.Connection(server, ours)
        gone = weakref.ref(conn)
        conn.wfile.write(b'y' * 30000)
        conn.close()
        del conn
        assert gone() is None
    finally:
        ours.close()
        theirs.close()


def test_served_connections_leave_nothing_behind(no_gc):
    server = intake.make_server(app, '127.0.0.1', 0, 2)
    server.prepare()
    port = server.bind_addr[1]
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        for _round in range(30):
            client = socket.create_connection(('127.0.0.1', port), timeout=5)
            client.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            got = b''
            while len(got) < 30000:
                chunk = client.recv(65536)
                assert chunk
                got += chunk
            client.close()
        # The server sees each EOF and closes its side. A worker thread keeps
        # the last connection it served in a local until it takes the next
        # (and the selector loop its last one): at most threads + 1 remain.
        deadline = time.monotonic() + 10
        while len(live_connections()) > 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(live_connections()) <= 3
    finally:
        server.stop()
        thread.join(10)


class OneRecv(object):
    """A socket with one request waiting; only recv_into may read it."""

    def __init__(self, data):
        self.data = data

    def recv(self, _size, *_flags):
        raise AssertionError('sock.recv(64 KiB) mallocs 64 KiB per request in the selector thread')

    def recv_into(self, buffer, *_args):
        buffer[:len(self.data)] = self.data
        return len(self.data)


def test_the_intake_reads_into_a_buffer_it_keeps():
    server = intake.make_server(app, '127.0.0.1', 0, 1)
    request = b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
    first = server._recv(OneRecv(request))
    assert first == request and isinstance(first, bytes)
    assert server._recv(OneRecv(b'GET')) == b'GET'
    assert first == request  # not a view of the buffer it kept
