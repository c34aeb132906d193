"""Bad input, endpoint by endpoint: every request below gets a 4xx
problem+json that names the field at fault, and afterwards the host (libvirt
domains, pools and networks, the state file, the state directory, the test's
directory tree, the system directories and the network interfaces) is exactly
as it was.

The table is built from api_shim/openapi.yaml: every operation with a JSON
body gets the body cases, every field its type's cases, every query and path
parameter its own. A new endpoint is covered as soon as it is in the spec;
it only needs a valid base body in BASE_BODIES."""

import json
import os
import uuid as uuidlib
from collections import namedtuple

import pytest
import requests

import relkit
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput

pytestmark = [pytest.mark.api, pytest.mark.libvirtd]

TREE = relkit.TREE    # replaced by the test's directory tree
UUID = '@UUID@'      # replaced by the uuid of the test's own pool
RAW = '@RAW@'        # a JSON token spliced in unquoted (NaN, 1e400, ...)

BASE_BODIES = relkit.BASE_BODIES

# Fields a body may not carry on this operation (PUT changes name and max_gb only).
FORBIDDEN = {('PUT', '/hypervisor/pools/{uuid}'): ('path',)}

INT_CASES = [
    ('string', '16'), ('float', 1.5), ('true', True), ('array', [1]), ('object', {'v': 1}),
    ('negative', -1), ('zero', 0), ('min-int64', -2 ** 63), ('2^63', 2 ** 63), ('10^100', 10 ** 100),
    ('exp-1e400', RAW + '1e400'), ('NaN', RAW + 'NaN'), ('-Infinity', RAW + '-Infinity'),
    ('quoted-angle', '"<1>"'), ('null', None),
]
NAME_CASES = [
    ('integer', 123), ('true', True), ('array', ['a']), ('empty', ''), ('double-quote', 'a"b'),
    ('single-quote', "a'b"), ('angle', '<script>x</script>'), ('ampersand', 'a&amp;b'), ('nul', 'a\x00b'),
    ('unicode', 'p\u00fc\u00f1\u00ef'), ('cjk', '\u540d\u524d'), ('rtl-override', 'a\u202eb'),
    ('dotdot', '..'), ('dotdot-slash', '../etc'), ('slash', 'a/b'), ('space', 'a b'), ('newline', 'a\nb'),
    ('shell', '$(id)'), ('too-long', 'x' * 300), ('leading-dot', '.hidden'), ('trailing-newline', 'ab\n'),
    ('dot', '.'), ('null', None),
]
PATH_CASES = [
    ('null', None), ('integer', 42), ('array', ['/tmp']), ('empty', ''), ('relative', 'relative/dir'),
    ('nul', TREE + '/a\x00b'), ('root', '/'), ('etc', '/etc'),
    ('quotes-angle-unicode-in-etc', '/etc/' + relkit.REL + '-"q\'<a>&\u00fc'),
    ('usr', '/usr/lib/' + relkit.REL), ('dotdot-into-etc', TREE + '/../../../../../../etc/' + relkit.REL),
    ('symlink-to-etc', TREE + '/lnk-etc'), ('under-symlink-to-etc', TREE + '/lnk-etc/' + relkit.REL),
    ('under-symlink-to-usr', TREE + '/lnk-usr/share/' + relkit.REL),
    ('under-symlink-to-root-boot', TREE + '/lnk-root/boot/' + relkit.REL),
    ('proc', '/proc/' + relkit.REL), ('sys', '/sys/' + relkit.REL), ('dev', '/dev/' + relkit.REL),
    ('run', '/run/' + relkit.REL), ('too-long', '/' + 'x' * 5000),
]
BAD_QUERY = {
    'boolean': ['maybe', '2', '"<x>"', '\u00fc'],
    'integer': ['abc', '-300', '0', '1.5', '9' * 40, '"<x>"'],
    'string': ['bogus', '..', '"<x>"', '\u00fc', 'today\n'],
}
BAD_PATH_PARAMS = ['not-a-uuid', '..', '%2e%2e', '%00', '%22%3Cx%3E', '%C3%BC', 'a' * 1000,
                   str(uuidlib.UUID(int=0)), None]  # None: a random, well-formed uuid

Case = namedtuple('Case', 'id method path query headers body raw status fields')


def _cases():
    spec = relkit.load_spec()
    out = []

    def add(id_, method, path, query=None, headers=None, body=None, raw=None, status=None, fields=None):
        out.append(Case('%s %s %s' % (method, path, id_), method, path, query, headers or {}, body, raw,
                        status, fields))

    for method, path, op in relkit.spec_operations(spec):
        if relkit.is_open(op):
            continue
        item = spec['paths'][path]
        schema = relkit.request_schema(spec, op)
        good = {schema[0]: _base(method, path)} if schema else None
        qparams = relkit.query_parameters(spec, op, item)
        base_query = {p['name']: _valid_query(p) for p in qparams if p.get('required')}
        # unknown query parameter, and each declared one with bad values
        add('unknown-query', method, path, query=dict(base_query, vpetest='1'), body=good,
            status=400, fields={'vpetest'})
        for param in qparams:
            pschema = param.get('schema') or {}
            values = list(pschema.get('enum') and BAD_QUERY['string'] or BAD_QUERY.get(pschema.get('type'), []))
            for value in values:
                add('query-%s=%r' % (param['name'], value), method, path,
                    query=dict(base_query, **{param['name']: value}),
                    body=good, status=400, fields={param['name']})
        # path parameters: nothing matches, and nothing breaks
        if '{uuid}' in path:
            for value in BAD_PATH_PARAMS:
                value = value if value is not None else str(uuidlib.uuid4())
                add('path-param=%r' % value[:20], method, path.replace('{uuid}', value),
                    body=good, fields={None, 'uuid'})
        if method in ('PUT', 'DELETE'):
            add('if-match-stale', method, path, headers={'If-Match': '"0000"'}, body=good,
                status=412, fields={'If-Match'})
        body_required = bool((relkit.resolve(spec, op.get('requestBody')) or {}).get('required'))
        if method in ('PUT', 'POST', 'DELETE') and op.get('requestBody'):
            _body_cases(add, method, path, schema, body_required)
        if schema is None:
            continue
        key, props, _required = schema
        for field in sorted(set(FORBIDDEN.get((method, path), ())) - set(props)):
            add('%s-not-allowed-here' % field, method, path, body={key: dict(_base(method, path) or {}, **{
                field: TREE + '/pools/other'})}, status=400, fields={field})
        for field, fschema in sorted(props.items()):
            values = _field_cases(field, fschema)
            for label, value in values:
                body = dict(_base(method, path) or {})
                body[field] = value
                expect = {field, 'body'} if _raw_unparseable(value) else {field}
                if _valid_by_rule(key, field, value):
                    # a legal value (a bridge named .x): the request is refused
                    # for the other field (no such NIC), which is what keeps the host safe
                    expect = set(body)
                add('%s=%s' % (field, label), method, path, body={key: body}, status=None, fields=expect)
    return out


def _valid_query(param):
    schema = param.get('schema') or {}
    for source in (schema.get('enum') or [None])[:1] + [schema.get('default'), param.get('example')]:
        if source is not None:
            return str(source).lower() if isinstance(source, bool) else str(source)
    raise AssertionError('give a default or enum for required query parameter %s' % param['name'])


def _valid_by_rule(resource, field, value):
    try:
        fields.check_field(resource, field, value)
        return True
    except (KeyError, InvalidInput):
        return False


def _raw_unparseable(value):
    return isinstance(value, str) and value.startswith(RAW + '9' * 10)


def _field_cases(field, schema):
    if schema.get('type') == 'integer':
        cases = [c for c in INT_CASES if c[0] not in ('negative', 'zero') or schema.get('minimum', 0) >= 1]
        cases.append(('5000-digits', RAW + '9' * 5000))
        if 'maximum' in schema:
            cases.append(('max+1', schema['maximum'] + 1))
        if 'minimum' in schema:
            cases.append(('min-1', schema['minimum'] - 1))
        return cases
    if field == 'path':
        return list(PATH_CASES)
    return list(NAME_CASES)


def _base(method, path):
    key = (method, path)
    if key in BASE_BODIES:
        return dict(BASE_BODIES[key])
    return None


def _body_cases(add, method, path, schema, body_required):
    key = schema[0] if schema else None
    base = {key: _base(method, path)} if key else {}
    good = json.dumps(base)
    json_ct = {'Content-Type': 'application/json'}
    if body_required:
        add('no-body', method, path, status=400, fields={'body'})
        add('empty-body', method, path, raw=b'', headers=json_ct, status=400, fields={'body'})
    add('1MB-body', method, path, raw=good[:-1].encode() + b', "pad": "' + b'x' * (1024 * 1024) + b'"}',
        headers=json_ct, status=413, fields={'body'})
    add('1MB-chunked', method, path, raw=iter([b'{"pad": "', b'x' * (1024 * 1024), b'"}']), headers=json_ct,
        status=413, fields={'body'})
    add('invalid-json', method, path, raw=b'{"%s": {' % (key or 'x').encode(), headers=json_ct,
        status=400, fields={'body'})
    add('invalid-utf8', method, path, raw=b'{"\xff\xfe": 1}', headers=json_ct, status=400, fields={'body'})
    add('nested-50000', method, path, raw=b'[' * 50000, headers=json_ct, status=400, fields={'body'})
    add('text-plain', method, path, raw=good.encode(), headers={'Content-Type': 'text/plain'},
        status=415, fields={'Content-Type'})
    add('form', method, path, raw=b'a=1', headers={'Content-Type': 'application/x-www-form-urlencoded'},
        status=415, fields={'Content-Type'})
    add('no-content-type', method, path, raw=good.encode(), status=415, fields={'Content-Type'})
    for label, doc in (('array', [base]), ('string', 'x'), ('number', 1)):
        add('body-is-%s' % label, method, path, body=doc, status=400, fields={'body', key})
    if key is None:
        add('unknown-field', method, path, body={'vpetest': 1}, status=400, fields={'body', 'vpetest'})
        return
    add('unknown-top-level', method, path, body=dict(base, vpetest=1), status=400, fields={'vpetest'})
    add('body-is-null', method, path, raw=b'null', headers=json_ct, status=400, fields={'body', key})
    add('no-envelope', method, path, body=base[key], status=400)
    add('empty-object', method, path, body={}, status=400, fields={key})
    for label, inner in (('array', [base[key]]), ('string', 'x'), ('number', 3), ('null', None)):
        add('envelope-is-%s' % label, method, path, body={key: inner}, status=400, fields={key})
    for name in ('vpetest_unknown', '<a href=x>', 'a"b', 'k\x00', '\u00fcber', 'uuid', 'used_gb', 'created_at'):
        add('field-%r' % name, method, path, body={key: dict(base[key] or {}, **{name: 1})}, status=400,
            fields={name})


CASES = _cases()


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('badinput')
    tree = root / 'tree'
    for sub in ('pools', 'images'):
        (tree / sub).mkdir(parents=True)
    (tree / 'images' / 'keep.img').write_bytes(b'\0' * 4096)
    for name, target in (('lnk-etc', '/etc'), ('lnk-usr', '/usr'), ('lnk-root', '/')):
        os.symlink(target, str(tree / name))
    with relkit.shim_at(root / 'shim', state_dir=root / 'state') as shim:
        assert shim.request('PUT', '/hypervisor/quota', json={'quota': {'cpu_max': 64}}).status_code == 200
        pool_uuid = None
        ops = {(m, p) for m, p, _o in relkit.spec_operations()}
        if ('POST', '/hypervisor/pools') in ops:
            made = shim.request('POST', '/hypervisor/pools', json={'pool': {
                'name': relkit.REL + '-bad', 'path': str(tree / 'pools' / 'p1'), 'max_gb': 3}})
            assert made.status_code == 200, made.text
            pool_uuid = made.json()['pool']['uuid']
            (tree / 'pools' / 'p1' / 'keep.qcow2').write_bytes(b'\1' * 1024)
            shim.request('GET', '/hypervisor/pools')  # settle any reconciliation before the baseline
        counters = {'requests': 0, 'refused_4xx': 0, 'host_changes': 0, 'server_errors': 0}
        env = {'shim': shim, 'tree': tree, 'root': root, 'uuid': pool_uuid, 'counters': counters}
        env['baseline'] = relkit.snapshot(shim.state_dir, tree)
        yield env
        alive = shim.proc.poll() is None
        relkit.remove_rel_pools()
        log = shim.output()
    relkit.record('bad_input', cases=len(CASES), endpoints=sum(1 for _m, _p, op in relkit.spec_operations()
                                                               if not relkit.is_open(op)),
                  data_lost=counters['host_changes'], shim_alive=alive, **counters)
    assert 'unhandled error' not in log, log[-3000:]


def _subst(value, env):
    if isinstance(value, str):
        return value.replace(TREE, str(env['tree'])).replace(UUID, env['uuid'] or '')
    if isinstance(value, dict):
        return {_subst(k, env): _subst(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_subst(v, env) for v in value]
    return value


def _encode(body):
    text = json.dumps(body)
    # "@RAW@1e400" -> 1e400
    while '"%s' % RAW in text:
        start = text.index('"%s' % RAW)
        end = text.index('"', start + 1)
        text = text[:start] + text[start + 1 + len(RAW):end] + text[end + 1:]
    return text.encode()


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(env, case):
    shim = env['shim']
    path = case.path.replace('{uuid}', env['uuid'] or str(uuidlib.uuid4()))
    headers = dict(case.headers)
    data = case.raw
    if case.body is not None:
        data = _encode(_subst(case.body, env))
        headers.setdefault('Content-Type', 'application/json')
    resp = shim.request(case.method, path, params=case.query, headers=headers, data=data)
    env['counters']['requests'] += 1
    if resp.status_code >= 500:
        env['counters']['server_errors'] += 1
    after = relkit.snapshot(shim.state_dir, env['tree'])
    diff = relkit.snapshot_diff(env['baseline'], after)
    if diff:
        env['counters']['host_changes'] += 1
        env['baseline'] = after  # report each change once
    doc = relkit.assert_problem(resp, case.status)
    env['counters']['refused_4xx'] += 1
    if case.fields is not None:
        assert doc.get('field') in case.fields, 'expected field in %r, got %r' % (case.fields, doc)
    if doc.get('field'):
        assert doc['detail'], doc
    assert not diff, 'the host changed:\n' + '\n'.join(diff)
    assert shim.proc.poll() is None


def test_the_table_covers_every_operation_that_takes_input():
    """Each non-open operation is in the table, and each body schema has a base body."""
    spec = relkit.load_spec()
    covered = {(c.method, c.path) for c in CASES}
    for method, path, op in relkit.spec_operations(spec):
        if relkit.is_open(op):
            continue
        assert any(m == method and (p == path or '{' in path) for m, p in covered), (method, path)
        if relkit.request_schema(spec, op) is not None:
            assert (method, path) in BASE_BODIES, 'add a valid base body for %s %s' % (method, path)


def test_symlinks_into_system_directories_are_resolved_before_the_check(env):
    """The symlink cases above really point into the system tree."""
    assert os.path.realpath(str(env['tree'] / 'lnk-etc')) == '/etc'
    assert os.path.realpath(str(env['tree'] / 'lnk-root' / 'boot')) == '/boot'
    assert not os.path.exists('/etc/' + relkit.REL)
    requests.get(env['shim'].url + '/healthz', timeout=5).raise_for_status()
