# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m ansible_collections.vpe.hypervisor.api_shim serve|... """

import argparse
import logging
import os
import signal
import sys

from ansible_collections.vpe.hypervisor.api_shim import server
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_conn import default_uri
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.state_store import DEFAULT_STATE_DIR

DEFAULT_LISTEN = '127.0.0.1:8470'


def build_parser():
    parser = argparse.ArgumentParser(prog='vpe-shim', description='vpe.hypervisor REST shim')
    commands = parser.add_subparsers(dest='command')
    commands.required = True

    serve = commands.add_parser('serve', help='serve the hypervisor API')
    serve.add_argument('--listen', default=DEFAULT_LISTEN, help='HOST:PORT (default %(default)s)')
    serve.add_argument('--uri', default=None, help='libvirt URI (default LIBVIRT_DEFAULT_URI or qemu:///system)')
    serve.add_argument('--state-dir', default=DEFAULT_STATE_DIR, help='host state directory (default %(default)s)')
    serve.add_argument('--token-file', required=True,
                       help='file of "SCOPE sha256:HEX [LABEL]" (or "SCOPE TOKEN [LABEL]") lines, mode 0600; '
                            're-read when it changes and on SIGHUP')
    serve.add_argument('--tls-cert', help='PEM certificate; serve HTTPS')
    serve.add_argument('--tls-key', help='PEM private key for --tls-cert')
    serve.add_argument('--insecure', action='store_true',
                       help='allow plain HTTP on a non-loopback address')
    serve.add_argument('--threads', type=int, default=server.DEFAULT_THREADS, help='worker threads (default %(default)s)')
    serve.add_argument('--audit-log', default=None,
                       help='audit log of mutating requests: a file, or - for standard output '
                            '(default STATE_DIR/audit.log)')
    serve.add_argument('--max-client-connections', type=positive_int, default=server.DEFAULT_MAX_PER_CLIENT,
                       help='open connections one client address may hold (default %(default)s)')
    serve.add_argument('--max-connections', type=positive_int, default=server.DEFAULT_MAX_CONNECTIONS,
                       help='open connections in all (default %(default)s)')
    serve.add_argument('--auth-failures', type=positive_int, default=10,
                       help='failed authentications one address may make per --auth-window before it gets '
                            '429 (default %(default)s)')
    serve.add_argument('--auth-window', type=positive_int, default=60,
                       help='seconds (default %(default)s)')
    serve.set_defaults(run=run_serve)

    token = commands.add_parser('token', help='manage the token file')
    token_commands = token.add_subparsers(dest='token_command')
    token_commands.required = True
    add = token_commands.add_parser('add', help='print a new random token and append its hashed line')
    add.add_argument('--scope', required=True, choices=('read', 'admin'))
    add.add_argument('--label', default=None, help='name of the token in the audit log')
    add.add_argument('--token-file', required=True, help='the token file (created 0600 when missing)')
    add.set_defaults(run=run_token_add)

    collect = commands.add_parser('collect', help='sample the host into the metrics store')
    collect.add_argument('--state-dir', default=DEFAULT_STATE_DIR, help='host state directory (default %(default)s)')
    collect.add_argument('--interval', type=float, default=60.0,
                         help='seconds between samples (default %(default)s; short ones are for tests)')
    collect.add_argument('--count', type=int, default=None, help='stop after this many samples (default: never)')
    collect.set_defaults(run=run_collect)
    return parser


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('must be a whole number >= 1, got %r' % text)
    return value


def run_serve(args):
    from ansible_collections.vpe.hypervisor.api_shim import audit, network_backstop
    from ansible_collections.vpe.hypervisor.api_shim.app import create_app
    from ansible_collections.vpe.hypervisor.api_shim.auth import Authenticator
    from ansible_collections.vpe.hypervisor.api_shim.throttle import AuthThrottle
    from ansible_collections.vpe.hypervisor.api_shim.tokens import TokenFile, TokenFileError

    if bool(args.tls_cert) != bool(args.tls_key):
        sys.stderr.write('vpe-shim: --tls-cert and --tls-key go together\n')
        return 2
    audit_target = args.audit_log or os.path.join(args.state_dir, audit.DEFAULT_NAME)
    try:
        host, port = server.parse_listen(args.listen)
        server.check_exposure(host, bool(args.tls_cert), args.insecure)
        tokens = TokenFile(args.token_file)
        if audit_target != '-' and not os.path.isdir(os.path.dirname(os.path.abspath(audit_target))):
            os.makedirs(os.path.dirname(os.path.abspath(audit_target)), 0o750)
        audit_log = audit.AuditLog(audit_target)
    except (server.ListenError, TokenFileError) as exc:
        sys.stderr.write('vpe-shim: %s\n' % exc)
        return 2
    except OSError as exc:
        sys.stderr.write('vpe-shim: cannot open the audit log %s: %s\n' % (audit_target, exc.strerror))
        return 2

    def reread(_signum, _frame):
        # SIGHUP: the token file at once, and a fresh audit log after logrotate
        tokens.reload()
        audit_log.reopen()

    signal.signal(signal.SIGHUP, reread)
    ctx = Context(uri=args.uri or default_uri(), state_dir=args.state_dir)
    authenticator = Authenticator(tokens, AuthThrottle(limit=args.auth_failures, window=args.auth_window))
    app = audit.audited(create_app(ctx, authenticator), audit_log)
    backstop = network_backstop.start(ctx)
    server.serve(app, host, port, threads=args.threads, tls_cert=args.tls_cert, tls_key=args.tls_key,
                 max_per_client=args.max_client_connections, max_connections=args.max_connections)
    backstop.set()
    ctx.close()
    audit_log.close()
    return 0


def run_token_add(args):
    from ansible_collections.vpe.hypervisor.api_shim.tokens import TokenFileError, add_token

    try:
        token = add_token(args.token_file, args.scope, args.label)
    except TokenFileError as exc:
        sys.stderr.write('vpe-shim: %s\n' % exc)
        return 2
    except OSError as exc:
        sys.stderr.write('vpe-shim: cannot write %s: %s\n' % (args.token_file, exc.strerror or exc))
        return 2
    sys.stdout.write(token + '\n')
    return 0


def run_collect(args):
    from ansible_collections.vpe.hypervisor.api_shim import collector

    return collector.main(args.state_dir, interval=args.interval, count=args.count)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(levelname)s %(message)s')
    args = build_parser().parse_args(argv)
    return args.run(args)
