"""Commit-confirmed bridge changes (issue 17) on the lab's hosts, where systemd
is PID 1 (the watchdog is a transient timer) and SSH rides on the NIC that
moves.

- A change that cuts the controller off (a bridge `brcut` whose traffic an
  nftables rule drops) fails the task saying it was not confirmed, and the host
  comes back on br100 by itself, shim running; 10 times in a row.
- Over REST: a PUT with confirm_timeout that nobody confirms reverts, and a
  confirm after the deadline is a 409; a confirmed one stays.
- A reboot before confirmation boots with the old network.
- A confirmed change survives a reboot on each persistence method.

Runs last in the tier (file name order) and leaves every host as converged:
ens3 in br100, persisted by its own stack.
"""

import json
import os
import time

import pytest

lab = pytest.importorskip('labtier')  # tests/lab/labtier.py: the lab branch's helpers

RUNS = int(os.environ.get('VPE_LAB_CONFIRM_RUNS', '10'))
CUT_TIMEOUT = 60
MARGIN = 120   # what the recovery may take beyond the timeout: the watchdog's poll, SSH retries under TCG
PERSIST = {'networkd': 'networkd', 'ifupdown': 'ifupdown', 'nm': 'nmcli'}
STATE = '/var/lib/vpe/network-pending.json'

CUT_SETUP = '''set -e
ip link show brcut >/dev/null 2>&1 || ip link add brcut type bridge
ip link set brcut up
nft delete table inet vpecut 2>/dev/null || true
nft add table inet vpecut
nft 'add chain inet vpecut in { type filter hook input priority -300; policy accept; }'
nft 'add chain inet vpecut out { type filter hook output priority -300; policy accept; }'
nft add rule inet vpecut in iifname brcut drop
nft add rule inet vpecut out oifname brcut drop
'''
CUT_TEARDOWN = 'nft delete table inet vpecut 2>/dev/null; ip link del brcut 2>/dev/null; true'

NETWORK_PLAY = '''- name: vpe_network with confirm_timeout
  hosts: {hosts}
  become: true
  gather_facts: false
  tasks:
    - name: Bridge {bridge}
      vpe.hypervisor.vpe_network:
        bridge: {bridge}
        bridge_interface: ens3
        persist: "{{{{ hypervisor_network.persist }}}}"
        libvirt_network: "{{{{ hypervisor_network.libvirt_network }}}}"
        confirm_timeout: {timeout}
'''


def network_play(name, hosts, bridge, timeout):
    path = os.path.join(lab.OUT, name + '.yml')
    with open(path, 'w') as handle:
        handle.write(NETWORK_PLAY.format(hosts=hosts, bridge=bridge, timeout=timeout))
    return lab.playbook(name, path)


def master(host, dev='ens3'):
    """The bridge `dev` is in, or None when the host does not answer."""
    out = lab.ssh(host, 'ip -j link show dev %s' % dev, timeout=40, check=False)
    return json.loads(out)[0].get('master') if out.strip() else None


def record(host):
    out = lab.sudo(host, 'cat %s 2>/dev/null || true' % STATE, check=False).strip()
    return json.loads(out) if out else None


def api(host, method, path, body=None, token='admin'):
    """(status, parsed body) of a request to the host's shim over TLS."""
    argv = ['curl', '-sS', '--max-time', '60', '--cacert', os.path.join(lab.OUT, 'pki', 'ca.crt'), '-X', method,
            '-H', 'Authorization: Bearer %s' % lab.tokens()[token], '-o', '-', '-w', '\n%{http_code}']
    if body is not None:
        argv += ['-H', 'Content-Type: application/json', '--data-binary', '@-']
    proc = lab.in_ns(argv + [lab.url(host, path)], timeout=90, input=json.dumps(body) if body is not None else None)
    text, status = proc.stdout.rsplit('\n', 1)
    return int(status), json.loads(text) if text.strip() else None


def put_network(host, bridge, query=''):
    return api(host, 'PUT', '/hypervisor/network' + query, body={'network': {'bridge': bridge}})


def healthy_on(host, bridge):
    """ens3 in `bridge`, the host's address on it, the shim active and answering."""
    if master(host) != bridge:
        return False
    addrs = json.loads(lab.ssh(host, 'ip -j addr show dev %s' % bridge, timeout=40))[0]['addr_info']
    if lab.hosts()[host]['ansible_host'] not in [a['local'] for a in addrs]:
        return False
    return (lab.ssh(host, 'systemctl is-active vpe-shim', timeout=40, check=False).strip() == 'active'
            and lab.curl(host, '/healthz')[0] == 200)


def test_a_change_that_cuts_the_controller_off_reverts_by_itself_every_time():
    host = 'hv1'
    assert healthy_on(host, 'br100')
    lab.sudo(host, CUT_SETUP)
    recovered = []
    try:
        for run in range(RUNS):
            start = time.monotonic()
            rc, recap, log = network_play('confirm-cut-%d' % run, host, 'brcut', CUT_TIMEOUT)
            assert rc != 0, log[-4000:]
            assert 'the network change was not confirmed' in log, log[-4000:]
            assert recap[host]['failed'] == 1 and recap[host]['unreachable'] == 0, recap
            lab.wait_until('%s back on br100 by itself (run %d)' % (host, run + 1),
                           lambda: healthy_on(host, 'br100'), timeout=CUT_TIMEOUT + MARGIN, interval=3)
            recovered.append(time.monotonic() - start)
            doc = record(host)
            assert doc['status'] == 'reverted' and doc['revert_errors'] == [], doc
            assert doc['watchdog']['kind'] == 'systemd'
            port = lab.sudo(host, 'cat /etc/systemd/network/10-vpe-bridge-port.network')
            assert 'Bridge=br100' in port
    finally:
        lab.record_timing('confirm_cut_runs_recovered', len(recovered))
        if recovered:
            lab.record_timing('confirm_cut_recovery_max', max(recovered))
            lab.record_timing('confirm_cut_recovery_mean', sum(recovered) / len(recovered))
        if master(host) == 'br100':
            lab.sudo(host, CUT_TEARDOWN, check=False)
    assert len(recovered) == RUNS


def test_rest_unconfirmed_put_reverts_confirm_after_deadline_409_confirmed_put_stays():
    host = 'hv1'
    status, doc = put_network(host, 'br101', '?confirm_timeout=20')
    assert status == 202, doc
    change_id = doc['pending']['id']
    # the shim runs as a service user: its watchdog is a process of its own (systemd refuses it a timer)
    assert doc['pending']['watchdog']['kind'] == 'process'
    status, got = api(host, 'GET', '/hypervisor/network', token='read')
    assert status == 200 and got['network']['bridge'] == 'br101' and got['pending']['id'] == change_id
    lab.wait_until('the unconfirmed PUT reverted', lambda: api(host, 'GET', '/hypervisor/network')[1] ==
                   {'network': {'bridge': 'br100', 'bridge_interface': 'ens3'}}, timeout=20 + MARGIN)
    assert healthy_on(host, 'br100')
    status, late = api(host, 'POST', '/hypervisor/network/confirm?id=%s' % change_id)
    assert status == 409 and 'was not confirmed by' in late['detail'], late

    # a restart of the shim kills its watchdog process: the new shim's backstop reverts once overdue
    status, doc = put_network(host, 'br101', '?confirm_timeout=10')
    assert status == 202, doc
    lab.sudo(host, 'systemctl restart vpe-shim')
    lab.wait_until('the shim\'s backstop reverted', lambda: (record(host) or {}).get('status') == 'reverted',
                   timeout=10 + MARGIN, interval=3)
    assert record(host)['revert_reason'] == 'overdue' and healthy_on(host, 'br100')

    status, doc = put_network(host, 'br101', '?confirm_timeout=120')
    assert status == 202, doc
    status, done = api(host, 'POST', '/hypervisor/network/confirm?id=%s' % doc['pending']['id'])
    assert status == 200 and done['pending']['status'] == 'confirmed', done
    assert lab.ssh(host, 'ls /etc/systemd/system/vpe-net-revert-boot*.service 2>/dev/null || true').strip() == ''
    time.sleep(5)
    assert api(host, 'GET', '/hypervisor/network')[1] == {'network': {'bridge': 'br101', 'bridge_interface': 'ens3'}}
    assert healthy_on(host, 'br101')
    status, back = put_network(host, 'br100')
    assert status == 200 and back == {'network': {'bridge': 'br100', 'bridge_interface': 'ens3'}}, back
    assert healthy_on(host, 'br100')


def test_a_reboot_before_confirmation_boots_with_the_old_network():
    host = 'hv1'
    status, doc = put_network(host, 'br101', '?confirm_timeout=900')
    assert status == 202, doc
    # the api_shim role's static boot units stand by (the shim cannot write units itself)
    units = lab.ssh(host, 'ls /etc/systemd/system/multi-user.target.wants/').split()
    assert 'vpe-net-boot-revert-files.service' in units and 'vpe-net-boot-revert.service' in units
    assert doc['pending']['watchdog']['kind'] == 'process'
    assert 'Name=br101' in lab.sudo(host, 'cat /etc/systemd/network/10-vpe-bridge.netdev')
    lab.reboot([host])
    assert healthy_on(host, 'br100')
    after = record(host)
    assert after['status'] == 'reverted' and after['revert_reason'] == 'reboot' and after['revert_errors'] == []
    assert after.get('files_restored_at'), after   # by the early boot unit, before networkd read them
    assert 'Name=br100' in lab.sudo(host, 'cat /etc/systemd/network/10-vpe-bridge.netdev')
    assert "bridge name='br100'" in lab.sudo(host, 'virsh net-dumpxml br100')
    assert lab.ssh(host, 'ls /etc/systemd/system/vpe-net-revert-boot*.service 2>/dev/null || true').strip() == ''
    assert api(host, 'GET', '/hypervisor/network')[1] == {'network': {'bridge': 'br100', 'bridge_interface': 'ens3'}}


def test_a_confirmed_change_survives_a_reboot_with_networkd_ifupdown_and_networkmanager():
    """All three hosts at once (one play, one reboot): hv1 networkd, hv2 ifupdown, hv3 NetworkManager."""
    hosts = list(lab.hosts())
    pattern = ':'.join(hosts)
    rc, recap, log = network_play('confirm-br101', pattern, 'br101', 120)
    try:
        assert rc == 0, log[-4000:]
        assert all(recap[h]['changed'] == 1 and recap[h]['failed'] == 0 for h in hosts), recap
        for host in hosts:
            assert record(host)['status'] == 'confirmed', host
        lab.reboot(hosts)
        for host in hosts:
            assert healthy_on(host, 'br101'), '%s (%s) did not boot with br101' % (
                host, lab.hosts()[host]['lab_network_stack'])
    finally:   # a move that was not confirmed reverts by itself; wait for it before moving back
        for host in hosts:
            lab.wait_until('%s answering' % host, lambda host=host: master(host) in ('br100', 'br101'),
                           timeout=120 + MARGIN, interval=5)
        rc, recap, log = network_play('confirm-br100', pattern, 'br100', 120)
    assert rc == 0, log[-4000:]
    for host in hosts:
        assert healthy_on(host, 'br100'), host
