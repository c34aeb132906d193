"""/hypervisor/image-pool and /hypervisor/pools over real HTTP on the real
libvirtd: the spec's envelopes, every rule with its status and field, and
nothing changed by a refused request."""

import json
import os

import pytest
from openapi_schema_validator import OAS30Validator

import vpetest
from vpetest import assert_problem as problem
from storage_helpers import allocated, define_domain_with_disk, own, own_pool_names, pool_info, sparse, tree_snapshot, virsh
from storage_helpers import image_store_guard, libvirt_conn, storage_cleanup  # noqa: F401 pylint: disable=unused-import

pytestmark = [pytest.mark.api, pytest.mark.libvirtd, pytest.mark.usefixtures('storage_cleanup')]

JSON = {'Content-Type': 'application/json'}
P = vpetest.PREFIX
POOL_FIELDS = {'name', 'uuid', 'path', 'max_gb', 'used_gb', 'created_at'}


@pytest.fixture(scope='module')
def api(tmp_path_factory):
    """One shim for the module (its start is the slow part); each test cleans its pools."""
    server = vpetest.Shim(tmp_path_factory.mktemp('storage-shim'))
    yield server
    server.stop()


def send(api, method, path, body=None, token='admin', headers=None):
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    return api.request(method, path, token=token, data=data, headers=dict(JSON, **(headers or {})))


def post(api, name, path, max_gb=10):
    return send(api, 'POST', '/hypervisor/pools', {'pool': {'name': P + name, 'path': str(path), 'max_gb': max_gb}})


def listed(api):
    resp = api.request('GET', '/hypervisor/pools', token='read')
    assert resp.status_code == 200 and set(resp.json()) == {'pools'}
    return resp.json()['pools']


def test_spec_envelopes_for_the_whole_life_of_a_pool(api, tmp_path):
    # the spec's POST example shape, answered 200 with {"pool": {...}}
    created = post(api, 'api-life', tmp_path / 'pool2', 50)
    assert created.status_code == 200, created.text
    pool = created.json()['pool']
    assert set(created.json()) == {'pool'} and set(pool) == POOL_FIELDS
    expected = (P + 'api-life', str(tmp_path / 'pool2'), 50, 0.0)
    assert (pool['name'], pool['path'], pool['max_gb'], pool['used_gb']) == expected
    assert created.headers['ETag']
    assert [p for p in listed(api) if p['uuid'] == pool['uuid']] == [pool]
    assert pool_info(P + 'api-life')['UUID'] == pool['uuid']

    put = send(api, 'PUT', '/hypervisor/pools/' + pool['uuid'], {'pool': {'name': P + 'api-life2', 'max_gb': 60}})
    assert put.status_code == 200, put.text
    assert put.json() == {'pool': dict(pool, name=P + 'api-life2', max_gb=60)}

    gone = send(api, 'DELETE', '/hypervisor/pools/' + pool['uuid'], '{}')
    assert gone.status_code == 200 and gone.json() == {'pool': {'uuid': pool['uuid']}}
    assert pool['uuid'] not in [p['uuid'] for p in listed(api)]
    assert (tmp_path / 'pool2').is_dir()
    # DELETE without a body works as well; the pool is gone now
    problem(api.request('DELETE', '/hypervisor/pools/' + pool['uuid']), 404, 'uuid')


def test_image_pool_envelopes_and_rules(api, tmp_path, image_store_guard):
    images = tmp_path / 'images'
    images.mkdir()
    allocated(images / 'base.img', 1024 ** 2)
    got = api.request('GET', '/hypervisor/image-pool', token='read')
    assert got.status_code == 200 and set(got.json()) == {'image-pool'}
    assert set(got.json()['image-pool']) == {'path', 'max_gb', 'used_gb'}
    put = send(api, 'PUT', '/hypervisor/image-pool', {'image-pool': {'path': str(images), 'max_gb': 1000}})
    assert put.status_code == 200, put.text
    assert put.json() == {'image-pool': {'path': str(images), 'max_gb': 1000, 'used_gb': 0.0}}
    assert api.request('GET', '/hypervisor/image-pool').json() == put.json()
    assert 'vpe-image-store' not in [p['name'] for p in listed(api)]

    before = api.request('GET', '/hypervisor/image-pool').json()
    for body, status, field, words in (
            ({'image-pool': {'path': str(tmp_path / 'missing')}}, 400, 'path', 'does not exist'),
            ({'image-pool': {'path': 'relative/images'}}, 400, 'path', 'absolute path'),
            ({'image-pool': {'path': '/etc/images'}}, 400, 'path', 'system directory /etc'),
            ({'image-pool': {'path': '/'}}, 400, 'path', 'root directory'),
            ({'image-pool': {'max_gb': 0}}, 400, 'max_gb', '>= 1'),
            ({'image-pool': {'used_gb': 1}}, 400, 'used_gb', 'read-only'),
            ({'image-pool': {'size': 1}}, 400, 'size', 'unknown field'),
            ({'image_pool': {'max_gb': 1}}, 400, 'image_pool', 'unknown top-level field')):
        problem(send(api, 'PUT', '/hypervisor/image-pool', body), status, field, words)
    # a pool next to it may not swallow it, nor may it move around a pool
    assert post(api, 'api-img-in', images / 'sub').status_code == 409
    assert post(api, 'api-img-near', tmp_path / 'pool').status_code == 200
    problem(send(api, 'PUT', '/hypervisor/image-pool', {'image-pool': {'path': str(tmp_path)}}), 409, 'path',
            'contains %s' % (tmp_path / 'pool'))
    assert api.request('GET', '/hypervisor/image-pool').json() == before
    assert tree_snapshot(images) == {str(images / 'base.img'): 1024 ** 2}


def test_image_pool_shrink_below_used_is_409(api, tmp_path, image_store_guard):
    images = tmp_path / 'images'
    images.mkdir()
    allocated(images / 'big.img', int(1.2 * 1024 ** 3))
    problem(send(api, 'PUT', '/hypervisor/image-pool', {'image-pool': {'path': str(images), 'max_gb': 1}}), 409,
            'max_gb', 'below used_gb 1.20')
    ok = send(api, 'PUT', '/hypervisor/image-pool', {'image-pool': {'path': str(images), 'max_gb': 2}})
    assert ok.json()['image-pool']['used_gb'] == 1.2


@pytest.mark.parametrize('path_of,status,words', [
    (lambda tmp: 'relative/pool', 400, 'absolute path'),
    (lambda tmp: '/', 400, 'root directory'),
    (lambda tmp: '/etc/vpe-pool', 400, 'system directory /etc'),
    (lambda tmp: '/usr/local/vpe-pool', 400, 'system directory /usr'),
    (lambda tmp: '/proc/vpe-pool', 400, 'system directory /proc'),
    (lambda tmp: str(tmp) + '/../../../../etc/vpe-pool', 400, 'resolves to /etc/vpe-pool'),
    (lambda tmp: str(tmp / 'to-boot' / 'pool'), 400, 'resolves to /boot/pool'),
    (lambda tmp: str(tmp / 'taken'), 409, 'is the path of pool'),
    (lambda tmp: str(tmp / 'taken' / 'inner'), 409, 'is inside'),
    (str, 409, 'contains'),
    (lambda tmp: str(tmp / 'a-file'), 400, 'not a directory'),
])
def test_path_rules_name_the_field_and_change_nothing(api, tmp_path, path_of, status, words):
    assert post(api, 'api-taken', tmp_path / 'taken').status_code == 200
    (tmp_path / 'to-boot').symlink_to('/boot')
    (tmp_path / 'a-file').write_text('not a dir')
    before, names = own(listed(api)), own_pool_names()
    problem(post(api, 'api-bad-path', path_of(tmp_path)), status, 'path', words)
    assert own(listed(api)) == before and own_pool_names() == names
    assert not os.path.exists('/etc/vpe-pool') and not os.path.exists('/boot/pool')


def test_duplicate_name_is_409_and_reserved_name_too(api, tmp_path):
    assert post(api, 'api-dup', tmp_path / 'a').status_code == 200
    problem(post(api, 'api-dup', tmp_path / 'b'), 409, 'name', 'already used')
    reserved = {'pool': {'name': 'vpe-image-store', 'path': str(tmp_path / 'c'), 'max_gb': 1}}
    problem(send(api, 'POST', '/hypervisor/pools', reserved), 409, 'name', 'reserved')
    other = post(api, 'api-dup-other', tmp_path / 'd').json()['pool']
    problem(send(api, 'PUT', '/hypervisor/pools/' + other['uuid'], {'pool': {'name': P + 'api-dup'}}), 409, 'name',
            'already used')
    assert not (tmp_path / 'b').exists() and not (tmp_path / 'c').exists()
    assert pool_info(P + 'api-dup-other')['UUID'] == other['uuid']


@pytest.mark.parametrize('body,status,field,words', [
    ({'pool': {'name': P + 'api-x', 'path': '/srv/x'}}, 400, 'max_gb', 'max_gb is required'),
    ({'pool': {'path': '/srv/x', 'max_gb': 1}}, 400, 'name', 'name is required'),
    ({'pool': {'name': '.hidden', 'path': '/srv/x', 'max_gb': 1}}, 400, 'name', 'not starting with'),
    ({'pool': {'name': 'a/b', 'path': '/srv/x', 'max_gb': 1}}, 400, 'name', 'A-Z a-z 0-9'),
    ({'pool': {'name': P + 'api-x', 'path': '/srv/x', 'max_gb': '50'}}, 400, 'max_gb', 'must be an integer'),
    ({'pool': {'name': P + 'api-x', 'path': '/srv/x', 'max_gb': 0}}, 400, 'max_gb', '>= 1'),
    ({'pool': {'name': P + 'api-x', 'path': '/srv/x', 'max_gb': 1, 'uuid': 'u'}}, 400, 'uuid', 'read-only'),
    ({'pool': {'name': P + 'api-x', 'path': '/srv/x', 'max_gb': 1, 'created_at': 'now'}}, 400, 'created_at', 'read-only'),
    ({'pools': {}}, 400, 'pools', 'unknown top-level field'),
])
def test_bad_post_bodies_are_400(api, body, status, field, words):
    before = own(listed(api))
    problem(send(api, 'POST', '/hypervisor/pools', body), status, field, words)
    assert own(listed(api)) == before and not os.path.exists('/srv/x')


def test_put_rules_path_shrink_unknown_uuid(api, tmp_path):
    pool = post(api, 'api-put', tmp_path / 'p', 5).json()['pool']
    allocated(tmp_path / 'p' / 'big.img', int(1.5 * 1024 ** 3))
    url = '/hypervisor/pools/' + pool['uuid']
    problem(send(api, 'PUT', url, {'pool': {'path': str(tmp_path / 'q')}}), 400, 'path', 'cannot be changed')
    problem(send(api, 'PUT', url, {'pool': {'max_gb': 1}}), 409, 'max_gb', 'below used_gb 1.50')
    problem(send(api, 'PUT', url, {'pool': {'used_gb': 0}}), 400, 'used_gb', 'read-only')
    problem(send(api, 'PUT', '/hypervisor/pools/00000000-0000-0000-0000-000000000000', {'pool': {'max_gb': 9}}),
            404, 'uuid')
    problem(send(api, 'DELETE', '/hypervisor/pools/not-a-uuid', '{}'), 404, 'uuid')
    problem(send(api, 'DELETE', url, {'pool': {'uuid': pool['uuid']}}), 400, 'body')
    now = [p for p in listed(api) if p['uuid'] == pool['uuid']][0]
    assert now == dict(pool, used_gb=1.5)
    assert pool_info(P + 'api-put')['State'] == 'running' and not (tmp_path / 'q').exists()


def test_delete_of_a_pool_in_use_is_409_naming_the_domains(api, tmp_path, libvirt_conn):
    pool = post(api, 'api-inuse', tmp_path / 'p').json()['pool']
    sparse(tmp_path / 'p' / 'disk.img', 1024 ** 3)
    try:
        define_domain_with_disk(libvirt_conn, 'api-vm-a', source_file=tmp_path / 'p' / 'disk.img')
        define_domain_with_disk(libvirt_conn, 'api-vm-b', source_file=tmp_path / 'p' / 'disk.img')
        doc = problem(send(api, 'DELETE', '/hypervisor/pools/' + pool['uuid'], '{}'), 409, 'uuid', 'in use')
        assert doc['domains'] == [P + 'api-vm-a', P + 'api-vm-b']
        assert P + 'api-vm-a' in doc['detail'] and P + 'api-vm-b' in doc['detail']
        assert pool_info(P + 'api-inuse')['State'] == 'running'
    finally:
        vpetest.remove_domain(libvirt_conn, P + 'api-vm-a')
        vpetest.remove_domain(libvirt_conn, P + 'api-vm-b')
    assert send(api, 'DELETE', '/hypervisor/pools/' + pool['uuid']).status_code == 200
    assert tree_snapshot(tmp_path / 'p') == {str(tmp_path / 'p' / 'disk.img'): 1024 ** 3}


def test_virsh_changes_show_once_their_event_arrives(api, tmp_path):
    def mine():
        return [p for p in listed(api) if p['name'] == P + 'api-virsh']

    outside = tmp_path / 'outside'
    outside.mkdir()
    listed(api)  # the shim now holds a listing without the pool
    virsh('pool-define-as', P + 'api-virsh', 'dir', '--target', str(outside))
    # well before storage.LISTING_MAX_AGE: it is the pool event that shows it
    found = vpetest.eventually(mine, lambda found: found, timeout=1.0)
    assert len(found) == 1 and found[0]['max_gb'] is None and found[0]['created_at'] is None
    virsh('pool-undefine', P + 'api-virsh')
    assert vpetest.eventually(mine, lambda found: not found, timeout=1.0) == []


def test_scopes_and_etags(api, tmp_path):
    body = {'pool': {'name': P + 'api-scope', 'path': str(tmp_path / 'p'), 'max_gb': 1}}
    resp = send(api, 'POST', '/hypervisor/pools', body, token='read')
    problem(resp, 403)
    problem(api.request('GET', '/hypervisor/pools', token=None), 401)
    problem(send(api, 'PUT', '/hypervisor/image-pool', {'image-pool': {'max_gb': 1}}, token='read'), 403)
    assert not (tmp_path / 'p').exists()

    pool = post(api, 'api-etag', tmp_path / 'e').json()['pool']
    url = '/hypervisor/pools/' + pool['uuid']
    tag = api.request('GET', '/hypervisor/pools').headers['ETag']
    assert api.request('GET', '/hypervisor/pools', headers={'If-None-Match': tag}).status_code == 304
    ok = send(api, 'PUT', url, {'pool': {'max_gb': 11}}, headers={'If-Match': tag})
    assert ok.status_code == 200
    problem(send(api, 'PUT', url, {'pool': {'max_gb': 12}}, headers={'If-Match': tag}), 412, 'If-Match')
    problem(send(api, 'DELETE', url, headers={'If-Match': tag}), 412, 'If-Match')
    assert send(api, 'PUT', url, {'pool': {'max_gb': 12}}, headers={'If-Match': ok.headers['ETag']}).status_code == 200
    image_tag = api.request('GET', '/hypervisor/image-pool').headers['ETag']
    problem(send(api, 'PUT', '/hypervisor/image-pool', {'image-pool': {'max_gb': 3}},
                 headers={'If-Match': '"stale"'}), 412, 'If-Match')
    assert api.request('GET', '/hypervisor/image-pool').headers['ETag'] == image_tag


def test_openapi_documents_the_storage_routes_and_answers_match_it(api, tmp_path, image_store_guard):
    doc = api.request('GET', '/openapi.json', token=None).json()

    def check(schema, answer):
        OAS30Validator({'$ref': '#/components/schemas/' + schema, 'components': doc['components']}).validate(answer)
    (tmp_path / 'images').mkdir()
    created = post(api, 'api-oas', tmp_path / 'p').json()
    check('PoolEnvelope', created)
    check('PoolEnvelope', send(api, 'PUT', '/hypervisor/pools/' + created['pool']['uuid'],
                               {'pool': {'max_gb': 3}}).json())
    for pool in listed(api):
        check('Pool', pool)
    check('ImagePoolEnvelope', api.request('GET', '/hypervisor/image-pool').json())
    check('ImagePoolEnvelope', send(api, 'PUT', '/hypervisor/image-pool',
                                    {'image-pool': {'path': str(tmp_path / 'images'), 'max_gb': 7}}).json())
    assert {'get', 'put'} <= set(doc['paths']['/hypervisor/image-pool'])
    assert {'get', 'post'} <= set(doc['paths']['/hypervisor/pools'])
    assert {'put', 'delete'} <= set(doc['paths']['/hypervisor/pools/{uuid}'])
    schemas = doc['components']['schemas']
    assert set(schemas['Pool']['required']) == POOL_FIELDS
    assert set(schemas['PoolUpdate']['properties']) == {'name', 'max_gb'}
    assert schemas['ImagePoolEnvelope']['required'] == ['image-pool']


def test_used_gb_follows_files_added_at_once_and_files_grown_within_max_age(api, tmp_path):
    """The staleness docs/storage.md states: a file added or removed changes the
    directory, so the next check (0.2 s) shows it; a file that grows leaves the
    directory as it was, so its bytes show once the kept total is walked again
    (background walk after 2.5 s, never older than 5 s)."""
    directory = tmp_path / 'fresh'
    assert post(api, 'api-fresh', directory).status_code == 200

    def used():
        return [p for p in listed(api) if p['name'] == P + 'api-fresh'][0]['used_gb']

    assert used() == 0.0
    with open(str(directory / 'a.raw'), 'wb') as handle:
        handle.write(b'\1' * (32 * 2 ** 20))
        os.fsync(handle.fileno())
    assert vpetest.eventually(used, lambda v: v == 0.03, timeout=2.0) == 0.03  # 32 MiB, a new directory entry
    with open(str(directory / 'a.raw'), 'ab') as handle:  # grows in place: the directory does not change
        handle.write(b'\1' * (32 * 2 ** 20))
        os.fsync(handle.fileno())
    assert vpetest.eventually(used, lambda v: v == 0.06, timeout=7.0) == 0.06
    os.unlink(str(directory / 'a.raw'))
    assert vpetest.eventually(used, lambda v: v == 0.0, timeout=2.0) == 0.0
