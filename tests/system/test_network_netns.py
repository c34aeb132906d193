"""The network service for real: bridges, addresses and routes in network
namespaces made here (never the machine's own interfaces), the libvirt
network and a running TCG guest on the real libvirtd."""

import subprocess
import xml.etree.ElementTree as ET

import libvirt
import pytest

import netns_helpers as nh
import persist_readers
import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import (
    network, network_apply, network_live, network_live_apply, network_persist)
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput, VpeError

pytestmark = [pytest.mark.libvirtd]

WANT = {'bridge': 'br100', 'bridge_interface': 'eth0'}


@pytest.fixture
def netname(topo):
    return vpetest.PREFIX + topo.tag


def apply(ctx, topo, netname, desired=None, **kwargs):
    kwargs.setdefault('persist_method', 'none')
    with nh.entered(topo.host):
        return network_apply.apply(ctx, dict(desired or WANT), libvirt_network=netname, **kwargs)


def libvirt_net(name):
    conn = libvirt.open(vpetest.SYSTEM_URI)
    try:
        net = conn.networkLookupByName(name)
        root = ET.fromstring(net.XMLDesc(0))
        return {'bridge': root.find('bridge').get('name'), 'forward': root.find('forward').get('mode'),
                'active': bool(net.isActive()), 'autostart': bool(net.autostart())}
    except libvirt.libvirtError:
        return None
    finally:
        conn.close()


def test_apply_moves_address_and_routes_to_the_bridge_and_host_stays_reachable(system_ctx, topo, netname, tmp_path):
    assert topo.ping()
    first = apply(system_ctx, topo, netname, persist_method='networkd', persist_root=str(tmp_path))
    assert first.changed is True
    assert first.before == {'bridge': None, 'bridge_interface': None}
    assert first.after == WANT
    links = topo.links()
    assert links['br100']['linkinfo']['info_kind'] == 'bridge' and 'UP' in links['br100']['flags']
    assert links['eth0']['master'] == 'br100'
    assert topo.addresses('br100') == sorted([nh.HOST_V4, nh.HOST_V6])
    assert topo.addresses('eth0') == []
    assert topo.default_routes() == sorted([(nh.PEER_V4, 'br100'), (nh.PEER_V6, 'br100')])
    assert topo.ping(nh.PEER_V4) and topo.ping(nh.PEER_V6)
    assert libvirt_net(netname) == {'bridge': 'br100', 'forward': 'bridge', 'active': True, 'autostart': True}
    with nh.entered(topo.host):
        assert network.read(system_ctx) == WANT  # the network name was remembered in state_dir
    # persisted for networkd, and the reader gets the same back
    cfg = persist_readers.read_networkd(str(tmp_path))
    assert cfg.as_dict() == {'bridge': 'br100', 'bridge_interface': 'eth0', 'mac': links['eth0']['address'],
                             'addresses': [nh.HOST_V4, nh.HOST_V6], 'gateways': [nh.PEER_V4, nh.PEER_V6],
                             'dhcp4': False, 'broadcasts': {nh.HOST_V4: nh.HOST_V4_BROADCAST}}
    assert topo.broadcast('br100') == nh.HOST_V4_BROADCAST  # the file says what the live address has
    port = (tmp_path / 'etc/systemd/network/10-vpe-bridge-port.network').read_text()
    assert '[Match]\nName=eth0\n\n[Network]\nBridge=br100\n' in port

    second = apply(system_ctx, topo, netname, persist_method='networkd', persist_root=str(tmp_path))
    assert second.changed is False and second.actions == []
    assert second.before == second.after == WANT


def test_renaming_the_bridge_carries_port_addresses_and_routes_over(system_ctx, topo, netname, tmp_path):
    apply(system_ctx, topo, netname, persist_method='networkd', persist_root=str(tmp_path))
    renamed = apply(system_ctx, topo, netname, {'bridge': 'br200'}, persist_method='networkd',
                    persist_root=str(tmp_path))
    assert renamed.before == WANT and renamed.after == {'bridge': 'br200', 'bridge_interface': 'eth0'}
    assert 'enslave eth0 to bridge br200 (out of br100)' in renamed.actions
    assert 'move address 198.18.2.10/24 from br100 to br200' in renamed.actions
    assert topo.links()['eth0']['master'] == 'br200'
    assert topo.addresses('br200') == sorted([nh.HOST_V4, nh.HOST_V6]) and topo.addresses('br100') == []
    assert topo.default_routes() == sorted([(nh.PEER_V4, 'br200'), (nh.PEER_V6, 'br200')])
    assert topo.ping() and topo.ping(nh.PEER_V6)
    assert libvirt_net(netname)['bridge'] == 'br200'
    assert persist_readers.read_networkd(str(tmp_path)).bridge == 'br200'


def test_where_networkd_runs_the_bridge_holds_the_addresses_before_its_reload_takes_them_off_the_port(
        system_ctx, topo, netname, tmp_path, monkeypatch):
    """networkd's reload moves the port and drops the port's addresses at once (the lab's networkd host
    had its address on no interface for 0.7 s when the reload came before the bridge had it). The stand-in
    reload does that to eth0; the bridge must already hold both addresses then, and the port move after."""
    at_reload = []

    def reload_as_networkd_does():
        at_reload.append((topo.addresses('br100'), topo.links()['eth0'].get('master')))
        nh.ip('addr', 'flush', 'dev', 'eth0', 'scope', 'global', ns=topo.host)
    monkeypatch.setattr(network_persist, 'networkd_running', lambda root='/': True)
    monkeypatch.setattr(network_persist, 'reload_networkd', reload_as_networkd_does)
    change = apply(system_ctx, topo, netname, persist_method='networkd', persist_root=str(tmp_path))
    assert at_reload == [(sorted([nh.HOST_V4, nh.HOST_V6]), None)]
    files = [a for a in change.actions if a.startswith('write ')]
    assert change.actions.index(files[-1]) < change.actions.index('enslave eth0 to bridge br100')
    assert files[-1].endswith(', then networkctl reload')
    assert topo.links()['eth0']['master'] == 'br100'
    assert topo.addresses('br100') == sorted([nh.HOST_V4, nh.HOST_V6]) and topo.addresses('eth0') == []
    assert topo.default_routes() == sorted([(nh.PEER_V4, 'br100'), (nh.PEER_V6, 'br100')])
    assert topo.ping(nh.PEER_V4) and topo.ping(nh.PEER_V6)


def test_check_mode_lists_the_steps_and_touches_nothing(system_ctx, topo, netname, tmp_path):
    root = tmp_path / 'root'
    root.mkdir()
    change = apply(system_ctx, topo, netname, check_mode=True, persist_method='ifupdown', persist_root=str(root))
    assert change.changed is True and change.after == WANT
    mac = topo.links()['eth0']['address']
    assert change.actions == [
        'create bridge br100 (MAC %s of eth0, STP off)' % mac,
        'set br100 up',
        'enslave eth0 to bridge br100',
        'move address 198.18.2.10/24 from eth0 to br100',
        'move address 2001:db8:1::10/64 from eth0 to br100',
        'move route default via 198.18.2.1 from eth0 to br100',
        'move route default via 2001:db8:1::1 metric 1024 from eth0 to br100',
        'define libvirt network %s (forward mode bridge, bridge br100), autostart and start it' % netname,
        'write /etc/network/interfaces.d/vpe-bridge (ifupdown)',
    ]
    assert 'br100' not in topo.links()
    assert topo.addresses('eth0') == sorted([nh.HOST_V4, nh.HOST_V6])
    assert libvirt_net(netname) is None
    assert list(root.iterdir()) == []
    assert not __import__('os').path.exists(system_ctx.store.path)


def _assert_back_as_before(topo, netname):
    assert 'br100' not in topo.links()
    assert topo.links()['eth0'].get('master') is None
    assert topo.addresses('eth0') == sorted([nh.HOST_V4, nh.HOST_V6])
    assert topo.default_routes() == sorted([(nh.PEER_V4, 'eth0'), (nh.PEER_V6, 'eth0')])
    assert topo.ping()
    assert libvirt_net(netname) is None


def test_failure_in_the_last_step_restores_addresses_routes_and_libvirt(system_ctx, topo, netname, tmp_path):
    blocker = tmp_path / 'not-a-directory'
    blocker.write_text('persistence cannot go under a file')
    with pytest.raises(VpeError) as err:
        apply(system_ctx, topo, netname, persist_method='networkd', persist_root=str(blocker))
    assert 'cannot write' in err.value.detail and 'previous configuration was restored' in err.value.detail
    assert err.value.extra['rolled_back'] is True
    _assert_back_as_before(topo, netname)


def test_failure_half_way_restores_addresses_and_routes(system_ctx, topo, netname, monkeypatch):
    """The addresses are on the bridge and the routes moved when removing the old address fails."""
    def broken(dev, addr):
        raise network_live.CommandFailed('injected: cannot delete %s' % addr['local'])
    monkeypatch.setattr(network_live_apply, 'del_address', broken)
    with pytest.raises(VpeError) as err:
        apply(system_ctx, topo, netname)
    assert 'injected' in err.value.detail
    _assert_back_as_before(topo, netname)


def test_ifupdown_files_by_content_and_parsed_back(system_ctx, topo, netname, tmp_path):
    main = tmp_path / 'etc/network/interfaces'
    main.parent.mkdir(parents=True)
    main.write_text('source /etc/network/interfaces.d/*\n\nauto lo eth0\niface lo inet loopback\n\n'
                    'iface eth0 inet static\n    address 198.18.2.10/24\n    gateway 198.18.2.1\n')
    change = apply(system_ctx, topo, netname, persist_method='auto', persist_root=str(tmp_path))
    assert change.persist == 'ifupdown'
    mac = topo.links()['br100']['address']
    text = (tmp_path / 'etc/network/interfaces.d/vpe-bridge').read_text()
    assert text.split('\n', 1)[1] == (
        'auto eth0\niface eth0 inet manual\n\nauto br100\niface br100 inet static\n'
        '    address 198.18.2.10/24\n    gateway 198.18.2.1\n    bridge_ports eth0\n    bridge_stp off\n'
        '    bridge_fd 0\n    bridge_maxwait 0\n    hwaddress ether %s\n\n'
        'iface br100 inet6 static\n    address 2001:db8:1::10/64\n    gateway 2001:db8:1::1\n' % mac)
    assert main.read_text() == (
        'source /etc/network/interfaces.d/*\n\n#vpe# auto lo eth0\nauto lo\niface lo inet loopback\n\n'
        '#vpe# iface eth0 inet static\n#vpe#     address 198.18.2.10/24\n#vpe#     gateway 198.18.2.1\n')
    assert persist_readers.read_ifupdown(str(tmp_path)).as_dict() == {
        'bridge': 'br100', 'bridge_interface': 'eth0', 'mac': mac, 'addresses': [nh.HOST_V4, nh.HOST_V6],
        'gateways': [nh.PEER_V4, nh.PEER_V6], 'dhcp4': False, 'broadcasts': {}}  # ifupdown derives it (broadcast +)
    again = apply(system_ctx, topo, netname, persist_method='auto', persist_root=str(tmp_path))
    assert again.changed is False


def test_safety_rules_refuse_and_change_nothing(system_ctx, topo, netname):
    h = topo.host
    nh.ip('link', 'add', 'brx', 'type', 'bridge', ns=h)
    nh.ip('link', 'add', 'vp0', 'type', 'veth', 'peer', 'name', 'vp1', ns=h)
    nh.ip('link', 'set', 'vp0', 'master', 'brx', ns=h)
    nh.ip('tuntap', 'add', 'dev', 'vnet7', 'mode', 'tap', ns=h)
    # bonds need the bonding module, which some kernels (containers) lack
    has_bond = nh.ip('link', 'add', 'bond7', 'type', 'bond', ns=h, check=False).returncode == 0
    if has_bond:
        nh.ip('link', 'add', 'bm0', 'type', 'veth', 'peer', 'name', 'bm1', ns=h)
        nh.ip('link', 'set', 'bm0', 'master', 'bond7', ns=h)
    before = topo.links()
    cases = [
        ({'bridge_interface': 'eth9'}, InvalidInput, 'bridge_interface', 'does not exist'),
        ({'bridge_interface': 'lo'}, InvalidInput, 'bridge_interface', 'loopback'),
        ({'bridge_interface': 'brx'}, InvalidInput, 'bridge_interface', 'is a bridge'),
        ({'bridge_interface': 'vnet7'}, InvalidInput, 'bridge_interface', 'VM tap'),
        ({'bridge_interface': 'vp1', 'bridge': 'vp0'}, InvalidInput, 'bridge', 'is not a bridge'),
        ({'bridge_interface': 'vp0'}, Conflict, 'bridge_interface', 'already a port of brx'),
        ({'bridge_interface': 'eth0', 'bridge': 'eth0'}, InvalidInput, 'bridge_interface', 'must differ'),
        ({'bridge_interface': 'eth0', 'bridge': 'br-is-far-too-long'}, InvalidInput, 'bridge', '1-15 characters'),
        ({'bridge': 'br100'}, InvalidInput, 'bridge_interface', 'is required'),
    ]
    if has_bond:
        cases.append(({'bridge_interface': 'bm0'}, InvalidInput, 'bridge_interface', 'member of bond bond7'))
    for desired, kind, field, words in cases:
        with pytest.raises(kind) as err:
            apply(system_ctx, topo, netname, desired)
        assert err.value.field == field and words in err.value.detail, (desired, err.value.detail)
    if has_bond:  # a bond is a valid port
        ok = apply(system_ctx, topo, netname, {'bridge_interface': 'bond7'}, check_mode=True)
        assert 'enslave bond7 to bridge br100' in ok.actions
    assert topo.links().keys() == before.keys()
    assert topo.addresses('eth0') == sorted([nh.HOST_V4, nh.HOST_V6])
    assert libvirt_net(netname) is None


@pytest.fixture
def rootveth():
    made = nh.RootVeth()
    yield made
    made.cleanup()
    nh.remove_network(vpetest.PREFIX + made.tag)


def _dom_bridge(dom, flags=0):
    return ET.fromstring(dom.XMLDesc(flags)).find('./devices/interface/source').get('bridge')


def _network_domain_xml(name, network_name):
    dom = ET.fromstring(vpetest.domain_xml(name))
    iface = ET.SubElement(dom.find('devices'), 'interface', type='network')
    ET.SubElement(iface, 'source', network=network_name)
    return ET.tostring(dom, encoding='unicode')


def _tap(dom):
    return ET.fromstring(dom.XMLDesc(0)).find('./devices/interface/target').get('dev')


def test_bridge_change_with_running_guests_needs_force_and_moves_them(system_ctx, rootveth):
    """In the root namespace (where libvirtd puts the guests' taps), on test-made links only.
    One guest names the bridge, the other the libvirt network."""
    old, new = rootveth.bridges
    name = vpetest.PREFIX + rootveth.tag
    kwargs = dict(libvirt_network=name, persist_method='none')
    network_apply.apply(system_ctx, {'bridge': old, 'bridge_interface': rootveth.port}, **kwargs)
    conn = libvirt.open(vpetest.SYSTEM_URI)
    by_bridge = vpetest.PREFIX + 'net-' + rootveth.tag
    by_network = vpetest.PREFIX + 'nn-' + rootveth.tag
    try:
        dom = conn.defineXML(nh.bridged_domain_xml(by_bridge, old))
        dom.create()
        ndom = conn.createXML(_network_domain_xml(by_network, name), 0)
        tap, ntap = _tap(dom), _tap(ndom)
        state = network_live.LiveState.read()
        assert state.link(tap).master == old and state.link(ntap).master == old
        assert network.read(system_ctx, libvirt_network=name) == {'bridge': old, 'bridge_interface': rootveth.port}

        with pytest.raises(Conflict) as err:
            network_apply.apply(system_ctx, {'bridge': new}, **kwargs)
        assert err.value.field == 'bridge' and err.value.extra['domains'] == sorted([by_bridge, by_network])
        assert by_bridge in err.value.detail and 'use force' in err.value.detail
        assert network_live.LiveState.read().link(new) is None

        plan = network_apply.apply(system_ctx, {'bridge': new}, check_mode=True, force=True, **kwargs)
        assert 'move interface %s' % tap in ' '.join(plan.actions)
        assert 'move interface %s' % ntap in ' '.join(plan.actions)

        moved = network_apply.apply(system_ctx, {'bridge': new}, force=True, **kwargs)
        assert moved.changed and moved.after == {'bridge': new, 'bridge_interface': rootveth.port}
        state = network_live.LiveState.read()
        assert state.link(tap).master == new and state.link(ntap).master == new
        assert state.link(rootveth.port).master == new
        assert _dom_bridge(dom) == new
        assert _dom_bridge(dom, libvirt.VIR_DOMAIN_XML_INACTIVE) == new
        assert libvirt_net(name) == {'bridge': new, 'forward': 'bridge', 'active': True, 'autostart': True}
        assert network.read(system_ctx, libvirt_network=name) == moved.after
        assert network_apply.apply(system_ctx, {'bridge': new}, **kwargs).changed is False
    finally:
        vpetest.remove_domain(conn, by_bridge)
        vpetest.remove_domain(conn, by_network)
        conn.close()


def test_a_vm_tap_in_use_is_refused_as_port(system_ctx, rootveth):
    old = rootveth.bridges[0]
    name = vpetest.PREFIX + rootveth.tag
    subprocess.run(['ip', 'link', 'add', old, 'type', 'bridge'], check=True)
    conn = libvirt.open(vpetest.SYSTEM_URI)
    domname = vpetest.PREFIX + 'tap-' + rootveth.tag
    try:
        dom = conn.createXML(nh.bridged_domain_xml(domname, old), 0)
        tap = ET.fromstring(dom.XMLDesc(0)).find('./devices/interface/target').get('dev')
        with pytest.raises(InvalidInput) as err:
            network_apply.apply(system_ctx, {'bridge': rootveth.bridges[1], 'bridge_interface': tap},
                                libvirt_network=name, persist_method='none', check_mode=True)
        assert 'VM tap' in err.value.detail
    finally:
        vpetest.remove_domain(conn, domname)
        conn.close()


def test_networkmanager_style_noprefixroute_address_moves_with_its_prefix_route(system_ctx, topo, netname, tmp_path):
    # NetworkManager adds its addresses with noprefixroute and the prefix route
    # itself (proto kernel, metric 100): the kernel makes no prefix route for the
    # moved address on the bridge, so the gateway was unreachable there (found
    # by the VM lab on a NetworkManager host: "Nexthop has invalid gateway").
    addr = nh.HOST_V4
    local = addr.split('/', maxsplit=1)[0]
    net = '.'.join(local.split('.')[:3]) + '.0/24'
    nh.ip('-4', 'route', 'del', 'default', ns=topo.host)
    nh.ip('addr', 'del', addr, 'dev', 'eth0', ns=topo.host)
    nh.ip('addr', 'add', addr, 'dev', 'eth0', 'noprefixroute', ns=topo.host)
    nh.ip('route', 'add', net, 'dev', 'eth0', 'proto', 'kernel', 'scope', 'link', 'src', local,
          'metric', '100', ns=topo.host)
    nh.ip('route', 'add', 'default', 'via', nh.PEER_V4, 'dev', 'eth0', 'proto', 'static', 'metric', '100',
          ns=topo.host)
    assert topo.ping()
    result = apply(system_ctx, topo, netname, persist_method='networkd', persist_root=str(tmp_path))
    assert result.changed is True
    assert topo.addresses('br100') == sorted([nh.HOST_V4, nh.HOST_V6])
    assert (nh.PEER_V4, 'br100') in topo.default_routes()
    assert topo.ping(nh.PEER_V4)
    routes = nh.ip('-4', 'route', 'show', net, ns=topo.host).stdout
    assert 'dev br100' in routes and 'dev eth0' not in routes
