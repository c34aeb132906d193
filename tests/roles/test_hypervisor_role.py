"""The hypervisor role: check mode end to end on the real libvirtd changes
nothing, a real run makes the image store and the pools in one vpe_host task
and a second run changes nothing, a bad value in any part fails before any
part is applied, and meta/argument_specs.yml refuses bad variables before any
task."""

import os
import subprocess
import textwrap

import pytest

import vpetest
from role_helpers import recap, run_play
from storage_helpers import pool_path, remove_test_pools
from storage_helpers import image_store_guard  # noqa: F401 pylint: disable=unused-import

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
    assert recap(out)['changed'] == 1, out
    assert '"cpu_max": 4096' in out and '"name": "vpetest-rolecheck"' in out
    # one diff per part and per pool (the absent pool's is empty on both sides, so not shown)
    assert '+++ after: quota' in out and '+++ after: image_pool' in out
    assert '+++ after: pools[0] vpetest-rolecheck' in out
    # no setting written, no directory made (the store's lock file may appear)
    assert not (root / 'state' / 'state.json').exists()
    assert not (root / 'images').exists() and not (root / 'pools').exists()
    assert 'vpetest-rolecheck' not in pools()


def test_apply_runs_one_task_for_the_image_store_and_all_pools(tmp_path, image_store_guard):
    root = tmp_path / 'root'
    names = ['vpetest-roleapply-%d' % i for i in range(1, 4)]
    hypervisor_vars = 'hypervisor_image_pool: {path: %s/images, max_gb: 3}\nhypervisor_pools:\n' % root
    hypervisor_vars += ''.join('  - {name: %s, path: %s/pools/%s, max_gb: 2}\n' % (n, root, n) for n in names)
    try:
        rc, out = run_play(play(root, hypervisor_vars), tmp_path, '--diff')
        assert rc == 0, out
        assert recap(out)['changed'] == 1, out
        # the image store directory is made by vpe_host, and the pools, in one module run
        assert (root / 'images').is_dir() and pool_path('vpe-image-store') == str(root / 'images')
        assert set(names) <= set(pools()) and all((root / 'pools' / n).is_dir() for n in names)
        assert out.count('TASK [vpe.hypervisor.hypervisor : Configure the hypervisor]') == 1
        assert 'item=' not in out

        rc, out = run_play(play(root, hypervisor_vars), tmp_path)
        assert rc == 0, out
        # what ran: the variables' check and the one host task (no packages here)
        assert (recap(out)['ok'], recap(out)['changed'], recap(out)['skipped']) == (2, 0, 1), out
    finally:
        remove_test_pools(prefixes=('vpetest-roleapply-',))


def test_a_bad_value_in_any_part_fails_before_any_part_is_applied(tmp_path):
    """The quota and the first pool are good; the second pool's max_gb is 0,
    which only vpe_host's check knows (the argument spec checks types)."""
    root = tmp_path / 'root'
    rc, out = run_play(play(root, '''\
        hypervisor_quota: {cpu_max: 4096, memory_max_mb: 1048576}
        hypervisor_image_pool: {path: %s/images, max_gb: 3}
        hypervisor_pools:
          - {name: vpetest-rolebad-a, path: %s/pools/a, max_gb: 2}
          - {name: vpetest-rolebad-b, path: %s/pools/b, max_gb: 0}
        ''' % (root, root, root)), tmp_path)
    assert rc != 0
    assert '"field": "pools[1].max_gb"' in out and 'max_gb must be >= 1, got 0' in out, out
    assert not (root / 'state' / 'state.json').exists()
    assert not (root / 'images').exists() and not (root / 'pools').exists()
    assert not [p for p in pools() if p.startswith('vpetest-rolebad-')]


def test_argument_specs_refuse_bad_variables(tmp_path):
    rc, out = run_play(play(tmp_path / 'root', '''\
        hypervisor_quota: {cpu_max: many}
        hypervisor_pools:
          - {path: /srv/x, max_gb: 2, state: gone}
        '''), tmp_path, '--check')
    assert rc != 0
    assert 'Validating arguments against arg spec' in out
    assert 'cpu_max' in out and 'name' in out and 'state' in out


RESTART_SCRIPT = '''#!/bin/sh
# libvirtd restarted by its pid, as the handler's command on a host without a
# service manager; leaves a mark so the test knows the handler ran.
set -e
pid=$(cat /run/libvirtd.pid)
kill "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
libvirtd -d
for _ in $(seq 1 100); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.1; done
echo restarted >> "$1"
'''


def test_enforce_installs_the_hook_and_the_handler_restarts_libvirtd_once(tmp_path):
    """The limits are huge: the hook, once libvirtd runs it, refuses nobody
    else's domain on this shared daemon; it is removed whatever happens."""
    from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_hook
    root = tmp_path / 'root'
    script = tmp_path / 'restart-libvirtd.sh'
    script.write_text(RESTART_SCRIPT)
    mark = tmp_path / 'restarted'
    made = [d for d in (quota_hook.HOOKS_DIR, os.path.dirname(quota_hook.dropin_path())) if not os.path.isdir(d)]

    def hypervisor_vars(enforce):
        return '''\
            hypervisor_quota: {cpu_max: 65536, memory_max_mb: 2147483647, enforce: %s, force: true}
            hypervisor_libvirtd_restart_command: [sh, %s, %s]
            ''' % (enforce, script, mark)
    try:
        rc, out = run_play(play(root, hypervisor_vars('running')), tmp_path, '--diff')
        assert rc == 0, out
        assert 'RUNNING HANDLER [vpe.hypervisor.hypervisor : Restart libvirtd with the given command]' in out
        assert mark.read_text() == 'restarted\n'
        assert quota_hook.settings_of(quota_hook.dropin_path())['state_dir'] == str(root / 'state')
        assert quota_hook.enforced(str(root / 'state'), 'running')  # libvirtd started after the hook came

        rc, out = run_play(play(root, hypervisor_vars('running')), tmp_path)
        assert rc == 0, out
        assert recap(out)['changed'] == 0 and 'RUNNING HANDLER' not in out, out

        rc, out = run_play(play(root, hypervisor_vars('off')), tmp_path)  # unquoted: YAML's false
        assert rc == 0, out
        assert recap(out)['changed'] == 1, out
        assert not os.path.exists(quota_hook.dropin_path())
        assert mark.read_text() == 'restarted\n'  # notified, but no restart for a removal
    finally:
        if quota_hook.settings_of(quota_hook.dropin_path()) is not None:
            os.unlink(quota_hook.dropin_path())
        for directory in reversed(made):
            if os.path.isdir(directory) and not os.listdir(directory):
                os.rmdir(directory)
