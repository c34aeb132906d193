"""A reboot of each host brings back, with no Ansible run, the bridge (by the
host's own persistence: networkd, ifupdown or NetworkManager), the address on
it, the shim and the collector."""

import json
import time

import labtier as lab


def test_reboot_brings_back_bridge_address_shim_and_collector():
    hosts = list(lab.hosts())
    start = time.monotonic()
    lab.reboot(hosts)   # all at once
    lab.record_timing('reboot', time.monotonic() - start)
    for host in hosts:
        hv = lab.hosts()[host]
        assert lab.ssh(host, 'systemctl is-active vpe-shim vpe-collector libvirtd', check=False).split() == \
            ['active'] * 3
        nic = json.loads(lab.ssh(host, 'ip -j link show dev ens3'))[0]
        assert nic.get('master') == 'br100'
        br = json.loads(lab.ssh(host, 'ip -j addr show dev br100'))[0]
        assert hv['ansible_host'] in [a['local'] for a in br['addr_info']]
        assert lab.curl(host, '/healthz')[0] == 200
        assert lab.curl(host, '/hypervisor/usages', token=lab.tokens()['read'])[0] == 200
