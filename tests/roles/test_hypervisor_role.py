"""The hypervisor role: check mode end to end on the real libvirtd changes
nothing, and meta/argument_specs.yml refuses bad variables before any task."""

import subprocess
import textwrap

import pytest

import vpetest
from role_helpers import recap, run_play

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd]


def play(root, hypervisor_vars):
    return textwrap.dedent('''\
        - name: Configure the hypervisor
          hosts: localhost
          gather_facts: false
          roles:
            - role: vpe.hypervisor.hypervisor
              vars:
                hypervisor_state_dir: {root}/state
                hypervisor_manage_packages: false
        ''').format(root=root) + textwrap.indent(textwrap.dedent(hypervisor_vars), ' ' * 8)


def pools():
    return subprocess.run(['virsh', '-c', vpetest.SYSTEM_URI, 'pool-list', '--all', '--name'], check=True,
                          capture_output=True, text=True).stdout.split()


def test_check_mode_reports_every_part_and_changes_nothing(tmp_path):
    root = tmp_path / 'root'
    rc, out = run_play(play(root, '''\
        hypervisor_quota: {cpu_max: 4096, memory_max_mb: 1048576}
        hypervisor_image_pool: {path: %s/images, max_gb: 3}
        hypervisor_pools:
          - {name: vpetest-rolecheck, path: %s/pools/a, max_gb: 2}
          - {name: vpetest-rolecheck-gone, state: absent}
        ''' % (root, root)), tmp_path, '--check', '--diff')
    assert rc == 0, out
    assert recap(out)['changed'] >= 3, out
    assert '"cpu_max": 4096' in out and '"name": "vpetest-rolecheck"' in out
    # no setting written, no directory made (the store's lock file may appear)
    assert not (root / 'state' / 'state.json').exists()
    assert not (root / 'images').exists() and not (root / 'pools').exists()
    assert 'vpetest-rolecheck' not in pools()


def test_argument_specs_refuse_bad_variables(tmp_path):
    rc, out = run_play(play(tmp_path / 'root', '''\
        hypervisor_quota: {cpu_max: many}
        hypervisor_pools:
          - {path: /srv/x, max_gb: 2, state: gone}
        '''), tmp_path, '--check')
    assert rc != 0
    assert 'Validating arguments against arg spec' in out
    assert 'cpu_max' in out and 'name' in out and 'state' in out
