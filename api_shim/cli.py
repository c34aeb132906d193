# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m ansible_collections.vpe.hypervisor.api_shim serve|... """

import argparse
import logging
import sys

from ansible_collections.vpe.hypervisor.api_shim import server
from ansible_collections.vpe.hypervisor.plugins.module_utils.context import Context
from ansible_collections.vpe.hypervisor.plugins.module_utils.libvirt_conn import default_uri
from ansible_collections.vpe.hypervisor.plugins.module_utils.state_store import DEFAULT_STATE_DIR

DEFAULT_LISTEN = '127.0.0.1:8470'


def build_parser():
    parser = argparse.ArgumentParser(prog='vpe-shim', description='vpe.hypervisor REST shim')
    commands = parser.add_subparsers(dest='command')
    commands.required = True

    serve = commands.add_parser('serve', help='serve the hypervisor API')
    serve.add_argument('--listen', default=DEFAULT_LISTEN, help='HOST:PORT (default %(default)s)')
    serve.add_argument('--uri', default=None, help='libvirt URI (default LIBVIRT_DEFAULT_URI or qemu:///system)')
    serve.add_argument('--state-dir', default=DEFAULT_STATE_DIR, help='host state directory (default %(default)s)')
    serve.add_argument('--token-file', required=True, help='file of "SCOPE TOKEN" lines, mode 0600')
    serve.add_argument('--tls-cert', help='PEM certificate; serve HTTPS')
    serve.add_argument('--tls-key', help='PEM private key for --tls-cert')
    serve.add_argument('--insecure', action='store_true',
                       help='allow plain HTTP on a non-loopback address')
    serve.add_argument('--threads', type=int, default=server.DEFAULT_THREADS, help='worker threads (default %(default)s)')
    serve.set_defaults(run=run_serve)

    collect = commands.add_parser('collect', help='sample the host into the metrics store')
    collect.add_argument('--state-dir', default=DEFAULT_STATE_DIR, help='host state directory (default %(default)s)')
    collect.add_argument('--interval', type=float, default=60.0,
                         help='seconds between samples (default %(default)s; short ones are for tests)')
    collect.add_argument('--count', type=int, default=None, help='stop after this many samples (default: never)')
    collect.set_defaults(run=run_collect)
    return parser


def run_serve(args):
    from ansible_collections.vpe.hypervisor.api_shim.app import create_app
    from ansible_collections.vpe.hypervisor.api_shim.auth import Authenticator, TokenFileError, load_tokens

    if bool(args.tls_cert) != bool(args.tls_key):
        sys.stderr.write('vpe-shim: --tls-cert and --tls-key go together\n')
        return 2
    try:
        host, port = server.parse_listen(args.listen)
        server.check_exposure(host, bool(args.tls_cert), args.insecure)
        tokens = load_tokens(args.token_file)
    except (server.ListenError, TokenFileError) as exc:
        sys.stderr.write('vpe-shim: %s\n' % exc)
        return 2
    ctx = Context(uri=args.uri or default_uri(), state_dir=args.state_dir)
    app = create_app(ctx, Authenticator(tokens))
    server.serve(app, host, port, threads=args.threads, tls_cert=args.tls_cert, tls_key=args.tls_key)
    ctx.close()
    return 0


def run_collect(args):
    from ansible_collections.vpe.hypervisor.api_shim import collector

    return collector.main(args.state_dir, interval=args.interval, count=args.count)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(levelname)s %(message)s')
    args = build_parser().parse_args(argv)
    return args.run(args)
