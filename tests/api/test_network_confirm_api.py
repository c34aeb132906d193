"""PUT /hypervisor/network?confirm_timeout=S, POST /hypervisor/network/confirm
and the pending change in GET, over real HTTP to a shim inside a test
namespace (the watchdog is the detached process there)."""

import json
import time

import pytest

import netns_helpers as nh
import vpetest
from vpetest import assert_problem

pytestmark = [pytest.mark.api, pytest.mark.libvirtd]

JSON = {'Content-Type': 'application/json'}
BODY = {'network': {'bridge': 'br100', 'bridge_interface': 'eth0'}}
EMPTY = {'network': {'bridge': None, 'bridge_interface': None}}


@pytest.fixture
def nsshim(tmp_path):
    topo = nh.HostNetns()
    root = tmp_path / 'root'
    root.mkdir()
    env = {'VPE_LIBVIRT_NETWORK': vpetest.PREFIX + 'cf' + topo.tag, 'VPE_NETWORK_PERSIST': 'networkd',
           'VPE_PERSIST_ROOT': str(root), 'VPE_NETWORK_WATCHDOG': 'process'}
    shim = None
    try:
        shim = nh.NsShim(tmp_path, topo.host, env)
        shim.topo = topo
        shim.root = root
        yield shim
    finally:
        if shim is not None:
            shim.stop()
        topo.cleanup()
        nh.remove_network(vpetest.PREFIX + 'cf' + topo.tag)


def put(shim, body=None, query='', headers=None):
    return shim.request('PUT', '/hypervisor/network' + query, data=json.dumps(body or BODY),
                        headers=dict(JSON, **(headers or {})))


def confirm(shim, change_id=None, **kwargs):
    query = '?id=%s' % change_id if change_id is not None else ''
    return shim.request('POST', '/hypervisor/network/confirm' + query, **kwargs)


def back_as_before(topo):
    links = topo.links()
    return ('br100' not in links and links['eth0'].get('master') is None
            and topo.addresses('eth0') == sorted([nh.HOST_V4, nh.HOST_V6]))


def test_unconfirmed_put_is_202_then_reverts_and_a_late_confirm_is_409(nsshim):
    resp = put(nsshim, query='?confirm_timeout=3')
    assert resp.status_code == 202, resp.text
    assert resp.headers['Connection'] == 'close'
    doc = resp.json()
    assert doc['network'] == BODY['network']
    pending = doc['pending']
    assert pending['status'] == 'pending' and pending['timeout'] == 3 and pending['deadline']
    assert pending['before'] == EMPTY['network'] and pending['after'] == BODY['network']
    assert nsshim.topo.links()['eth0']['master'] == 'br100'
    got = nsshim.request('GET', '/hypervisor/network', token='read').json()
    assert got['network'] == BODY['network'] and got['pending']['id'] == pending['id']
    # another change while this one waits
    assert_problem(put(nsshim, {'network': {'bridge': 'br200'}}), 409, 'confirm_timeout', pending['id'])
    end = time.monotonic() + 60
    while time.monotonic() < end and not back_as_before(nsshim.topo):
        time.sleep(0.5)
    assert back_as_before(nsshim.topo) and nsshim.topo.ping()
    assert nsshim.request('GET', '/hypervisor/network').json() == EMPTY
    assert not (nsshim.root / 'etc/systemd/network/10-vpe-bridge.netdev').exists()
    late = assert_problem(confirm(nsshim, pending['id']), 409, 'id', 'was not confirmed by')
    assert 'rolled back at' in late['detail'] and late['pending']['status'] == 'reverted'


def test_confirmed_put_stays_and_confirm_is_checked(nsshim):
    assert_problem(confirm(nsshim), 409, 'id', 'no network change is waiting')
    resp = put(nsshim, query='?confirm_timeout=4')
    assert resp.status_code == 202, resp.text
    change_id = resp.json()['pending']['id']
    assert_problem(confirm(nsshim, 'f' * 16), 409, 'id', 'is not the one on record')
    assert_problem(confirm(nsshim, 'not-an-id'), 400, 'id', '16 hex digits')
    assert_problem(confirm(nsshim, data=json.dumps({'id': change_id}), headers=JSON), 400, 'body', 'takes no body')
    assert_problem(nsshim.request('POST', '/hypervisor/network/confirm?change=1'), 400, 'change', 'unknown query')
    assert_problem(nsshim.request('POST', '/hypervisor/network/confirm', token='read'), 403)
    assert nsshim.request('GET', '/hypervisor/network').json()['pending']['id'] == change_id
    done = confirm(nsshim)
    assert done.status_code == 200, done.text
    assert done.json() == {'network': BODY['network'], 'pending': dict(done.json()['pending'], status='confirmed')}
    assert done.json()['pending']['id'] == change_id and done.json()['pending']['confirmed_at']
    time.sleep(6)  # past the deadline: a confirmed change stays
    assert nsshim.request('GET', '/hypervisor/network').json() == {'network': BODY['network']}
    assert nsshim.topo.links()['eth0']['master'] == 'br100' and nsshim.topo.ping()
    assert (nsshim.root / 'etc/systemd/network/10-vpe-bridge.netdev').exists()
    # the same PUT again changes nothing: a plain 200, nothing armed
    again = put(nsshim, query='?confirm_timeout=4')
    assert again.status_code == 200 and again.json() == {'network': BODY['network']}


@pytest.mark.parametrize('query,words', [('?confirm_timeout=soon', 'whole number of seconds'),
                                         ('?confirm_timeout=0', 'must be 1 to 86400 seconds'),
                                         ('?confirm_timeout=-5', 'must be 1 to 86400'),
                                         ('?confirm_timeout=90000', 'to 86400 seconds')])
def test_bad_confirm_timeout_is_400_and_changes_nothing(nsshim, query, words):
    assert_problem(put(nsshim, query=query), 400, 'confirm_timeout', words)
    assert back_as_before(nsshim.topo)
    assert nsshim.request('GET', '/hypervisor/network').json() == EMPTY


def test_plain_put_is_unchanged(nsshim):
    resp = put(nsshim)
    assert resp.status_code == 200 and resp.json() == BODY
    assert nsshim.request('GET', '/hypervisor/network').json() == BODY
