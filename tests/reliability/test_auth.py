"""Auth on every route of the spec: missing, malformed, wrong and read-only
tokens are refused where they must be and change nothing; only the documented
open routes answer without a token; tokens are compared in constant time
against every token; a token file others can read or write is refused."""

import ast
import inspect
import json
import os
import subprocess
import uuid as uuidlib

import pytest

import relkit
import vpetest
from ansible_collections.vpe.hypervisor.api_shim import auth

pytestmark = [pytest.mark.api, pytest.mark.libvirtd]


def _operations():
    return list(relkit.spec_operations())


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('auth')
    tree = root / 'tree'
    (tree / 'pools').mkdir(parents=True)
    (tree / 'images').mkdir()
    with relkit.shim_at(root / 'shim', state_dir=root / 'state') as shim:
        assert shim.request('PUT', '/hypervisor/quota', json={'quota': {'cpu_max': 32}}).status_code == 200
        pool_uuid = str(uuidlib.uuid4())
        if ('POST', '/hypervisor/pools') in {(m, p) for m, p, _o in _operations()}:
            made = shim.request('POST', '/hypervisor/pools', json={'pool': {
                'name': relkit.REL + '-auth', 'path': str(tree / 'pools' / 'a1'), 'max_gb': 2}})
            assert made.status_code == 200, made.text
            pool_uuid = made.json()['pool']['uuid']
        baseline = relkit.snapshot(shim.state_dir, tree)
        counters = {'requests': 0, 'refused': 0}
        yield {'shim': shim, 'tree': tree, 'uuid': pool_uuid, 'baseline': baseline, 'counters': counters}
        diff = relkit.snapshot_diff(baseline, relkit.snapshot(shim.state_dir, tree))
        relkit.remove_rel_pools()
    relkit.record('auth', operations=len(_operations()), host_changes=len(diff), **counters)
    assert not diff, diff


def _send(env, method, path, headers):
    spec = relkit.load_spec()
    op = spec['paths'][path][method.lower()]
    body = relkit.BASE_BODIES.get((method, path))
    schema = relkit.request_schema(spec, op)
    data = None
    if body is not None and schema is not None:
        text = json.dumps({schema[0]: body}).replace(relkit.TREE, str(env['tree']))
        data = text.encode()
        headers = dict(headers, **{'Content-Type': 'application/json'})
    query = {p['name']: str((p.get('schema') or {}).get('enum', [(p.get('schema') or {}).get('default')])[0])
             for p in relkit.query_parameters(spec, op, spec['paths'][path]) if p.get('required')}
    env['counters']['requests'] += 1
    return env['shim'].request(method, path.replace('{uuid}', env['uuid']), token=None, headers=headers,
                               data=data, params=query)


PROTECTED = [(m, p) for m, p, op in _operations() if not relkit.is_open(op)]
OPEN = [(m, p) for m, p, op in _operations() if relkit.is_open(op)]
BAD_HEADERS = [
    ('missing', {}),
    ('empty', {'Authorization': ''}),
    ('basic', {'Authorization': 'Basic YWRtaW46YWRtaW4='}),
    ('bearer-no-token', {'Authorization': 'Bearer '}),
    ('wrong-token', {'Authorization': 'Bearer ' + 'f' * 32}),
    ('token-in-other-scheme', None),  # 'Token <admin>' built at run time
    ('admin-token-with-suffix', None),
    ('admin-token-truncated', None),
]


@pytest.mark.parametrize('method,path', PROTECTED, ids=['%s %s' % mp for mp in PROTECTED])
@pytest.mark.parametrize('label,headers', BAD_HEADERS, ids=[b[0] for b in BAD_HEADERS])
def test_protected_routes_refuse_missing_or_wrong_tokens(env, method, path, label, headers):
    admin = env['shim'].admin_token
    headers = headers if headers is not None else {
        'token-in-other-scheme': {'Authorization': 'Token ' + admin},
        'admin-token-with-suffix': {'Authorization': 'Bearer ' + admin + 'x'},
        'admin-token-truncated': {'Authorization': 'Bearer ' + admin[:-1]},
    }[label]
    resp = _send(env, method, path, headers)
    relkit.assert_problem(resp, 401)
    assert resp.headers['WWW-Authenticate'].startswith('Bearer')
    env['counters']['refused'] += 1


@pytest.mark.parametrize('method,path', PROTECTED, ids=['%s %s' % mp for mp in PROTECTED])
def test_read_token_reads_but_cannot_write(env, method, path):
    resp = _send(env, method, path, env['shim'].headers('read'))
    if method == 'GET':
        assert resp.status_code not in (401, 403), resp.text
    else:
        doc = relkit.assert_problem(resp, 403)
        assert 'admin' in doc['detail']
        env['counters']['refused'] += 1


# Writes with an admin token are the other tests' business: only reads here.
PROTECTED_READS = [mp for mp in PROTECTED if mp[0] == 'GET']


@pytest.mark.parametrize('method,path', PROTECTED_READS, ids=['%s %s' % mp for mp in PROTECTED_READS])
def test_admin_token_passes_auth_on_reads(env, method, path):
    assert _send(env, method, path, env['shim'].headers('admin')).status_code not in (401, 403)


@pytest.mark.parametrize('method,path', OPEN, ids=['%s %s' % mp for mp in OPEN])
def test_only_documented_routes_are_open(env, method, path):
    assert relkit.open_path(path)
    resp = _send(env, method, path, {})
    assert resp.status_code in (200, 503), resp.text  # /healthz says 503 while libvirt is down


def test_every_token_is_compared_with_hmac_compare_digest(monkeypatch):
    """Behaviour: compare_digest runs once per configured token whichever
    token is presented (no early exit). Code: scope_of has no return or break
    inside its loop and compares tokens with nothing else."""
    calls = []
    real = auth.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, 'compare_digest', spy)
    tokens = [('read', b'r' * 20), ('admin', b'a' * 20), ('read', b's' * 20), ('admin', b'b' * 24)]
    authn = auth.Authenticator(tokens)
    for presented, scope in (('r' * 20, 'read'), ('a' * 20, 'admin'), ('b' * 24, 'admin'), ('x' * 20, None),
                             ('', None), ('a' * 19, None)):
        del calls[:]
        assert authn.scope_of(presented) == scope
        assert [b for _a, b in calls] == [t for _s, t in tokens], 'every token, in order, every time'

    tree = ast.parse(inspect.getsource(auth.Authenticator.match).strip())
    loops = [n for n in ast.walk(tree) if isinstance(n, ast.For)]
    assert loops, 'match iterates over the tokens'
    for loop in loops:
        assert not [n for n in ast.walk(loop) if isinstance(n, (ast.Return, ast.Break))], 'early exit in the loop'
    source = inspect.getsource(auth)
    compares = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Compare)]
    for node in compares:
        names = {getattr(x, 'id', None) for x in ast.walk(node)}
        assert not names & {'token', 'presented'}, 'a token compared with %s' % ast.dump(node)


@pytest.mark.parametrize('mode', [0o644, 0o604, 0o602, 0o606, 0o666, 0o777])
def test_token_file_others_can_read_or_write_is_refused(tmp_path, mode):
    path, _admin, _read = vpetest.write_token_file(tmp_path, mode=mode)
    with pytest.raises(auth.TokenFileError, match='accessible to other users'):
        auth.load_tokens(str(path))


@pytest.mark.parametrize('mode', [0o600, 0o400, 0o640])
def test_token_file_private_to_owner_or_group_is_accepted(tmp_path, mode):
    path, admin, _read = vpetest.write_token_file(tmp_path, mode=mode)
    assert ('admin', admin.encode()) in [(t.scope, t.secret) for t in auth.load_tokens(str(path))]


@pytest.mark.parametrize('mode', [0o644, 0o606])
def test_shim_refuses_to_start_with_a_world_accessible_token_file(tmp_path, mode):
    path, _admin, _read = vpetest.write_token_file(tmp_path, mode=mode)
    proc = subprocess.run(vpetest.shim_command('serve', '--listen', '127.0.0.1:%d' % vpetest.free_port(),
                                               '--token-file', str(path), '--state-dir', str(tmp_path / 's')),
                          env=vpetest.shim_env(), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert 'accessible to other users' in proc.stderr and 'chmod 600' in proc.stderr
    assert not os.path.exists(str(tmp_path / 's' / 'state.json'))
