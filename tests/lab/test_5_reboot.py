"""A reboot of each host brings back, with no Ansible run, the bridge (by the
host's own persistence: networkd, ifupdown or NetworkManager), the address on
it, the shim and the collector."""

import json
import time

import labtier as lab


def boot_id(host):
    return lab.ssh(host, 'cat /proc/sys/kernel/random/boot_id').strip()


def test_reboot_brings_back_bridge_address_shim_and_collector():
    hosts = list(lab.hosts())
    before = dict((h, boot_id(h)) for h in hosts)
    start = time.monotonic()
    for host in hosts:   # all at once: the SSH session ends with the reboot
        lab.ssh(host, 'sudo systemd-run --on-active=2 systemctl reboot', check=False)
    for host in hosts:
        lab.wait_until('%s back after its reboot' % host,
                       lambda host=host: boot_id(host) != before[host], timeout=600, interval=10)
    for host in hosts:
        state = lab.ssh(host, 'timeout 300 systemctl is-system-running --wait', timeout=330, check=False).strip()
        assert state == 'running', lab.ssh(host, 'systemctl --failed --no-legend', check=False)
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
