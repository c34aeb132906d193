"""The stack's ceiling for the shim bench: a Bottle endpoint returning a
constant body, served by api_shim.server.serve() (same cheroot server, same
thread count, same access log and logging setup as `api_shim serve`).

    python bench/constant_app.py --listen 127.0.0.1:PORT [--threads N]
"""

import argparse
import json
import logging

import bottle

from ansible_collections.vpe.hypervisor.api_shim import server

# About the size and shape of a usages answer.
BODY = json.dumps({'usages': {'instances': 200, 'memory_used_mb': 12800, 'memory_total_mb': 23000,
                              'cpu_used': 200, 'cpu_total': 2}}, sort_keys=True, separators=(',', ':'))


def create_app():
    app = bottle.Bottle(catchall=True, autojson=False)

    @app.route('/constant', 'GET')
    def constant():
        return bottle.HTTPResponse(body=BODY, status=200,
                                   headers={'Content-Type': 'application/json', 'Cache-Control': 'no-store'})

    @app.route('/healthz', 'GET')
    def healthz():
        return bottle.HTTPResponse(body='{"status":"ok"}', status=200, headers={'Content-Type': 'application/json'})

    return app


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--listen', default='127.0.0.1:8471')
    parser.add_argument('--threads', type=int, default=server.DEFAULT_THREADS)
    args = parser.parse_args(argv)
    # the same logging setup as api_shim.cli.main, so the access log costs the same
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(levelname)s %(message)s')
    host, port = server.parse_listen(args.listen)
    server.serve(create_app(), host, port, threads=args.threads)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
