"""vpe_network and vpe_facts run by ansible-playbook inside a test namespace
whose eth0 carries the host's only address and its default route."""

import pytest

import netns_helpers as nh
import vpetest

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd]


def network_task(topo, tmp_path, register, extra=''):
    return '''
    - name: Bridge the VMs
      vpe.hypervisor.vpe_network:
        bridge: br100
        bridge_interface: eth0
        persist: networkd
        persist_root: {root}
        libvirt_network: {net}
        state_dir: {state}
        {extra}
      register: {register}
      ignore_errors: true
    '''.format(root=tmp_path / 'root', net=vpetest.PREFIX + topo.tag, state=tmp_path / 'state',
               register=register, extra=extra)


def test_check_mode_shows_the_steps_and_changes_nothing(topo, tmp_path):
    with nh.entered(topo.host):
        rc, results, out = vpetest.run_playbook(network_task(topo, tmp_path, 'r_check'), check=True)
    assert rc == 0, out
    check = results['r_check']
    assert check['changed'] is True
    assert check['diff'] == {'before': {'bridge': None, 'bridge_interface': None},
                             'after': {'bridge': 'br100', 'bridge_interface': 'eth0'}}
    assert 'move address 198.18.2.10/24 from eth0 to br100' in check['actions']
    assert 'move route default via 198.18.2.1 from eth0 to br100' in check['actions']
    assert check['persist'] == 'networkd'
    assert check['warnings'] == [
        "eth0 carries this host's only global addresses (198.18.2.10/24, 2001:db8:1::10/64): they move to br100, "
        "and back if any step fails; keep a console at hand the first time"]
    # what the user sees: the task shown as changed, the diff and (with -v) the steps
    shown = out.split('TASK [Bridge the VMs]')[1]
    assert 'changed: [localhost]' in shown and '+    "bridge": "br100",' in shown
    assert 'br100' not in topo.links()
    assert topo.addresses('eth0') == ['198.18.2.10/24', '2001:db8:1::10/64']
    assert not (tmp_path / 'root').exists() and not (tmp_path / 'state' / 'state.json').exists()


def test_apply_then_again_unchanged_and_facts_report_it(topo, tmp_path):
    tasks = (network_task(topo, tmp_path, 'r_first') + network_task(topo, tmp_path, 'r_second') + '''
    - name: Facts
      vpe.hypervisor.vpe_facts:
        gather: [network]
        state_dir: {state}
      register: r_facts
    '''.format(state=tmp_path / 'state'))
    with nh.entered(topo.host):
        rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out
    assert results['r_first']['changed'] is True, results['r_first']
    assert results['r_first']['network'] == {'bridge': 'br100', 'bridge_interface': 'eth0'}
    assert results['r_second']['changed'] is False and results['r_second']['actions'] == []
    assert results['r_facts']['ansible_facts']['vpe']['network'] == {'bridge': 'br100', 'bridge_interface': 'eth0'}
    assert topo.links()['eth0']['master'] == 'br100' and topo.ping()


def test_refusal_is_a_failure_with_status(topo, tmp_path):
    task = network_task(topo, tmp_path, 'r_bad').replace('bridge_interface: eth0', 'bridge_interface: lo')
    with nh.entered(topo.host):
        rc, results, out = vpetest.run_playbook(task)
    bad = results['r_bad']
    assert bad['failed'] is True and bad['status'] == 400 and bad['field'] == 'bridge_interface'
    assert 'loopback' in bad['msg']
    assert topo.addresses('eth0') == ['198.18.2.10/24', '2001:db8:1::10/64']
