"""Persistence writers and readers for networkd, ifupdown and nmcli, and the
detection of the host's network stack, on temporary roots."""

import pytest

import persist_readers
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_persist as persist
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput

CFG = persist.BridgeConfig('br100', 'eth0', '52:54:00:aa:bb:cc', ['10.0.0.5/24', '10.0.0.6/24', 'fd00::5/64'],
                           ['10.0.0.1', 'fd00::1'])


def write_all(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_networkd_files_and_reader_round_trip(tmp_path):
    # 10.0.0.6 was added without a broadcast (ip addr add without brd): none is written for it
    cfg = persist.BridgeConfig(CFG.bridge, CFG.port, CFG.mac, CFG.addresses, CFG.gateways,
                               broadcasts={'10.0.0.5/24': '10.0.0.255'})
    files = persist.render_networkd(cfg)
    assert sorted(files) == ['etc/systemd/network/10-vpe-bridge-port.network',
                             'etc/systemd/network/10-vpe-bridge.netdev',
                             'etc/systemd/network/10-vpe-bridge.network']
    assert files['etc/systemd/network/10-vpe-bridge.network'].split('\n', 1)[1] == (
        '[Match]\nName=br100\n\n[Network]\nGateway=10.0.0.1\nGateway=fd00::1\nConfigureWithoutCarrier=yes\n'
        '\n[Address]\nAddress=10.0.0.5/24\nBroadcast=10.0.0.255\n'
        '\n[Address]\nAddress=10.0.0.6/24\n'
        '\n[Address]\nAddress=fd00::5/64\n')
    assert 'Kind=bridge\nMACAddress=52:54:00:aa:bb:cc\n' in files['etc/systemd/network/10-vpe-bridge.netdev']
    write_all(tmp_path, files)
    assert persist_readers.read_networkd(str(tmp_path)).as_dict() == cfg.as_dict()
    assert persist.plan('networkd', cfg, str(tmp_path)) == []
    # the same addresses with another broadcast are a change to write (networkd would re-add the address)
    other = persist.BridgeConfig(CFG.bridge, CFG.port, CFG.mac, CFG.addresses, CFG.gateways,
                                 broadcasts={'10.0.0.5/24': '10.0.0.127'})
    assert [op.describe() for op in persist.plan('networkd', other, str(tmp_path))] == [
        'write /etc/systemd/network/10-vpe-bridge.network']


def test_networkd_dhcp(tmp_path):
    cfg = persist.BridgeConfig('br0', 'bond0', None, [], [], dhcp4=True)
    write_all(tmp_path, persist.render_networkd(cfg))
    assert 'DHCP=ipv4\n' in (tmp_path / 'etc/systemd/network/10-vpe-bridge.network').read_text()
    assert persist_readers.read_networkd(str(tmp_path)).as_dict() == cfg.as_dict()


def test_ifupdown_file_and_reader_round_trip(tmp_path):
    files = persist.render_ifupdown(CFG)
    text = files['etc/network/interfaces.d/vpe-bridge']
    assert text.split('\n', 1)[1] == (
        'auto eth0\niface eth0 inet manual\n\nauto br100\niface br100 inet static\n    address 10.0.0.5/24\n'
        '    gateway 10.0.0.1\n    bridge_ports eth0\n    bridge_stp off\n    bridge_fd 0\n    bridge_maxwait 0\n'
        '    hwaddress ether 52:54:00:aa:bb:cc\n\niface br100 inet static\n    address 10.0.0.6/24\n\n'
        'iface br100 inet6 static\n    address fd00::5/64\n    gateway fd00::1\n')
    write_all(tmp_path, files)
    assert persist_readers.read_ifupdown(str(tmp_path)).as_dict() == CFG.as_dict()


def test_ifupdown_comments_out_the_port_and_keeps_everything_else():
    text = ('# main\nauto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet dhcp\n'
            '    hostname h\n\niface eth1 inet manual\n')
    assert persist.comment_out_port(text, 'eth0') == (
        '# main\nauto lo\niface lo inet loopback\n\n#vpe# allow-hotplug eth0\n#vpe# iface eth0 inet dhcp\n'
        '#vpe#     hostname h\n\niface eth1 inet manual\n')
    assert persist.comment_out_port(text, 'eth7') == text


def test_nmcli_commands_add_then_nothing_when_equal():
    cmds = persist.nmcli_commands(CFG, {'vpe-bridge': None, 'vpe-bridge-port': None})
    assert cmds[0][:7] == ['nmcli', 'connection', 'add', 'type', 'bridge', 'con-name', 'vpe-bridge']
    assert 'ipv4.addresses' in cmds[0] and '10.0.0.5/24,10.0.0.6/24' in cmds[0]
    assert cmds[1][:7] == ['nmcli', 'connection', 'add', 'type', 'ethernet', 'con-name', 'vpe-bridge-port']
    assert cmds[1][cmds[1].index('connection.master') + 1] == 'br100'
    shown = {name: dict(settings) for name, settings in persist.render_nmcli(CFG).items()}
    assert persist.nmcli_commands(CFG, shown) == []
    changed = dict(shown, **{'vpe-bridge': dict(shown['vpe-bridge'], **{'ipv4.gateway': '10.0.0.254'})})
    assert persist.nmcli_commands(CFG, changed)[0][:4] == ['nmcli', 'connection', 'modify', 'vpe-bridge']


def test_nmcli_show_parsing():
    out = 'connection.id:vpe-bridge\nipv4.addresses:10.0.0.5/24, 10.0.0.6/24\nbridge.mac-address:52\\:54\\:00\n'
    assert persist.parse_nmcli_show(out)['bridge.mac-address'] == '52:54:00'
    assert persist.parse_nmcli_show(out)['ipv4.addresses'] == '10.0.0.5/24, 10.0.0.6/24'


def test_detection_on_roots(tmp_path):
    assert persist.detect(str(tmp_path)) == 'none'
    (tmp_path / 'etc/network').mkdir(parents=True)
    (tmp_path / 'etc/network/interfaces').write_text('auto lo\n')
    assert persist.detect(str(tmp_path)) == 'ifupdown'
    (tmp_path / 'run/systemd/netif').mkdir(parents=True)
    (tmp_path / 'run/systemd/netif/state').write_text('OPER_STATE=routable\n')
    assert persist.detect(str(tmp_path)) == 'networkd'
    assert persist.resolve('auto', str(tmp_path)) == 'networkd'
    assert persist.resolve('ifupdown', str(tmp_path)) == 'ifupdown'
    with pytest.raises(InvalidInput) as err:
        persist.resolve('netplan', str(tmp_path))
    assert err.value.field == 'persist'


def test_file_writes_undo_to_the_old_content(tmp_path):
    path = tmp_path / 'etc/network/interfaces.d/vpe-bridge'
    path.parent.mkdir(parents=True)
    path.write_text('old\n')
    op = persist.FileWrite(str(tmp_path), 'etc/network/interfaces.d/vpe-bridge', 'new\n')
    op.do()
    assert path.read_text() == 'new\n'
    op.undo()
    assert path.read_text() == 'old\n'
    fresh = persist.FileWrite(str(tmp_path), 'etc/systemd/network/x.network', 'x\n')
    fresh.do()
    fresh.undo()
    assert not (tmp_path / 'etc/systemd/network/x.network').exists()


def test_facts_network_section_on_the_test_driver(test_ctx):
    from ansible_collections.vpe.hypervisor.plugins.module_utils.core import facts
    # no libvirt network of ours and no br100 in this namespace: null, not an error
    assert facts.gather(test_ctx, ['network']) == {'network': {'bridge': None, 'bridge_interface': None}}
