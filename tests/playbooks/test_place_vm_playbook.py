"""playbooks/place_vm.yml with playbooks' own inventory plugin, as a user
runs it: the host is chosen from the shims, the VM is defined there with
community.libvirt.virt, and the host's usages are shown afterwards.

The fleet: hv-real, a shim on the real libvirtd with a quota far above what
runs here; hv-full, a shim on a test-driver host with 1 vCPU left; and a
dead address. Without community.libvirt (CI has no Galaxy), the playbook
runs in check mode and shows the XML it would define. With it (the `ansible`
package in bench/out/.venv-peer, `make bench-peer-venv`, or a collections
path in VPE_COMMUNITY_LIBVIRT_PATH) the VM is defined for real too.
"""

import json
import os
import subprocess
from pathlib import Path

import libvirt
import pytest

import vpetest
from inventory_helpers import driver_node, write_config

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd]

PLAYBOOK = vpetest.REPO / 'playbooks' / 'place_vm.yml'
VM = vpetest.PREFIX + 'inv-place'
PEER = vpetest.REPO / 'bench' / 'out' / '.venv-peer'


def community_libvirt():
    """(collections path, python with libvirt and lxml) where community.libvirt is installed, or None."""
    paths = [os.environ.get('VPE_COMMUNITY_LIBVIRT_PATH')] + [str(p) for p in PEER.glob('lib/python3*/site-packages')]
    for path in filter(None, paths):
        if (Path(path) / 'ansible_collections' / 'community' / 'libvirt' / 'plugins' / 'modules' / 'virt.py').exists():
            python = os.environ.get('VPE_COMMUNITY_LIBVIRT_PYTHON') or str(PEER / 'bin' / 'python')
            return path, python
    return None


@pytest.fixture
def fleet(tmp_path):
    shims = {}
    try:
        (tmp_path / 'hv-real').mkdir()
        shims['hv-real'] = vpetest.Shim(tmp_path / 'hv-real')
        put = shims['hv-real'].request('PUT', '/hypervisor/quota', headers={'Content-Type': 'application/json'},
                                       data=json.dumps({'quota': {'cpu_max': 4096, 'memory_max_mb': 4194304}}))
        assert put.status_code == 200, put.text
        (tmp_path / 'hv-full').mkdir()
        shims['hv-full'] = vpetest.Shim(tmp_path / 'hv-full', uri=driver_node(
            tmp_path / 'hv-full' / 'node.xml', 4, 8192, [('full', 3, 4096)]))
        yield shims
    finally:
        for shim in shims.values():
            shim.stop()
        conn = libvirt.open(vpetest.SYSTEM_URI)
        vpetest.remove_domain(conn, VM)
        conn.close()


def run_place_vm(tmp_path, shims, check, collections=None, python=None):
    hosts = []
    for name, shim in shims.items():
        token_file = tmp_path / ('%s.token' % name)
        token_file.write_text(shim.read_token)
        hosts.append({'name': name, 'url': shim.url, 'token_file': str(token_file)})
    hosts.append({'name': 'hv-dead', 'url': 'http://127.0.0.1:%d' % vpetest.free_port(), 'token': 'x' * 32})
    compose = {'ansible_connection': "'local'"}
    if python:
        compose['ansible_python_interpreter'] = "'%s'" % python  # community.libvirt needs lxml on the host
    config = write_config(tmp_path, hosts, compose=compose)
    cmd = [vpetest.ansible_bin('ansible-playbook'), '-i', str(config), str(PLAYBOOK),
           '-e', 'vm_name=%s' % VM, '-e', 'vm_vcpus=1', '-e', 'vm_memory_mb=64', '-e', 'vm_domain_type=qemu']
    if check:
        cmd.append('--check')
    record = tmp_path / 'results.json'
    env = {'ANSIBLE_CALLBACK_PLUGINS': str(Path(__file__).parent / 'callback'), 'ANSIBLE_CALLBACKS_ENABLED': 'vpe_record',
           'VPE_RECORD_FILE': str(record)}
    if collections:
        env['ANSIBLE_COLLECTIONS_PATH'] = '%s:%s' % (vpetest.COLLECTIONS, collections)
    proc = subprocess.run(cmd, env=vpetest.ansible_env(env), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    return json.loads(record.read_text())


def defined_domains():
    return subprocess.run(['virsh', '-c', vpetest.SYSTEM_URI, 'list', '--all', '--name'], capture_output=True,
                          text=True, check=True).stdout.split()


def usages_after(tasks):
    return tasks['Show the chosen host\'s usages']['localhost']['msg']


def test_without_community_libvirt_the_check_run_chooses_and_shows_the_vm(fleet, tmp_path):
    tasks = run_place_vm(tmp_path, fleet, check=True)
    assert tasks['Choose the host with the most room for the VM']['localhost']['ansible_facts']['vm_host'] == 'hv-real'
    said = tasks['Say where it goes and what the host had before']['localhost']['msg']
    assert said.startswith('%s goes on hv-real, which had ' % VM)
    shown = tasks['Show what would be defined without community.libvirt']['hv-real']['msg']
    assert shown[0].startswith('community.libvirt is not installed; nothing was defined')
    assert '<name>%s</name>' % VM in shown[1] and '<vcpu>1</vcpu>' in shown[1] and "unit='MiB'>64<" in shown[1]
    assert VM not in defined_domains()
    assert usages_after(tasks).startswith('hv-real now: ')


@pytest.mark.skipif(community_libvirt() is None, reason='community.libvirt is not installed '
                    '(make bench-peer-venv, or VPE_COMMUNITY_LIBVIRT_PATH)')
def test_with_community_libvirt_the_vm_is_defined_on_the_chosen_host(fleet, tmp_path):
    collections, python = community_libvirt()
    checked = run_place_vm(tmp_path, fleet, check=True, collections=collections, python=python)
    assert checked['Define the VM']['hv-real']['changed'] is True
    assert VM not in defined_domains()

    tasks = run_place_vm(tmp_path, fleet, check=False, collections=collections, python=python)
    assert tasks['Define the VM']['hv-real']['created'] == VM
    conn = libvirt.open(vpetest.SYSTEM_URI)
    try:
        info = conn.lookupByName(VM).info()
    finally:
        conn.close()
    assert (info[1] // 1024, info[3]) == (64, 1)  # MiB, vCPUs as asked
    # the shim counts it: the usages shown afterwards come from the refreshed inventory
    before = tasks['Say where it goes and what the host had before']['localhost']['msg']
    after = usages_after(tasks)
    assert 'hv-real now: ' in after
    counted = vpetest.virsh_allocation()
    assert after.startswith('hv-real now: %d domains, %d of 4096 vCPUs and %d of 4194304 MiB allocated' % (
        counted['instances'], counted['cpu_used'], counted['memory_used_mb'])), (before, after, counted)
