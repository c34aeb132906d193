"""vpe_network with confirm_timeout through its action plugin, by ansible-playbook
inside a test namespace: a change confirmed over a second connection stays; one
whose confirming runs cannot get through fails the task and is rolled back on
the host by itself."""

import json
import time

import pytest

import netns_helpers as nh
import vpetest

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd]

ENV = {'VPE_NETWORK_WATCHDOG': 'process'}  # a systemd timer would revert outside the namespace


def task(topo, tmp_path, register, timeout, extra=''):
    return '''
    - name: Bridge the VMs, confirmed
      vpe.hypervisor.vpe_network:
        bridge: br100
        bridge_interface: eth0
        persist: networkd
        persist_root: {root}
        libvirt_network: {net}
        state_dir: {state}
        confirm_timeout: {timeout}
      register: {register}
      ignore_errors: true
      {extra}
    '''.format(root=tmp_path / 'root', net=vpetest.PREFIX + 'cf' + topo.tag, state=tmp_path / 'state',
               register=register, timeout=timeout, extra=extra)


def pending_record(tmp_path):
    path = tmp_path / 'state' / 'network-pending.json'
    return json.loads(path.read_text()) if path.exists() else None


def test_change_is_confirmed_over_a_second_connection_and_stays(topo, tmp_path):
    with nh.entered(topo.host):
        rc, results, out = vpetest.run_playbook(task(topo, tmp_path, 'r_first', 60) +
                                                task(topo, tmp_path, 'r_again', 60), extra_env=ENV)
    assert rc == 0, out
    first = results['r_first']
    assert first['changed'] is True and not first.get('failed'), first
    assert first['network'] == {'bridge': 'br100', 'bridge_interface': 'eth0'}
    assert 'move address 198.18.2.10/24 from eth0 to br100' in first['actions']
    assert first['diff'] == {'before': {'bridge': None, 'bridge_interface': None},
                             'after': {'bridge': 'br100', 'bridge_interface': 'eth0'}}
    assert first['pending']['status'] == 'confirmed' and first['pending']['timeout'] == 60
    assert pending_record(tmp_path)['status'] == 'confirmed'
    again = results['r_again']
    assert again['changed'] is False and again['actions'] == [] and 'pending' not in again
    assert topo.links()['eth0']['master'] == 'br100' and topo.ping()


def test_check_mode_with_confirm_timeout_arms_nothing(topo, tmp_path):
    with nh.entered(topo.host):
        rc, results, out = vpetest.run_playbook(task(topo, tmp_path, 'r_check', 60), check=True, extra_env=ENV)
    assert rc == 0, out
    assert results['r_check']['changed'] is True and 'pending' not in results['r_check']
    assert results['r_check']['diff']['after'] == {'bridge': 'br100', 'bridge_interface': 'eth0'}
    assert pending_record(tmp_path) is None and 'br100' not in topo.links()


def test_unconfirmable_change_fails_the_task_and_is_rolled_back(topo, tmp_path):
    """Every run after the first fails as a connection cut off by the change would."""
    wrapper = tmp_path / 'python-cut-after-first'
    wrapper.write_text('#!/bin/sh\nn=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}\n'
                       'if [ "$n" -ge 1 ]; then echo "ssh: connect to host: Connection timed out" >&2; exit 255; fi\n'
                       'exec {py} "$@"\n'.format(c=tmp_path / 'runs', py=vpetest.PYTHON))
    wrapper.chmod(0o755)
    extra = 'vars:\n        ansible_python_interpreter: %s' % wrapper
    with nh.entered(topo.host):
        rc, results, out = vpetest.run_playbook(task(topo, tmp_path, 'r_cut', 5, extra), extra_env=ENV)
    cut = results['r_cut']
    assert cut['failed'] is True, cut
    assert cut['msg'].startswith('the network change was not confirmed: no new connection reached the host')
    assert 'rolls it back by itself at %s' % cut['pending']['deadline'] in cut['msg']
    assert cut['actions'] and cut['diff']['after'] == {'bridge': 'br100', 'bridge_interface': 'eth0'}
    assert int((tmp_path / 'runs').read_text()) >= 2  # the change, then at least one confirming attempt
    end = time.monotonic() + 60
    while time.monotonic() < end and (pending_record(tmp_path) or {}).get('status') != 'reverted':
        time.sleep(0.5)
    assert pending_record(tmp_path)['status'] == 'reverted'
    assert topo.links()['eth0'].get('master') is None and 'br100' not in topo.links()
    assert topo.addresses('eth0') == ['198.18.2.10/24', '2001:db8:1::10/64'] and topo.ping()
