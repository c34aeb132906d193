"""The shim over real HTTP on the real libvirtd: envelopes, every error
status, auth, ETags, and a libvirtd restart under it."""

import json
import subprocess
import time

import pytest
import requests

import vpetest
from vpetest import assert_problem

pytestmark = [pytest.mark.api, pytest.mark.libvirtd]


def put_quota(shim, body, token='admin', **kwargs):
    return shim.request('PUT', '/hypervisor/quota', token=token, data=json.dumps(body),
                        headers=dict({'Content-Type': 'application/json'}, **kwargs.pop('headers', {})),
                        **kwargs)


def test_spec_example_bodies_get_the_spec_envelopes(shim, domains):
    domains.define('api-env', vcpus=2, memory_mib=128)
    counted = vpetest.virsh_allocation()
    usages = vpetest.eventually(lambda: shim.request('GET', '/hypervisor/usages', token='read'),
                                lambda r: {k: r.json()['usages'].get(k) for k in counted} == counted)
    assert usages.status_code == 200
    assert set(usages.json()) == {'usages'}
    assert set(usages.json()['usages']) == {'instances', 'memory_used_mb', 'memory_total_mb', 'cpu_used', 'cpu_total'}
    assert {k: usages.json()['usages'][k] for k in counted} == counted

    # the spec's own PUT example, byte for byte
    example = '{\n    "quota": {\n        "cpu_max": 16,\n        "memory_max_mb": 10240\n    }\n}'
    put = shim.request('PUT', '/hypervisor/quota', data=example, headers={'Content-Type': 'application/json'})
    assert put.status_code == 200, put.text
    # plus the extension fields enforce/enforced (issue 18)
    assert put.json() == {'quota': {'cpu_max': 16, 'memory_max_mb': 10240, 'enforce': 'off', 'enforced': False}}
    assert shim.request('GET', '/hypervisor/quota', token='read').json() == {
        'quota': {'cpu_max': 16, 'memory_max_mb': 10240, 'enforce': 'off', 'enforced': False}}
    assert shim.request('GET', '/hypervisor/usages').json()['usages']['cpu_total'] == 16


def test_partial_put_and_force(shim, domains):
    domains.define('api-force', vcpus=4, memory_mib=64)
    assert put_quota(shim, {'quota': {'memory_max_mb': 20480}}).json()['quota']['memory_max_mb'] == 20480
    counted = vpetest.virsh_allocation()['cpu_used']
    used = vpetest.eventually(lambda: shim.request('GET', '/hypervisor/usages').json()['usages']['cpu_used'],
                              lambda v: v == counted)
    doc = assert_problem(put_quota(shim, {'quota': {'cpu_max': used - 1}}), 409, 'cpu_max',
                         'below the %d vCPUs already allocated' % used)
    assert doc['allocated']['cpu_used'] == used
    forced = shim.request('PUT', '/hypervisor/quota?force=true', data=json.dumps({'quota': {'cpu_max': 1}}),
                          headers={'Content-Type': 'application/json'})
    assert forced.json() == {'quota': {'cpu_max': 1, 'memory_max_mb': 20480, 'enforce': 'off', 'enforced': False}}
    bare = shim.request('PUT', '/hypervisor/quota?force', data=json.dumps({'quota': {'cpu_max': 2}}),
                        headers={'Content-Type': 'application/json'})
    assert bare.json() == {'quota': {'cpu_max': 2, 'memory_max_mb': 20480, 'enforce': 'off', 'enforced': False}}


@pytest.mark.parametrize('body,field,words', [
    ({'quota': {'cpu_max': '16'}}, 'cpu_max', 'must be an integer'),
    ({'quota': {'cpu_max': -1}}, 'cpu_max', '>= 1'),
    ({'quota': {'memory_max_mb': 2 ** 63}}, 'memory_max_mb', '<= 2147483647'),
    ({'quota': {'cpu_max': 4, 'disk': 1}}, 'disk', 'unknown field'),
    ({'quota': {'cpu_max': 4}, 'extra': 1}, 'extra', 'unknown top-level field'),
    ({'cpu_max': 4}, 'cpu_max', 'unknown top-level field'),
    ({}, 'quota', 'body must be {"quota"'),
    ({'quota': [1]}, 'quota', 'must be a JSON object'),
    ({'quota': {'memory_max_mb': None}}, 'memory_max_mb', 'must not be null; leave the field out'),
    ({'quota': {'cpu_max': 8, 'memory_max_mb': None}}, 'memory_max_mb', 'must not be null'),
    ({'quota': None}, 'quota', 'must be an object, got null'),
    ([], 'body', 'must be a JSON object'),
])
def test_bad_bodies_are_400_naming_the_field_and_change_nothing(shim, body, field, words):
    before = shim.request('GET', '/hypervisor/quota').json()
    assert_problem(put_quota(shim, body), 400, field, words)
    assert shim.request('GET', '/hypervisor/quota').json() == before
    assert not (shim.state_dir / 'state.json').exists()


def test_invalid_json_unknown_query_and_empty_body(shim):
    bad = shim.request('PUT', '/hypervisor/quota', data='{"quota": {', headers={'Content-Type': 'application/json'})
    assert_problem(bad, 400, 'body', 'not valid JSON')
    assert_problem(shim.request('GET', '/hypervisor/quota?verbose=1'), 400, 'verbose', 'unknown query parameter')
    assert_problem(shim.request('PUT', '/hypervisor/quota?force=maybe', data='{"quota":{}}',
                                headers={'Content-Type': 'application/json'}), 400, 'force')
    assert_problem(shim.request('PUT', '/hypervisor/quota'), 400, 'body', 'JSON body is required')


def test_media_type_and_size_limits(shim):
    assert_problem(shim.request('PUT', '/hypervisor/quota', data='{"quota":{"cpu_max":4}}',
                                headers={'Content-Type': 'text/plain'}), 415, 'Content-Type')
    big = json.dumps({'quota': {'cpu_max': 4}, 'pad': 'x' * (1024 * 1024)})
    assert_problem(shim.request('PUT', '/hypervisor/quota', data=big,
                                headers={'Content-Type': 'application/json'}), 413)
    chunked = shim.request('PUT', '/hypervisor/quota', data=iter([b'{"quota":', b' ' * (70 * 1024), b'{}}']),
                           headers={'Content-Type': 'application/json'})
    assert_problem(chunked, 413)
    assert not (shim.state_dir / 'state.json').exists()


def test_auth_missing_wrong_and_read_scope(shim):
    assert_problem(shim.request('GET', '/hypervisor/usages', token=None), 401)
    resp = shim.request('GET', '/hypervisor/usages', token='not-a-token-at-all-x')
    assert_problem(resp, 401)
    assert resp.headers['WWW-Authenticate'].startswith('Bearer')
    assert_problem(shim.request('GET', '/hypervisor/usages', token=None,
                                headers={'Authorization': 'Basic YTpi'}), 401)
    assert shim.request('GET', '/hypervisor/quota', token='read').status_code == 200
    assert_problem(put_quota(shim, {'quota': {'cpu_max': 8}}, token='read'), 403, words='admin token')
    assert_problem(put_quota(shim, {'quota': {'cpu_max': 8}}, token=None), 401)
    assert not (shim.state_dir / 'state.json').exists()
    # open routes
    assert shim.request('GET', '/healthz', token=None).json() == {'status': 'ok', 'libvirt': True}
    assert shim.request('GET', '/openapi.json', token=None).json()['openapi'].startswith('3.')


def test_unknown_route_and_method(shim):
    assert_problem(shim.request('GET', '/hypervisor/nothing'), 404)
    resp = shim.request('POST', '/hypervisor/quota', data='{}', headers={'Content-Type': 'application/json'})
    assert_problem(resp, 405)
    assert set(resp.headers['Allow'].split(',')) >= {'GET', 'PUT'}


def test_etag_flow(shim):
    first = shim.request('GET', '/hypervisor/quota')
    tag = first.headers['ETag']
    assert shim.request('GET', '/hypervisor/quota', headers={'If-None-Match': tag}).status_code == 304
    ok = put_quota(shim, {'quota': {'cpu_max': 12}}, headers={'If-Match': tag})
    assert ok.status_code == 200 and ok.headers['ETag'] != tag
    stale = put_quota(shim, {'quota': {'cpu_max': 13}}, headers={'If-Match': tag})
    assert_problem(stale, 412, 'If-Match')
    assert shim.request('GET', '/hypervisor/quota').json()['quota']['cpu_max'] == 12
    assert shim.request('GET', '/hypervisor/quota').headers['ETag'] == ok.headers['ETag']
    assert put_quota(shim, {'quota': {'cpu_max': 14}}, headers={'If-Match': '*'}).status_code == 200


def test_libvirtd_restart_gives_503_then_recovers_without_restarting_the_shim(shim):
    assert shim.request('GET', '/hypervisor/usages').status_code == 200
    vpetest.stop_libvirtd()
    try:
        down = shim.request('GET', '/hypervisor/usages')
        doc = assert_problem(down, 503, words='libvirt')
        assert down.headers['Retry-After'] == '1'
        assert 'qemu:///system' in doc['detail']
        assert shim.request('GET', '/healthz', token=None).status_code == 503
    finally:
        vpetest.start_libvirtd()
    back = time.time()
    while shim.request('GET', '/hypervisor/usages').status_code != 200:
        assert time.time() - back < 1.0, 'shim did not recover within a second of libvirtd'
        time.sleep(0.02)
    assert shim.proc.poll() is None
    assert shim.request('GET', '/healthz', token=None).json() == {'status': 'ok', 'libvirt': True}


def _start(tmp_path, *args, mode=0o600):
    token_file, _admin, _read = vpetest.write_token_file(tmp_path, mode=mode)
    return subprocess.run(vpetest.shim_command('serve', '--token-file', str(token_file),
                                               '--state-dir', str(tmp_path / 'state'), *args),
                          env=vpetest.shim_env(), capture_output=True, text=True, timeout=30, check=False)


def test_refuses_world_readable_token_file(tmp_path):
    proc = _start(tmp_path, '--listen', '127.0.0.1:%d' % vpetest.free_port(), mode=0o644)
    assert proc.returncode == 2
    assert 'accessible to other users' in proc.stderr and 'chmod 600' in proc.stderr


def test_refuses_plain_http_off_loopback(tmp_path):
    proc = _start(tmp_path, '--listen', '0.0.0.0:%d' % vpetest.free_port())
    assert proc.returncode == 2
    assert 'refusing to serve plain HTTP' in proc.stderr


def test_tls_serves_https(tmp_path):
    cert, key = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
                    '-keyout', str(key), '-out', str(cert)], check=True, capture_output=True)
    port = vpetest.free_port()
    token_file, admin, _read = vpetest.write_token_file(tmp_path)
    proc = subprocess.Popen(vpetest.shim_command('serve', '--listen', '0.0.0.0:%d' % port, '--token-file',
                                                 str(token_file), '--state-dir', str(tmp_path / 'state'),
                                                 '--tls-cert', str(cert), '--tls-key', str(key)),
                            env=vpetest.shim_env(), stderr=subprocess.PIPE, text=True)
    try:
        assert 'listening on https://' in proc.stderr.readline()
        resp = requests.get('https://127.0.0.1:%d/hypervisor/quota' % port, verify=str(cert),
                            headers={'Authorization': 'Bearer ' + admin}, timeout=10)
        assert resp.status_code == 200 and set(resp.json()['quota']) == {'cpu_max', 'memory_max_mb', 'enforce', 'enforced'}
    finally:
        proc.terminate()
        proc.wait(10)
