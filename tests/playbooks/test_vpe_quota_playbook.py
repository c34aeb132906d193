"""vpe_quota and vpe_facts run by ansible-playbook / ansible on localhost,
against the real libvirtd, each test with its own state_dir."""

import json
import os
import subprocess

import pytest

import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_hook

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd]


def quota_task(state_dir, name, register, extra=''):
    return '''
    - name: {name}
      vpe.hypervisor.vpe_quota:
        state_dir: {state_dir}
        {extra}
      register: {register}
      ignore_errors: true
    '''.format(name=name, state_dir=state_dir, register=register, extra=extra)


def test_check_mode_reports_a_change_and_changes_nothing(tmp_path):
    state = tmp_path / 'state'
    rc, results, out = vpetest.run_playbook(quota_task(state, 'Set quota', 'r_check', 'cpu_max: 64'), check=True)
    assert rc == 0, out
    assert results['r_check']['changed'] is True
    assert results['r_check']['quota']['cpu_max'] == 64
    assert not (state / 'state.json').exists()


def test_apply_then_second_apply_is_unchanged_with_diff(tmp_path):
    state = tmp_path / 'state'
    tasks = (quota_task(state, 'Set quota', 'r_first', 'cpu_max: 64\n        memory_max_mb: 65536')
             + quota_task(state, 'Set it again', 'r_second', 'cpu_max: 64\n        memory_max_mb: 65536'))
    rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out
    first, second = results['r_first'], results['r_second']
    assert first['changed'] is True
    assert first['diff']['after'] == {'cpu_max': 64, 'memory_max_mb': 65536, 'enforce': 'off', 'enforced': False}
    assert first['diff']['before'] != first['diff']['after']
    assert second['changed'] is False
    assert second['diff']['before'] == second['diff']['after']
    assert json.loads((state / 'state.json').read_text())['quota'] == {'cpu_max': 64, 'memory_max_mb': 65536}
    # the diff is rendered for a person, not only returned
    shown = out.split('TASK [Set quota]')[1].split('TASK [Set it again]')[0]
    assert '+    "cpu_max": 64,' in shown and '-    "cpu_max": ' in shown


def test_below_allocation_fails_naming_the_allocation(tmp_path, domains):
    domains.define('pb-alloc', vcpus=8, memory_mib=128)  # more than the host's CPUs
    used = vpetest.virsh_allocation()['cpu_used']
    state = tmp_path / 'state'
    rc, results, out = vpetest.run_playbook(quota_task(state, 'Too low', 'r_low', 'cpu_max: %d' % (used - 1)))
    low = results['r_low']
    assert low['failed'] is True
    assert low['status'] == 409
    assert 'below the %d vCPUs already allocated' % used in low['msg']
    assert low['allocated']['cpu_used'] == used
    assert not (state / 'state.json').exists()


def test_partial_update_keeps_the_other_value(tmp_path):
    state = tmp_path / 'state'
    tasks = (quota_task(state, 'Both', 'r_both', 'cpu_max: 48\n        memory_max_mb: 40960')
             + quota_task(state, 'Memory only', 'r_mem', 'memory_max_mb: 50000'))
    rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out
    off = {'enforce': 'off', 'enforced': False}
    assert results['r_mem']['quota'] == dict(off, cpu_max=48, memory_max_mb=50000)
    assert results['r_mem']['diff']['before'] == dict(off, cpu_max=48, memory_max_mb=40960)


def test_module_defaults_group_sets_uri_for_every_module(tmp_path):
    state = tmp_path / 'state'
    tasks = '''
    - name: Quota on the test driver through the group defaults
      vpe.hypervisor.vpe_quota:
        cpu_max: 7
      register: r_quota
    - name: Facts through the group defaults
      vpe.hypervisor.vpe_facts:
      register: r_facts
    '''
    play_extra = '''
    module_defaults:
      group/vpe.hypervisor.all:
        uri: test:///default
        state_dir: {state}
    '''.format(state=state)
    rc, results, out = vpetest.run_playbook(tasks, play_extra=play_extra)
    assert rc == 0, out
    # test:///default has 16 CPUs and one domain with 2 vCPUs: only the URI explains these numbers
    usages = results['r_facts']['ansible_facts']['vpe']['usages']
    assert usages == {'instances': 1, 'cpu_used': 2, 'memory_used_mb': 8192, 'cpu_total': 7,
                      'memory_total_mb': 3072}


def test_bad_value_fails_naming_the_field(tmp_path):
    state = tmp_path / 'state'
    rc, results, out = vpetest.run_playbook(quota_task(state, 'Zero', 'r_zero', 'cpu_max: 0'))
    assert results['r_zero']['failed'] is True
    assert results['r_zero']['status'] == 400
    assert results['r_zero']['field'] == 'cpu_max'
    assert 'cpu_max must be >= 1' in results['r_zero']['msg']


def test_adhoc_facts_match_virsh(tmp_path, domains):
    domains.define('adhoc-a', vcpus=2, memory_mib=96)
    domains.define('adhoc-b', vcpus=1, memory_mib=64, running=True)
    proc = subprocess.run(
        [vpetest.ansible_bin('ansible'), 'localhost', '-c', 'local', '-i', 'localhost,', '-m',
         'vpe.hypervisor.vpe_facts', '-a', 'state_dir=%s' % (tmp_path / 'state')],
        env=vpetest.ansible_env({'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1', 'ANSIBLE_STDOUT_CALLBACK': 'minimal'}),
        capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout.split('=>', 1)[1])
    usages = doc['ansible_facts']['vpe']['usages']
    counted = vpetest.virsh_allocation()
    assert {k: usages[k] for k in counted} == counted
    assert usages['instances'] >= 2


def test_docs_render(tmp_path):
    for module in ('vpe_quota', 'vpe_facts'):
        proc = subprocess.run([vpetest.ansible_bin('ansible-doc'), 'vpe.hypervisor.' + module],
                              env=vpetest.ansible_env(), capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert 'state_dir' in proc.stdout and 'EXAMPLES' in proc.stdout
        assert 'WARNING' not in proc.stderr, proc.stderr


@pytest.fixture
def no_hook_after():
    """The hook goes to the real /etc/libvirt/hooks: remove it (and the
    directories it brought) whatever happens. libvirtd is not restarted, so
    it never runs, and the limits are huge anyway."""
    made = [d for d in (quota_hook.HOOKS_DIR, os.path.dirname(quota_hook.dropin_path())) if not os.path.isdir(d)]
    yield
    if quota_hook.settings_of(quota_hook.dropin_path()) is not None:
        os.unlink(quota_hook.dropin_path())
    for directory in reversed(made):
        if os.path.isdir(directory) and not os.listdir(directory):
            os.rmdir(directory)


def test_enforce_installs_the_hook_says_restart_and_off_removes_it(tmp_path, no_hook_after):
    state = tmp_path / 'state'
    on = 'cpu_max: 65536\n        memory_max_mb: 2147483647\n        force: true\n        enforce: running'
    facts = """
    - name: Facts
      vpe.hypervisor.vpe_facts:
        state_dir: {state}
        gather: [quota]
      register: r_facts
""".format(state=state)
    tasks = (quota_task(state, 'Check', 'r_check', on).replace('register:', 'check_mode: true\n      register:')
             + quota_task(state, 'Enforce', 'r_on', on)
             + quota_task(state, 'Again', 'r_again', on)
             + facts
             + quota_task(state, 'Off, unquoted YAML', 'r_off', 'enforce: off'))
    rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out
    hook = quota_hook.dropin_path()
    check, on_, again, off = results['r_check'], results['r_on'], results['r_again'], results['r_off']
    assert check['changed'] and check['libvirtd_restart_needed'] is True and check['hook_path'] == hook
    assert on_['changed'] and on_['libvirtd_restart_needed'] is True
    assert on_['diff']['after'] == {'cpu_max': 65536, 'memory_max_mb': 2147483647, 'enforce': 'running',
                                    'enforced': False}
    # unchanged, but libvirtd has still not restarted since the hook came
    assert not again['changed'] and again['libvirtd_restart_needed'] is True
    assert results['r_facts']['ansible_facts']['vpe']['quota']['enforce'] == 'running'
    assert off['changed'] and off['quota']['enforce'] == 'off' and off['libvirtd_restart_needed'] is False
    assert off['hook_path'] is None and not os.path.exists(hook)


def test_the_installed_hook_is_the_program_with_its_settings(tmp_path, no_hook_after):
    """Shipped in the module's payload, read back from it, and runnable as is."""
    state = tmp_path / 'state'
    rc, results, out = vpetest.run_playbook(quota_task(state, 'Enforce', 'r_on', 'enforce: defined\n        force: true'))
    assert rc == 0, out
    text = open(quota_hook.dropin_path()).read()
    assert text.startswith('#!/usr/bin/python3 -IS\n' + quota_hook.MARKER + '\n')
    assert quota_hook.settings_of(quota_hook.dropin_path())['state_dir'] == str(state)
    ran = subprocess.run([quota_hook.dropin_path(), 'x', 'started', 'begin', '-'], input='', capture_output=True,
                         text=True, env={}, check=False)
    assert (ran.returncode, ran.stderr) == (0, '')


def test_a_bad_enforce_value_fails_naming_the_choices(tmp_path):
    state = tmp_path / 'state'
    rc, results, out = vpetest.run_playbook(quota_task(state, 'Bad', 'r_bad', 'enforce: always'))
    assert results['r_bad']['failed'] is True
    assert 'enforce' in results['r_bad']['msg'] and 'off, running, defined' in results['r_bad']['msg']
    assert not (state / 'state.json').exists()
