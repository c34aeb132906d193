# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serving the app with cheroot, a production WSGI server, behind the
request intake of api_shim/intake.py (stalled clients hold no worker)."""

import ipaddress
import logging
import signal
import sys
import time

from ansible_collections.vpe.hypervisor.api_shim import intake

LOG = logging.getLogger('vpe.shim')

# Worker threads. Requests are mostly Python work under one GIL, so more
# threads than this only queue for it: on 2 CPUs at 16 connections, 16
# threads gave GET /hypervisor/pools a p99 of 46 ms, 8 threads 40 ms and 4
# threads 32 ms (bench/README.md). 8 leaves room for requests that wait on
# libvirt, the disk or the host lock without stalling the reads.
DEFAULT_THREADS = 8
# Open connections one client address may hold, and the server in all: a
# stalled connection costs a file descriptor and a few KiB, not a thread.
DEFAULT_MAX_PER_CLIENT = 100
DEFAULT_MAX_CONNECTIONS = 2000
# Seconds a connection has to deliver its whole request (and idle keep-alive).
DEFAULT_TIMEOUT = 10


class ListenError(Exception):
    pass


def parse_listen(text):
    """'HOST:PORT' or '[V6]:PORT' -> (host, port)."""
    host, sep, port = text.rpartition(':')
    if not sep or not port.isdigit() or not host:
        raise ListenError('--listen must be HOST:PORT, got %r' % text)
    if host.startswith('[') and host.endswith(']'):
        host = host[1:-1]
    port = int(port)
    if port > 65535:
        raise ListenError('--listen port %d is over 65535' % port)
    return host, port


def is_loopback(host):
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name could resolve anywhere


def check_exposure(host, tls, insecure):
    """Refuse plain HTTP on anything but loopback unless asked for in so many words."""
    if not is_loopback(host) and not tls and not insecure:
        raise ListenError('refusing to serve plain HTTP on non-loopback address %s: give --tls-cert and '
                          '--tls-key, or --insecure to accept that tokens travel in clear text' % host)


def access_log(app):
    def logged(environ, start_response):
        started = time.time()
        seen = {}

        def recording_start(status, headers, exc_info=None):
            seen['status'] = status.split(' ', 1)[0]
            return start_response(status, headers, exc_info)

        try:
            return app(environ, recording_start)
        finally:
            LOG.info('%s %s %s %.1fms', environ.get('REQUEST_METHOD'), environ.get('PATH_INFO'),
                     seen.get('status', '-'), (time.time() - started) * 1000)
    return logged


def raise_open_files_limit(wanted):
    """Lift the soft limit of open files towards `wanted` (systemd's default soft limit is 1024)."""
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass


def serve(app, host, port, threads=DEFAULT_THREADS, tls_cert=None, tls_key=None, ready=None,
          max_per_client=DEFAULT_MAX_PER_CLIENT, max_connections=DEFAULT_MAX_CONNECTIONS):
    raise_open_files_limit(max_connections + 256)
    server = intake.make_server(access_log(app), host, port, threads, tls_cert=tls_cert, tls_key=tls_key,
                                max_per_client=max_per_client, max_connections=max_connections,
                                timeout=DEFAULT_TIMEOUT)

    def interrupt(_signum, _frame):
        # cheroot's stop() must not run inside the serving loop's own frame;
        # unwind it first, then stop below.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    server.prepare()
    bound = server.bind_addr
    scheme = 'https' if tls_cert else 'http'
    sys.stderr.write('vpe shim listening on %s://%s:%d\n' % (scheme, bound[0], bound[1]))
    sys.stderr.flush()
    if ready is not None:
        ready(bound)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
