"""Stand-in shims: many HTTP servers on loopback answering the five GETs the
inventory asks, each after a delay, from one separate process.

For the inventory's concurrency (tests/unit/plugins/inventory) and its bench
(bench/inventory): hundreds of real shims would not fit on 2 CPUs, and the
point there is the waiting, not the answers. The process counts how many
requests and how many hosts were in flight at once (GET /_stats on any port).

Run as a program: `standin_shims.py SPEC.json` where SPEC is
{"token": T, "hosts": [{"delay": s, "mode": "ok|status|garbage|noenvelope",
"status": 503, "usages": {...}, "quota": {...}, "pools": [...]}, ...]};
it prints one JSON line {"ports": [...]} when every server listens.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_USAGES = {'instances': 2, 'cpu_used': 4, 'cpu_total': 16, 'memory_used_mb': 8192, 'memory_total_mb': 32768}
DEFAULT_QUOTA = {'cpu_max': 16, 'memory_max_mb': 32768}
DEFAULT_POOLS = [{'name': 'fast', 'uuid': '19636f21-dc97-4cde-af55-fd6459342516', 'path': '/srv/vpe/fast',
                  'max_gb': 100, 'used_gb': 20.5, 'created_at': '2026-12-01 10:00:00'}]
DEFAULT_IMAGE_POOL = {'path': '/srv/vpe/images', 'max_gb': 500, 'used_gb': 12.25}
DEFAULT_NETWORK = {'bridge': 'br100', 'bridge_interface': 'eth0'}


class Stats(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = {}
        self.max_requests = 0
        self.max_hosts = 0
        self.requests = 0

    def enter(self, host):
        with self.lock:
            self.in_flight[host] = self.in_flight.get(host, 0) + 1
            self.requests += 1
            self.max_requests = max(self.max_requests, sum(self.in_flight.values()))
            self.max_hosts = max(self.max_hosts, len(self.in_flight))

    def leave(self, host):
        with self.lock:
            self.in_flight[host] -= 1
            if not self.in_flight[host]:
                del self.in_flight[host]

    def snapshot(self):
        with self.lock:
            return {'requests': self.requests, 'max_requests_in_flight': self.max_requests,
                    'max_hosts_in_flight': self.max_hosts}


def make_handler(index, host, token, stats):
    bodies = {
        'usages': {'usages': host.get('usages', DEFAULT_USAGES)},
        'quota': {'quota': host.get('quota', DEFAULT_QUOTA)},
        'pools': {'pools': host.get('pools', DEFAULT_POOLS)},
        'image-pool': {'image-pool': host.get('image_pool', DEFAULT_IMAGE_POOL)},
        'network': {'network': host.get('network', DEFAULT_NETWORK)},
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *_args):
            pass

        def send(self, status, doc, ctype='application/json'):
            body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
            self.send_response(status)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == '/_stats':
                return self.send(200, stats.snapshot())
            # In flight while it waits, not while it answers: the client may
            # send its next host's requests as soon as the answer is written,
            # before this thread would get to leave() after the write.
            stats.enter(index)
            try:
                time.sleep(host.get('delay', 0))
            finally:
                stats.leave(index)
            self.answer()

        def answer(self):
            if self.headers.get('Authorization') != 'Bearer ' + token:
                return self.send(401, {'type': 'about:blank', 'title': 'Unauthorized', 'status': 401,
                                       'detail': 'token not accepted'}, 'application/problem+json')
            name = self.path.rsplit('/', 1)[-1]
            if not self.path.startswith('/hypervisor/') or name not in bodies:
                return self.send(404, {'status': 404, 'title': 'Not Found', 'detail': 'no route'},
                                 'application/problem+json')
            mode = host.get('mode', 'ok')
            if mode == 'status':
                status = host.get('status', 503)
                return self.send(status, {'type': 'about:blank', 'title': 'Service Unavailable', 'status': status,
                                          'detail': 'libvirt is unreachable at qemu:///system'},
                                 'application/problem+json')
            if mode == 'garbage':
                return self.send(200, b'<html>hello</html>', 'text/html')
            if mode == 'noenvelope':
                return self.send(200, {'something': 'else'})
            return self.send(200, bodies[name])

    return Handler


def serve(spec):
    stats = Stats()
    servers = []
    for index, host in enumerate(spec['hosts']):
        server = ThreadingHTTPServer(('127.0.0.1', 0), make_handler(index, host, spec['token'], stats))
        server.daemon_threads = True
        server.request_queue_size = 128
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


class StandinFleet(object):
    """The stand-ins in a child process; .urls, .stats(), .stop()."""

    def __init__(self, hosts, token):
        self.spec_file = tempfile.NamedTemporaryFile('w', prefix='vpeinv-standin-', suffix='.json', delete=False)
        json.dump({'token': token, 'hosts': hosts}, self.spec_file)
        self.spec_file.close()
        self.proc = subprocess.Popen([sys.executable, __file__, self.spec_file.name],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError('stand-in shims did not start (exit %s)' % self.proc.wait(10))
        self.ports = json.loads(line)['ports']
        self.urls = ['http://127.0.0.1:%d' % port for port in self.ports]

    def stats(self):
        import urllib.request
        with urllib.request.urlopen(self.urls[0] + '/_stats', timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        os.unlink(self.spec_file.name)


def main():
    spec = json.loads(Path(sys.argv[1]).read_text())
    servers = serve(spec)
    print(json.dumps({'ports': [s.server_address[1] for s in servers]}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
