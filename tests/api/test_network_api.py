"""GET/PUT /hypervisor/network over real HTTP. The shim runs inside a test
namespace whose eth0 carries the host's address and default route (requests
are made from inside it too); the running-guest rules run a shim in the root
namespace on test-made links only."""

import json
import xml.etree.ElementTree as ET

import libvirt
import pytest

import netns_helpers as nh
import vpetest
from vpetest import assert_problem

pytestmark = [pytest.mark.api, pytest.mark.libvirtd]

JSON = {'Content-Type': 'application/json'}
EMPTY = {'network': {'bridge': None, 'bridge_interface': None}}


def put(shim, body, path='/hypervisor/network', token='admin', headers=None):
    data = body if isinstance(body, str) else json.dumps(body)
    return shim.request('PUT', path, token=token, data=data, headers=dict(JSON, **(headers or {})))


@pytest.fixture(scope='module')
def nsshim(tmp_path_factory):
    topo = nh.HostNetns()
    work = tmp_path_factory.mktemp('netshim')
    root = work / 'root'
    root.mkdir()
    h = topo.host
    # things the rules must refuse
    nh.ip('link', 'add', 'brx', 'type', 'bridge', ns=h)
    nh.ip('link', 'add', 'vp0', 'type', 'veth', 'peer', 'name', 'vp1', ns=h)
    nh.ip('link', 'set', 'vp0', 'master', 'brx', ns=h)
    nh.ip('tuntap', 'add', 'dev', 'vnet7', 'mode', 'tap', ns=h)
    env = {'VPE_LIBVIRT_NETWORK': vpetest.PREFIX + topo.tag, 'VPE_NETWORK_PERSIST': 'networkd',
           'VPE_PERSIST_ROOT': str(root)}
    shim = None
    try:
        shim = nh.NsShim(work, h, env)
        shim.topo = topo
        shim.root = root
        yield shim
    finally:
        if shim is not None:
            shim.stop()
        topo.cleanup()
        nh.remove_network(vpetest.PREFIX + topo.tag)


@pytest.mark.parametrize('body,status,field,words', [
    ({'network': {'bridge': 'br 100'}}, 400, 'bridge', '1-15 characters of A-Z a-z 0-9 _ . -'),
    ({'network': {'bridge': 'a' * 16, 'bridge_interface': 'eth0'}}, 400, 'bridge', '1-15 characters'),
    ({'network': {'bridge_interface': 'eth0;reboot'}}, 400, 'bridge_interface', '1-15 characters'),
    ({'network': {'bridge_interface': 7}}, 400, 'bridge_interface', 'must be a string'),
    ({'network': {'bridge_interface': 'eth0', 'mtu': 9000}}, 400, 'mtu', 'unknown field'),
    ({'network': {'bridge_interface': 'eth0'}, 'force': True}, 400, 'force', 'unknown top-level field'),
    ({'bridge': 'br100'}, 400, 'bridge', 'unknown top-level field'),
    ({'network': 'br100'}, 400, 'network', 'must be a JSON object'),
    ({'network': {'bridge': 'br100'}}, 400, 'bridge_interface', 'is required'),
    ({'network': {'bridge_interface': 'eth9'}}, 400, 'bridge_interface', 'does not exist'),
    ({'network': {'bridge_interface': 'lo'}}, 400, 'bridge_interface', 'loopback'),
    ({'network': {'bridge_interface': 'brx'}}, 400, 'bridge_interface', 'is a bridge'),
    ({'network': {'bridge_interface': 'vnet7'}}, 400, 'bridge_interface', 'VM tap'),
    ({'network': {'bridge_interface': 'eth0', 'bridge': 'eth0'}}, 400, 'bridge_interface', 'must differ'),
    ({'network': {'bridge_interface': 'eth0', 'bridge': 'vp1'}}, 400, 'bridge', 'is not a bridge'),
    ({'network': {'bridge_interface': 'vp0'}}, 409, 'bridge_interface', 'already a port of brx'),
])
def test_every_rule_is_a_problem_naming_the_field_and_changes_nothing(nsshim, body, status, field, words):
    before = nsshim.request('GET', '/hypervisor/network').json()
    assert_problem(put(nsshim, body), status, field, words)
    assert nsshim.request('GET', '/hypervisor/network').json() == before
    assert nsshim.topo.addresses('eth0') == sorted([nh.HOST_V4, nh.HOST_V6])
    assert list(nsshim.root.iterdir()) == []


def test_auth_query_and_preconditions(nsshim):
    assert_problem(nsshim.request('GET', '/hypervisor/network', token=None), 401)
    assert_problem(put(nsshim, {'network': {'bridge_interface': 'eth0'}}, token='read'), 403, words='admin token')
    assert_problem(nsshim.request('GET', '/hypervisor/network?verbose=1'), 400, 'verbose')
    assert_problem(put(nsshim, {'network': {'bridge_interface': 'eth0'}}, path='/hypervisor/network?force=maybe'),
                   400, 'force')
    assert_problem(put(nsshim, {'network': {'bridge_interface': 'eth0'}}, headers={'If-Match': '"stale"'}),
                   412, 'If-Match')
    assert_problem(nsshim.request('PUT', '/hypervisor/network', data='{"network": {',
                                  headers=JSON), 400, 'body', 'not valid JSON')
    assert_problem(nsshim.request('PUT', '/hypervisor/network', data='{}', headers={'Content-Type': 'text/plain'}),
                   415, 'Content-Type')
    assert_problem(nsshim.request('DELETE', '/hypervisor/network'), 405)
    assert nsshim.topo.addresses('eth0') == sorted([nh.HOST_V4, nh.HOST_V6])


def test_spec_example_put_moves_the_host_onto_the_bridge(nsshim):
    got = nsshim.request('GET', '/hypervisor/network', token='read')
    assert got.status_code == 200 and got.json() == EMPTY
    # the spec's own PUT example, byte for byte, with the ETag of the GET
    example = '{\n    "network": {\n        "bridge": "br100",\n        "bridge_interface": "eth0"\n    }\n}'
    resp = put(nsshim, example, headers={'If-Match': got.headers['ETag']})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {'network': {'bridge': 'br100', 'bridge_interface': 'eth0'}}
    topo = nsshim.topo
    assert topo.links()['eth0']['master'] == 'br100'
    assert topo.addresses('br100') == sorted([nh.HOST_V4, nh.HOST_V6])
    assert topo.default_routes() == sorted([(nh.PEER_V4, 'br100'), (nh.PEER_V6, 'br100')])
    assert topo.ping() and topo.ping(nh.PEER_V6)
    assert (nsshim.root / 'etc/systemd/network/10-vpe-bridge.netdev').exists()
    after = nsshim.request('GET', '/hypervisor/network', token='read')
    assert after.json() == resp.json() and after.headers['ETag'] == resp.headers['ETag']
    # the same again changes nothing and answers the same
    again = put(nsshim, {'network': {'bridge': 'br100', 'bridge_interface': 'eth0'}})
    assert again.json() == resp.json()
    assert nsshim.request('GET', '/hypervisor/network', headers={'If-None-Match': after.headers['ETag']}
                          ).status_code == 304


def test_failed_put_restores_the_host_and_says_so(tmp_path):
    topo = nh.HostNetns()
    blocker = tmp_path / 'a-file'
    blocker.write_text('x')
    shim = None
    try:
        shim = nh.NsShim(tmp_path, topo.host, {'VPE_LIBVIRT_NETWORK': vpetest.PREFIX + topo.tag,
                                               'VPE_NETWORK_PERSIST': 'networkd', 'VPE_PERSIST_ROOT': str(blocker)})
        doc = assert_problem(put(shim, {'network': {'bridge_interface': 'eth0'}}), 500, words='cannot write')
        assert 'previous configuration was restored' in doc['detail'] and doc['rolled_back'] is True
        assert shim.request('GET', '/hypervisor/network').json() == EMPTY
        assert topo.addresses('eth0') == sorted([nh.HOST_V4, nh.HOST_V6])
        assert topo.default_routes() == sorted([(nh.PEER_V4, 'eth0'), (nh.PEER_V6, 'eth0')])
        assert topo.ping()
    finally:
        if shim is not None:
            shim.stop()
        topo.cleanup()
        nh.remove_network(vpetest.PREFIX + topo.tag)


def test_running_guest_makes_a_bridge_change_409_unless_forced(tmp_path, monkeypatch):
    veth = nh.RootVeth()
    name = vpetest.PREFIX + veth.tag
    old, new = veth.bridges
    monkeypatch.setenv('VPE_LIBVIRT_NETWORK', name)
    monkeypatch.setenv('VPE_NETWORK_PERSIST', 'none')
    shim = conn = None
    domname = vpetest.PREFIX + 'api-' + veth.tag
    try:
        shim = vpetest.Shim(tmp_path)
        assert put(shim, {'network': {'bridge': old, 'bridge_interface': veth.port}}).status_code == 200
        conn = libvirt.open(vpetest.SYSTEM_URI)
        dom = conn.createXML(nh.bridged_domain_xml(domname, old), 0)
        refused = assert_problem(put(shim, {'network': {'bridge': new}}), 409, 'bridge', domname)
        assert refused['domains'] == [domname]
        assert shim.request('GET', '/hypervisor/network').json()['network']['bridge'] == old
        forced = put(shim, {'network': {'bridge': new}}, path='/hypervisor/network?force=true')
        assert forced.status_code == 200, forced.text
        assert forced.json() == {'network': {'bridge': new, 'bridge_interface': veth.port}}
        source = ET.fromstring(dom.XMLDesc(0)).find('./devices/interface/source')
        assert source.get('bridge') == new
        tap = ET.fromstring(dom.XMLDesc(0)).find('./devices/interface/target').get('dev')
        assert json.loads(nh.ip('-j', 'link', 'show', 'dev', tap).stdout)[0]['master'] == new
    finally:
        if conn is not None:
            vpetest.remove_domain(conn, domname)
            conn.close()
        if shim is not None:
            shim.stop()
        veth.cleanup()
        nh.remove_network(name)
