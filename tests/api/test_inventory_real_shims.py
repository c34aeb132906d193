"""The shim inventory and the placement filters against real shims on
loopback with different quotas, a shim on the real libvirtd, and a dead
address: ansible-inventory and ansible-playbook as a user runs them.

Three shims run on libvirt test-driver files (each a "host" of its own with
known domains, so the choices are exact); the fourth on qemu:///system,
whose allocation moves with whatever else runs on this machine, gets a quota
of 1 vCPU / 1 MiB so that it is never chosen.
"""

import json
import re
import subprocess
import textwrap

import pytest

import vpetest
from inventory_helpers import ansible_inventory, driver_node, group_hosts, hostvars, write_config

pytestmark = [pytest.mark.api, pytest.mark.libvirtd, pytest.mark.playbook]


def put(shim, path, body):
    resp = shim.request('PUT', path, data=json.dumps(body), headers={'Content-Type': 'application/json'})
    assert resp.status_code == 200, resp.text


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    """name -> Shim; hv-a 16/32768 as the host, hv-b quota 4/8192 with pool fast,
    hv-c quota 32/131072, hv-real on qemu:///system with quota 1/1."""
    base = tmp_path_factory.mktemp('vpeinv-fleet')
    nodes = {
        'hv-a': (16, 32768, [('a1', 2, 2048), ('a2', 4, 8192)]),
        'hv-b': (8, 16384, [('b1', 1, 1024)]),
        'hv-c': (64, 262144, [('c1', 8, 65536)]),
    }
    shims = {}
    try:
        for name, (cpus, mem, doms) in nodes.items():
            work = base / name
            work.mkdir()
            shims[name] = vpetest.Shim(work, uri=driver_node(work / 'node.xml', cpus, mem, doms))
        put(shims['hv-b'], '/hypervisor/quota', {'quota': {'cpu_max': 4, 'memory_max_mb': 8192}})
        (base / 'hv-b' / 'fast').mkdir()
        resp = shims['hv-b'].request('POST', '/hypervisor/pools', headers={'Content-Type': 'application/json'},
                                     data=json.dumps({'pool': {'name': 'fast', 'path': str(base / 'hv-b' / 'fast'),
                                                               'max_gb': 50}}))
        assert resp.status_code == 200, resp.text
        put(shims['hv-c'], '/hypervisor/quota', {'quota': {'cpu_max': 32, 'memory_max_mb': 131072}})
        (base / 'hv-real').mkdir()
        shims['hv-real'] = vpetest.Shim(base / 'hv-real')
        resp = shims['hv-real'].request('PUT', '/hypervisor/quota?force=true', headers={'Content-Type': 'application/json'},
                                        data=json.dumps({'quota': {'cpu_max': 1, 'memory_max_mb': 1}}))
        assert resp.status_code == 200, resp.text
        yield shims
    finally:
        for shim in shims.values():
            shim.stop()


def inventory_config(directory, shims, dead_port):
    hosts = []
    for name, shim in shims.items():
        token_file = directory / ('%s.token' % name)
        token_file.write_text(shim.read_token + '\n')  # each shim made its own tokens
        hosts.append({'name': name, 'url': shim.url, 'token_file': str(token_file)})
    hosts.append({'name': 'hv-dead', 'url': 'http://127.0.0.1:%d' % dead_port, 'token': 'x' * 32})
    return write_config(directory, hosts, timeout=5)


def test_the_inventory_holds_what_each_shim_answers(fleet, tmp_path):
    rc, doc, output = ansible_inventory(inventory_config(tmp_path, fleet, vpetest.free_port()))
    assert rc == 0, output
    assert group_hosts(doc, 'vpe_hypervisors') == ['hv-a', 'hv-b', 'hv-c', 'hv-dead', 'hv-real']
    assert group_hosts(doc, 'vpe_unreachable') == ['hv-dead']
    hv = hostvars(doc)
    assert hv['hv-a']['vpe_usages'] == {'instances': 2, 'cpu_used': 6, 'cpu_total': 16,
                                        'memory_used_mb': 10240, 'memory_total_mb': 32768}
    assert hv['hv-a']['vpe_free'] == {'cpu': 10, 'memory_mb': 22528}
    assert hv['hv-b']['vpe_quota'] == {'cpu_max': 4, 'memory_max_mb': 8192, 'enforce': 'off', 'enforced': False}
    assert hv['hv-b']['vpe_free'] == {'cpu': 3, 'memory_mb': 7168}
    assert [(p['name'], p['max_gb'], p['used_gb']) for p in hv['hv-b']['vpe_pools']] == [('fast', 50, 0.0)]
    assert hv['hv-c']['vpe_free'] == {'cpu': 24, 'memory_mb': 65536}
    for name in ('hv-a', 'hv-b', 'hv-c'):  # the very bodies the shim serves
        shim = fleet[name]
        for var, path in (('vpe_pools', 'pools'), ('vpe_image_pool', 'image-pool'), ('vpe_network', 'network'),
                          ('vpe_quota', 'quota')):
            assert hv[name][var] == shim.request('GET', '/hypervisor/' + path, token='read').json()[path]
        assert hv[name]['vpe_shim_url'] == shim.url
    real = hv['hv-real']
    assert real['vpe_quota'] == {'cpu_max': 1, 'memory_max_mb': 1, 'enforce': 'off', 'enforced': False}
    assert real['vpe_free'] == {'cpu': 1 - real['vpe_usages']['cpu_used'],
                                'memory_mb': 1 - real['vpe_usages']['memory_used_mb']}
    assert hv['hv-dead']['vpe_error'].startswith('GET /hypervisor/usages: cannot connect: [Errno 111] Connection refused')
    for shim in fleet.values():
        assert shim.read_token not in output and shim.admin_token not in output


PLAY = '''\
- name: Place VMs on the shims' hosts
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    hypervisors: "{{ groups.vpe_hypervisors | map('extract', hostvars) | list }}"
  tasks:
    - name: Save the choices
      ansible.builtin.copy:
        dest: %(out)s
        content: "{{ choices | to_json }}"
      vars:
        choices:
          spread: "{{ hypervisors | vpe.hypervisor.placement(2, 2048) }}"
          pack: "{{ hypervisors | vpe.hypervisor.placement(2, 2048, strategy='pack') }}"
          pool: "{{ hypervisors | vpe.hypervisor.placement(vcpus=1, memory_mb=1024, pool='fast', disk_gb=10) }}"
          three: "{{ hypervisors | vpe.hypervisor.placements(three_vms) | map(attribute='host') | list }}"
        three_vms:
          - {name: web1, vcpus: 4, memory_mb: 8192}
          - {name: web2, vcpus: 4, memory_mb: 8192}
          - {name: web3, vcpus: 4, memory_mb: 8192}

    - name: Ask for more than any host has left
      ansible.builtin.debug:
        msg: "{{ hypervisors | vpe.hypervisor.placement(25, 1024) }}"
'''


def test_placement_in_a_playbook_respects_quotas_pools_and_unreachable_hosts(fleet, tmp_path):
    config = inventory_config(tmp_path, fleet, vpetest.free_port())
    out = tmp_path / 'choices.json'
    playbook = tmp_path / 'place.yml'
    playbook.write_text(PLAY % {'out': out})
    proc = subprocess.run([vpetest.ansible_bin('ansible-playbook'), '-i', str(config), str(playbook)],
                          env=vpetest.ansible_env(), capture_output=True, text=True, check=False, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert out.exists(), output
    choices = json.loads(out.read_text())
    # hv-a keeps 1/2 of its vCPU quota after a 2 vCPU VM, hv-c 0.48 of its memory, hv-b 1/4 of its vCPUs
    assert choices['spread'] == 'hv-a'
    assert choices['pack'] == 'hv-b'
    assert choices['pool'] == 'hv-b'  # the only host with pool "fast"
    # web1 and web2 tie at 3/8 left on hv-a and hv-c after web2; hv-c keeps more MiB; then hv-c is lower
    assert choices['three'] == ['hv-c', 'hv-c', 'hv-a']
    assert proc.returncode == 2, output
    refusal = ' '.join(output.split())
    expected = textwrap.dedent('''\
        no host has room for 25 vCPUs and 1024 MiB: hv-a: 10 vCPUs free of a quota of 16 (25 needed);
        hv-b: 3 vCPUs free of a quota of 4 (25 needed); hv-c: 24 vCPUs free of a quota of 32 (25 needed);''')
    assert ' '.join(expected.split()) in refusal
    # whatever runs on this machine's libvirtd, 1 MiB is never room for a VM
    assert re.search(r'hv-real: [01] vCPUs free of a quota of 1 \(25 needed\) and [01] MiB free of a quota of 1 '
                     r'\(1024 needed\)', refusal), refusal
    assert 'hv-dead: unreachable (GET /hypervisor/usages: cannot connect: [Errno 111] Connection refused' in refusal
