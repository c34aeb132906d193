"""The lab's three hosts as vpe.hypervisor.shim sees them: the inventory is
built from their shims over TLS (the lab's CA) from the controller side, from
the installed collection, and the placement filter picks one of them.

Runs in the lab tier only (make lab-test; tests/lab/conftest.py and
labtier.py come with the lab)."""

import json
import os
import tempfile

import pytest
import yaml

lab = pytest.importorskip('labtier', reason='the lab tier (tests/lab/labtier.py) is not in this checkout')


def venv_bin(name):
    return os.path.join(os.environ.get('VPE_LAB_VENV', os.path.join(lab.ROOT, '.venv')), 'bin', name)


def lab_env():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(lab.OUT, 'collections'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_INVENTORY_UNPARSED_FAILED='1')
    env.pop('PYTHONPATH', None)
    env.pop('ANSIBLE_CONFIG', None)
    return env


def share(usages):
    """Share of the quota left on the scarcer resource after a 1 vCPU, 64 MiB VM."""
    return min((usages['cpu_total'] - usages['cpu_used'] - 1) / usages['cpu_total'],
               (usages['memory_total_mb'] - usages['memory_used_mb'] - 64) / usages['memory_total_mb'])


def unwrap(value):
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, unwrap(v)) for k, v in value.items())
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


@pytest.fixture(scope='module')
def fleet_config():
    with tempfile.TemporaryDirectory(prefix='vpeinv-lab-') as tmp:
        token_file = os.path.join(tmp, 'read.token')
        with open(token_file, 'w') as handle:
            handle.write(lab.tokens()['read'] + '\n')
        config = {
            'plugin': 'vpe.hypervisor.shim',
            'hosts': [{'name': name, 'url': lab.url(name, '')} for name in lab.hosts()],
            'token_file': token_file,
            'ca_path': os.path.join(lab.OUT, 'pki', 'ca.crt'),
            'timeout': 30,
        }
        path = os.path.join(tmp, 'lab.vpe_shim.yml')
        with open(path, 'w') as handle:
            yaml.safe_dump(config, handle)
        yield path


def test_the_inventory_is_built_from_the_three_lab_shims(fleet_config):
    with tempfile.NamedTemporaryFile(suffix='.json') as out:
        proc = lab.in_ns([venv_bin('ansible-inventory'), '-i', fleet_config, '--list', '--output', out.name],
                         env=lab_env(), timeout=300)
        doc = json.load(open(out.name))
    assert lab.tokens()['read'] not in proc.stdout + proc.stderr
    names = sorted(lab.hosts())
    assert sorted(doc['vpe_hypervisors']['hosts']) == names
    assert doc.get('vpe_unreachable', {}).get('hosts', []) == [], proc.stderr
    quota = lab.inventory()['all']['vars']['hypervisor_quota']
    for name, hostvars in unwrap(doc['_meta']['hostvars']).items():
        assert hostvars['vpe_shim_url'] == lab.url(name, '')
        assert {k: hostvars['vpe_quota'][k] for k in quota} == quota
        usages = hostvars['vpe_usages']
        assert (usages['cpu_total'], usages['memory_total_mb']) == (quota['cpu_max'], quota['memory_max_mb'])
        assert hostvars['vpe_free'] == {'cpu': usages['cpu_total'] - usages['cpu_used'],
                                        'memory_mb': usages['memory_total_mb'] - usages['memory_used_mb']}
        assert hostvars['vpe_network']['bridge'] == lab.hosts()[name]['hypervisor_network']['bridge']
        assert 'labpool' in [pool['name'] for pool in hostvars['vpe_pools']]
        assert hostvars['vpe_image_pool']['path'] == lab.inventory()['all']['vars']['hypervisor_image_pool']['path']


def test_placement_picks_the_lab_host_with_the_most_room(fleet_config):
    with tempfile.TemporaryDirectory(prefix='vpeinv-lab-') as tmp:
        out = os.path.join(tmp, 'choice.json')
        playbook = os.path.join(tmp, 'place.yml')
        with open(playbook, 'w') as handle:
            handle.write('''\
- name: Place a VM in the lab
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Save the choice and the hosts' room
      ansible.builtin.copy:
        dest: %s
        content: "{{ {'host': chosen, 'free': free} | to_json }}"
      vars:
        hypervisors: "{{ groups.vpe_hypervisors | map('extract', hostvars) | list }}"
        chosen: "{{ hypervisors | vpe.hypervisor.placement(1, 64, pool='labpool') }}"
        free: "{{ dict(groups.vpe_hypervisors | zip(hypervisors | map(attribute='vpe_usages'))) }}"
''' % out)
        lab.in_ns([venv_bin('ansible-playbook'), '-i', fleet_config, playbook], env=lab_env(), timeout=300)
        result = json.load(open(out))
    # the same rule by hand: the largest share of the quota left on the scarcer resource
    best = max(share(u) for u in result['free'].values())
    assert share(result['free'][result['host']]) == best
