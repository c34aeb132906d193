"""The hypervisor role passes hypervisor_network.confirm_timeout through to
vpe_network: off by default over connection local, a confirmed change when
set. Run inside a test namespace whose eth0 carries the host's address."""

import json
import textwrap

import pytest

import netns_helpers as nh
import vpetest
from role_helpers import recap, run_play

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd]

ENV = {'VPE_NETWORK_WATCHDOG': 'process'}  # a systemd timer would revert outside the namespace


def play(tmp_path, topo, network):
    return textwrap.dedent('''\
        - name: Configure the hypervisor
          hosts: localhost
          gather_facts: false
          roles:
            - role: vpe.hypervisor.hypervisor
              vars:
                hypervisor_state_dir: {state}
                hypervisor_manage_packages: false
                hypervisor_network: {network}
        ''').format(state=tmp_path / 'state', network=json.dumps(dict(
        network, bridge_interface='eth0', persist='networkd', persist_root=str(tmp_path / 'root'),
        libvirt_network=vpetest.PREFIX + 'cf' + topo.tag)))


def record(tmp_path):
    path = tmp_path / 'state' / 'network-pending.json'
    return json.loads(path.read_text()) if path.exists() else None


def test_connection_local_arms_nothing_by_default_and_a_given_timeout_is_confirmed(tmp_path, topo):
    with nh.entered(topo.host):
        rc, out = run_play(play(tmp_path, topo, {'bridge': 'br100'}), tmp_path, extra_env=ENV)
    assert rc == 0, out
    assert recap(out)['changed'] == 1, out
    assert record(tmp_path) is None  # confirm_timeout 0 over connection local: no watchdog
    assert topo.links()['eth0']['master'] == 'br100'
    with nh.entered(topo.host):
        rc, out = run_play(play(tmp_path, topo, {'bridge': 'br200', 'confirm_timeout': 45}), tmp_path, '-v',
                           extra_env=ENV)
    assert rc == 0, out
    assert recap(out)['changed'] == 1, out
    doc = record(tmp_path)
    assert doc['status'] == 'confirmed' and doc['timeout'] == 45
    assert doc['after'] == {'bridge': 'br200', 'bridge_interface': 'eth0'}
    assert topo.links()['eth0']['master'] == 'br200' and topo.ping()


def test_argument_specs_refuse_a_bad_confirm_timeout(tmp_path, topo):
    with nh.entered(topo.host):
        rc, out = run_play(play(tmp_path, topo, {'confirm_timeout': 'soon'}), tmp_path, extra_env=ENV)
    assert rc != 0 and 'confirm_timeout' in out, out
    assert 'br100' not in topo.links()
