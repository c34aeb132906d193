"""After `make lab`: each host runs the roles' services under systemd, the shim
answers over the lab network with TLS, the SSH-carrying NIC sits in br100
with the address moved, and a second site.yml run changes nothing."""

import json
import os
import re
import time

import labtier as lab

STACK_FILES = {  # what the host's own stack persisted the bridge with
    'networkd': 'test -f /etc/systemd/network/10-vpe-bridge.netdev && test -f /etc/systemd/network/10-vpe-bridge-port.network',
    'ifupdown': 'grep -q "bridge_ports ens3" /etc/network/interfaces.d/vpe-bridge',
    'nm': 'test -f /etc/NetworkManager/system-connections/vpe-bridge.nmconnection'
          ' && test -f /etc/NetworkManager/system-connections/vpe-bridge-port.nmconnection',
}


def test_services_active_and_host_running_with_no_failed_unit(host):
    out = lab.ssh(host, 'systemctl is-active vpe-shim vpe-collector libvirtd', check=False)
    assert out.split() == ['active', 'active', 'active']
    state = lab.ssh(host, 'timeout 300 systemctl is-system-running --wait', timeout=330, check=False).strip()
    failed = lab.ssh(host, 'systemctl --failed --no-legend --plain', check=False).strip()
    assert (state, failed) == ('running', '')


def test_shim_answers_healthz_and_authenticated_usages_from_the_controller(host):
    status, body = lab.curl(host, '/healthz')
    assert status == 200, body
    status, body = lab.curl(host, '/hypervisor/usages')
    assert status == 401
    status, body = lab.curl(host, '/hypervisor/usages', token=lab.tokens()['read'])
    assert status == 200, body
    usages = json.loads(body)['usages']
    assert usages['cpu_total'] == 8 and usages['memory_total_mb'] == 4096   # the inventory's quota


def test_nic_in_br100_with_the_ssh_address_and_the_session_survived(host):
    hv = lab.hosts()[host]
    nic = json.loads(lab.ssh(host, 'ip -j -d link show dev ens3'))[0]
    assert nic.get('master') == 'br100'
    addrs = json.loads(lab.ssh(host, 'ip -j addr show'))
    where = dict((d['ifname'], [a['local'] for a in d.get('addr_info', []) if a.get('scope') == 'global'])
                 for d in addrs)
    assert hv['ansible_host'] in where['br100'] and where['ens3'] == []
    default = json.loads(lab.ssh(host, 'ip -j -4 route show default'))
    assert [r['dev'] for r in default] == ['br100']
    # the stack that persisted it is the host's own
    assert lab.ssh(host, '{ %s; } && echo ok || echo missing' % STACK_FILES[hv['lab_network_stack']]).strip() == 'ok'
    # the SSH session opened before `make lab`'s converge (lab/converge.sh) outlived it, printing all along
    assert lab.read('watch/%s.alive' % host).strip() == 'yes'
    ticks = re.compile(r'^(\d+) (\d+)$')   # the session's own lines; ssh's warnings go elsewhere
    lines = [m.groups() for m in map(ticks.match, lab.read('watch/%s.log' % host).splitlines()) if m]
    stamps = [int(t) for t, _n in lines]
    assert len(stamps) > 10 and all(int(n) >= 1 for _t, n in lines)
    # make before break: by the kernel's own address events, the address was on ens3, br100 or both
    # at every moment (ticks 2-4 s apart under TCG would miss a gap of a second)
    seen = address_holders(lab.read('watch/%s.log' % host).splitlines(), hv['ansible_host'])
    assert seen[0][1] == {'ens3'} and seen[-1][1] == {'br100'}, seen
    assert all(holders for _ts, holders in seen), seen


HOLDS = re.compile(r'^holds \d+: (?P<dev>\S+)\s+inet (?P<addr>[\d.]+)/')
EVENT = re.compile(r'^\[(?P<ts>[^\]]+)\] (?P<deleted>Deleted )?\d+: (?P<dev>\S+)\s+inet (?P<addr>[\d.]+)/')


def address_holders(log, address):
    """[(time, NICs holding `address`)]: at the session's start (time None), then after each kernel event
    (`ip -o -ts monitor address` lines, lab/converge.sh)."""
    holders = set(m.group('dev') for m in map(HOLDS.match, log) if m and m.group('addr') == address)
    seen = [(None, frozenset(holders))]
    for m in map(EVENT.match, log):
        if m and m.group('addr') == address:
            (holders.discard if m.group('deleted') else holders.add)(m.group('dev'))
            seen.append((m.group('ts'), frozenset(holders)))
    return seen


def test_second_site_run_changes_nothing():
    start = time.monotonic()
    rc, recap = lab.converge('converge-again')
    lab.record_timing('second_converge', time.monotonic() - start)
    assert rc == 0, lab.read('converge-again.log')[-4000:]
    assert sorted(recap) == sorted(lab.hosts())
    assert all(r['changed'] == 0 and r['failed'] == 0 and r['unreachable'] == 0 for r in recap.values()), recap
    for host in lab.hosts():
        assert lab.read('watch/%s.alive' % host).strip() == 'yes'


def test_inventory_has_what_users_set():
    for name, hv in lab.hosts().items():
        assert hv['hypervisor_network']['bridge'] == 'br100'
    group = lab.inventory()['all']['vars']
    assert group['ansible_user'] != 'root' and os.path.exists(group['ansible_ssh_private_key_file'])
