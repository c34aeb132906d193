"""Worst latency of authenticated requests while 200 clients stall their
request headers (issue 19): the goal is under 1 s, TLS on and off.

Starts a shim on loopback (libvirt's test:///default driver, a scratch state
dir, a self-signed certificate for --tls), opens the stalled connections
(tests/reliability/stallkit.py: silent, half a header, trickled headers; from
127.0.0.2) and times GET /hypervisor/quota with a read token from 127.0.0.1.

    python bench/stall.py [--count 200] [--requests 30] [--tls] [--timeout 40]
                          [--source 127.0.0.1] [--collections DIR] [-- EXTRA SERVE ARGS]

Prints one JSON line; exits 1 when a request took 1 s or more or failed.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import urllib3

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / 'tests'))
sys.path.insert(0, str(BENCH.parent / 'tests' / 'reliability'))

import stallkit  # noqa: E402
import vpetest  # noqa: E402

GOAL_S = 1.0


def self_signed(directory):
    """(cert, key) paths of a throw-away certificate for 127.0.0.1."""
    cert, key = str(Path(directory) / 'tls.crt'), str(Path(directory) / 'tls.key')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
                    '-keyout', key, '-out', cert], check=True, capture_output=True)
    return cert, key


def measure(count, n_requests, tls, extra_args, request_timeout, source='127.0.0.2'):
    urllib3.disable_warnings()
    with tempfile.TemporaryDirectory(prefix='vpe-stall-') as work:
        args = list(extra_args)
        if tls:
            cert, key = self_signed(work)
            args += ['--tls-cert', cert, '--tls-key', key]
        shim = vpetest.Shim(work, uri='test:///default', extra_args=args, scheme='https' if tls else 'http')
        stallers = None
        try:
            session = requests.Session()
            session.verify = False
            headers = shim.headers('read')
            url = shim.url + '/hypervisor/quota'
            before = stallkit.timed_requests(lambda: session.get(url, headers=headers, timeout=request_timeout), 3)
            stallers = stallkit.Stallers('127.0.0.1', shim.port, count=count, tls=tls, source=source)
            time.sleep(1.0)  # let every stalled connection reach the server
            # a new connection per request: the worst case (a kept-alive one would skip the accept queue)
            results = stallkit.timed_requests(
                lambda: requests.get(url, headers=headers, timeout=request_timeout, verify=False), n_requests)
            held = len(stallers.socks)
        finally:
            if stallers is not None:
                stallers.close()
            shim.stop()
    worst = max(seconds for seconds, _status in results)
    failed = [status for _seconds, status in results if status != 200]
    return {'tls': tls, 'stalled': count, 'source': source, 'stalled_held_open': held, 'requests': n_requests,
            'idle_worst_s': round(max(seconds for seconds, _status in before), 3), 'worst_s': round(worst, 3),
            'median_s': round(sorted(seconds for seconds, _status in results)[len(results) // 2], 3),
            'failed': failed, 'goal_s': GOAL_S, 'met': worst < GOAL_S and not failed}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--count', type=int, default=200)
    parser.add_argument('--requests', type=int, default=30)
    parser.add_argument('--tls', action='store_true')
    parser.add_argument('--timeout', type=float, default=40.0, help='client timeout per request (s)')
    parser.add_argument('--source', default='127.0.0.2',
                        help='address the stalled clients connect from (127.0.0.1: the measuring client\'s own)')
    parser.add_argument('--collections', help='serve the collection linked under this directory (e.g. '
                        'another checkout\'s .collections, to measure it before a change)')
    parser.add_argument('extra', nargs='*', help='extra `serve` arguments (after --)')
    args = parser.parse_args(argv)
    if args.collections:
        vpetest.COLLECTIONS = Path(args.collections).resolve()
        vpetest.Shim.AUTH_FAILURES = None  # an older shim may not know the option
    result = measure(args.count, args.requests, args.tls, args.extra, args.timeout, args.source)
    print(json.dumps(result, sort_keys=True))
    return 0 if result['met'] else 1


if __name__ == '__main__':
    raise SystemExit(main())
