"""The quota hook program, run as libvirtd runs it (the installed file, its
shebang, XML on stdin) against status, config and state files in temp dirs:
no libvirt. And its install, update and removal in a temp hooks dir."""

import json
import os
import subprocess

import pytest

from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import (
    quota, quota_apply, quota_hook, quota_hook_apply)
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, VpeError


def domain(name, vcpus=1, memory='65536', unit='KiB', current=None, uuid=None):
    vcpu_attr = " current='%d'" % current if current is not None else ''
    return ("<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory unit='%s'>%s</memory>"
            "<currentMemory unit='KiB'>1024</currentMemory><vcpu placement='static'%s>%d</vcpu>"
            "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><memory model='dimm'>"
            "<target><size unit='KiB'>999999</size></target></memory></devices></domain>"
            % (name, uuid or 'uuid-' + name, unit, memory, vcpu_attr, vcpus))


def status(name, **kwargs):
    """What libvirt keeps in /run/libvirt/qemu/NAME.xml for a running domain."""
    return ("<domstatus state='running' reason='booted' pid='4242'><monitor path='/x' type='unix'/>"
            "<qemuCaps><flag name='kvm'/></qemuCaps><memoryBackingDir path='/var/lib/libvirt/qemu/ram'/>%s"
            "</domstatus>" % domain(name, **kwargs).replace("<domain type='qemu'>", "<domain type='qemu' id='7'>"))


class Host:
    """A state dir, a run dir and a config dir, and the hook installed for them."""

    def __init__(self, tmp_path):
        self.root = tmp_path
        self.state_dir = tmp_path / 'state'
        self.run_dir = tmp_path / 'run'
        self.config_dir = tmp_path / 'etc'
        self.hooks_dir = tmp_path / 'hooks'
        for path in (self.state_dir, self.run_dir, self.config_dir):
            path.mkdir()
        self.hook = tmp_path / 'vpe-quota'
        self.hook.write_text(quota_hook_apply.program_text({
            'state_dir': str(self.state_dir), 'run_dir': str(self.run_dir), 'config_dir': str(self.config_dir),
            'host_cpus': 16, 'host_memory_mb': 32768}))
        self.hook.chmod(0o755)

    def quota(self, **quota_fields):
        (self.state_dir / 'state.json').write_text(json.dumps({'quota': quota_fields}))

    def running(self, name, **kwargs):
        (self.run_dir / (name + '.xml')).write_text(status(name, **kwargs))
        (self.run_dir / (name + '.pid')).write_text('4242')

    def defined(self, name, **kwargs):
        (self.config_dir / (name + '.xml')).write_text(domain(name, **kwargs))

    def start(self, xml, op='prepare', subop='begin', name='x'):
        return subprocess.run([str(self.hook), name, op, subop, '-'], input=xml, capture_output=True, text=True,
                              env={}, timeout=30, check=False)


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def test_running_two_fit_and_the_third_is_refused_naming_quota_limit_and_domains(host):
    host.quota(cpu_max=2, memory_max_mb=1024, enforce='running')
    host.running('a')
    host.defined('c')  # defined, not running: does not count in this mode
    assert host.start(domain('b')).returncode == 0
    host.running('b')
    refused = host.start(domain('c'))
    assert refused.returncode == 1
    assert refused.stdout == ''  # for migrate/restore, stdout would replace the domain XML
    assert refused.stderr == (
        'vpe-quota: refusing to start c (1 vCPUs, 64 MiB): the quota (cpu_max 2, memory_max_mb 1024, '
        'enforce running, state_dir %s) would be exceeded: 3 vCPUs > cpu_max 2. '
        'Running now: 2 domain(s) with 2 vCPUs, 128 MiB: a, b.\n' % host.state_dir)


def test_memory_counts_in_the_units_libvirt_writes(host):
    host.quota(cpu_max=64, memory_max_mb=1024, enforce='running')
    host.running('a', memory='512', unit='MiB')
    assert host.start(domain('b', memory='536870912', unit='b')).returncode == 0  # 512 MiB: exactly 1024
    refused = host.start(domain('b', memory='536871936', unit='b'))
    assert refused.returncode == 1 and '1024 MiB > memory_max_mb 1024' in refused.stderr  # 1 KiB over
    assert 'cpu_max' in refused.stderr and 'vCPUs >' not in refused.stderr


def test_the_current_vcpu_count_is_what_counts(host):
    host.quota(cpu_max=4, enforce='running')
    host.running('a', vcpus=8, current=2)
    assert host.start(domain('b', vcpus=2)).returncode == 0
    assert host.start(domain('b', vcpus=3)).returncode == 1


def test_defined_counts_every_defined_domain_once(host):
    host.quota(cpu_max=3, memory_max_mb=4096, enforce='defined')
    host.defined('a')
    host.defined('b', vcpus=2)
    host.running('b', vcpus=2)          # persistent and running: once, live definition
    host.running('t')                   # transient: no config, counts
    refused = host.start(domain('c'))   # a 1 + b 2 + t 1 + c 1 = 5
    assert refused.returncode == 1
    assert 'refusing to start c' in refused.stderr and '5 vCPUs > cpu_max 3' in refused.stderr
    assert 'Defined now: 3 domain(s) with 4 vCPUs, 192 MiB: a, b, t.' in refused.stderr


def test_the_starting_domain_counts_once_even_with_its_own_files_present(host):
    host.quota(cpu_max=2, enforce='defined')
    host.defined('a')
    host.defined('b')
    host.running('b')  # a leftover status file of the starting domain
    assert host.start(domain('b'), name='b').returncode == 0
    # and with a bigger definition on stdin, that is what counts
    refused = host.start(domain('b', vcpus=2), name='b')
    assert refused.returncode == 1 and '3 vCPUs > cpu_max 2' in refused.stderr


@pytest.mark.parametrize('op, subop', [('migrate', 'begin'), ('restore', 'begin'), ('prepare', 'begin')])
def test_an_incoming_migration_and_a_restore_count_like_a_start(host, op, subop):
    host.quota(cpu_max=1, enforce='running')
    host.running('a')
    refused = host.start(domain('b'), op=op, subop=subop)
    assert refused.returncode == 1 and refused.stdout == ''


@pytest.mark.parametrize('op, subop', [('start', 'begin'), ('started', 'begin'), ('stopped', 'end'),
                                       ('release', 'end'), ('reconnect', 'begin'), ('attach', 'begin')])
def test_other_operations_pass_without_a_word(host, op, subop):
    host.quota(cpu_max=1, enforce='running')
    host.running('a')
    passed = host.start(domain('b'), op=op, subop=subop)
    assert (passed.returncode, passed.stdout, passed.stderr) == (0, '', '')


def test_off_lets_everything_start(host):
    host.quota(cpu_max=1, enforce='off')
    host.running('a')
    assert host.start(domain('b', vcpus=8)).returncode == 0


def test_a_limit_never_set_is_the_host_size_at_install(host):
    host.quota(enforce='running')  # host_cpus 16 in this hook's settings
    host.running('a', vcpus=10)
    assert host.start(domain('b', vcpus=6)).returncode == 0
    refused = host.start(domain('b', vcpus=7))
    assert refused.returncode == 1 and '17 vCPUs > cpu_max 16' in refused.stderr


@pytest.mark.parametrize('content, reason', [
    ('{"quota": {"cpu_max": 1, "enforce": "running"', 'is not valid JSON'),
    ('[]', 'holds no quota object'),
    ('{"quota": {"cpu_max": "1", "enforce": "running"}}', "quota.cpu_max is '1', not an integer >= 1"),
    ('{"quota": {"cpu_max": 1, "enforce": "always"}}', "quota.enforce is 'always'"),
    (None, 'cannot read'),
])
def test_a_broken_state_file_fails_open_and_says_why(host, content, reason):
    if content is not None:
        (host.state_dir / 'state.json').write_text(content)
    host.running('a', vcpus=4)
    passed = host.start(domain('b', vcpus=4))
    assert passed.returncode == 0
    assert passed.stderr.startswith('vpe-quota: quota not enforced for this start (failing open): ')
    assert reason in passed.stderr
    logged = (host.state_dir / 'quota-hook.log').read_text()
    assert 'quota not enforced for this start (failing open)' in logged and reason in logged


def test_unreadable_starting_xml_fails_open(host):
    host.quota(cpu_max=1, enforce='running')
    passed = host.start('<domain><name>b</name>')
    assert passed.returncode == 0 and 'cannot read the starting domain' in passed.stderr


def test_a_status_file_that_does_not_parse_is_skipped_and_logged(host):
    host.quota(cpu_max=2, enforce='running')
    host.running('a')
    (host.run_dir / 'broken.xml').write_text('<domstatus><domain>')
    passed = host.start(domain('b'))
    assert passed.returncode == 0 and 'skipping %s' % (host.run_dir / 'broken.xml') in passed.stderr


def test_name_prefix_keeps_to_its_own_domains(host, tmp_path):
    text = quota_hook_apply.program_text({'state_dir': str(host.state_dir), 'run_dir': str(host.run_dir),
                                          'config_dir': str(host.config_dir), 'name_prefix': 'mine-'})
    host.hook.write_text(text)
    host.quota(cpu_max=1, memory_max_mb=1024, enforce='running')
    host.running('other', vcpus=8)
    host.running('mine-a')
    assert host.start(domain('other2', vcpus=8)).returncode == 0      # not ours: never refused
    refused = host.start(domain('mine-b'))                            # ours: counts only mine-a
    assert refused.returncode == 1 and 'Running now: 1 domain(s) with 1 vCPUs, 64 MiB: mine-a.' in refused.stderr


# -- install, update, remove ---------------------------------------------------

NEW_LIBVIRT = 9000000
OLD_LIBVIRT = 6000000


def test_install_update_remove_in_the_drop_in_dir(tmp_path):
    hooks = str(tmp_path / 'hooks')
    state = str(tmp_path / 'state')
    action, path = quota_hook_apply.ensure(state, 'running', NEW_LIBVIRT, check_mode=True, hooks_dir=hooks)
    assert (action, path) == ('installed', os.path.join(hooks, 'qemu.d', 'vpe-quota'))
    assert not os.path.exists(path)
    assert quota_hook_apply.ensure(state, 'running', NEW_LIBVIRT, hooks_dir=hooks) == ('installed', path)
    assert os.stat(path).st_mode & 0o777 == 0o755
    assert quota_hook.installed(hooks) == (path, {'state_dir': state})
    assert quota_hook_apply.ensure(state, 'defined', NEW_LIBVIRT, hooks_dir=hooks) == (None, path)
    os.utime(path, (1000, 1000))
    assert quota_hook_apply.ensure(state, 'running', NEW_LIBVIRT, hooks_dir=hooks,
                                   extra_settings={'host_cpus': 4}) == ('updated', path)
    assert os.stat(path).st_mtime == 1000  # libvirtd already runs it: still "loaded"
    assert quota_hook_apply.ensure(state, 'off', NEW_LIBVIRT, check_mode=True, hooks_dir=hooks) == ('removed', path)
    assert os.path.exists(path)
    assert quota_hook_apply.ensure(state, 'off', NEW_LIBVIRT, hooks_dir=hooks) == ('removed', path)
    assert os.listdir(os.path.join(hooks, 'qemu.d')) == []
    assert quota_hook_apply.ensure(state, 'off', NEW_LIBVIRT, hooks_dir=hooks) == (None, None)


def test_old_libvirt_gets_the_single_hook_but_never_over_someone_elses(tmp_path):
    hooks = tmp_path / 'hooks'
    state = str(tmp_path / 'state')
    action, path = quota_hook_apply.ensure(state, 'running', OLD_LIBVIRT, hooks_dir=str(hooks))
    assert (action, path) == ('installed', str(hooks / 'qemu'))
    # libvirt upgraded: the drop-in takes over and the single hook goes
    assert quota_hook_apply.ensure(state, 'running', NEW_LIBVIRT, hooks_dir=str(hooks))[0] == 'installed'
    assert not (hooks / 'qemu').exists() and (hooks / 'qemu.d' / 'vpe-quota').exists()
    quota_hook_apply.ensure(state, 'off', NEW_LIBVIRT, hooks_dir=str(hooks))
    (hooks / 'qemu').write_text('#!/bin/sh\nexit 0\n')
    with pytest.raises(Conflict) as caught:
        quota_hook_apply.ensure(state, 'running', OLD_LIBVIRT, hooks_dir=str(hooks))
    assert caught.value.field == 'enforce' and 'is not the vpe quota hook' in caught.value.detail
    assert (hooks / 'qemu').read_text() == '#!/bin/sh\nexit 0\n'


def test_apply_installs_before_writing_state_and_reports_the_restart(test_ctx, state_dir, tmp_path):
    hooks = str(tmp_path / 'hooks')
    change, hook = test_ctx.run(quota_apply.apply_with_hook, {'cpu_max': 8, 'enforce': 'running'}, hooks_dir=hooks)
    assert change.changed and change.after == {'cpu_max': 8, 'memory_max_mb': 3072, 'enforce': 'running',
                                               'enforced': False}
    assert hook == {'hook_action': 'installed', 'hook_path': os.path.join(hooks, 'qemu.d', 'vpe-quota'),
                    'libvirtd_restart_needed': True}
    settings = quota_hook.installed(hooks)[1]
    assert settings == {'state_dir': str(state_dir), 'host_cpus': 16, 'host_memory_mb': 3072}
    assert json.loads((state_dir / 'state.json').read_text()) == {'quota': {'cpu_max': 8, 'enforce': 'running'}}
    again, hook = test_ctx.run(quota_apply.apply_with_hook, {'enforce': 'running'}, hooks_dir=hooks)
    assert not again.changed and hook['hook_action'] is None
    off, hook = test_ctx.run(quota_apply.apply_with_hook, {'enforce': 'off'}, hooks_dir=hooks)
    assert off.changed and hook == {'hook_action': 'removed', 'hook_path': None, 'libvirtd_restart_needed': False}
    assert quota_hook.installed(hooks) == (None, None)


def test_a_hook_that_cannot_be_written_changes_nothing(test_ctx, state_dir, tmp_path):
    hooks = tmp_path / 'hooks'
    hooks.write_text('a file where the directory should be')
    with pytest.raises(VpeError) as caught:
        test_ctx.run(quota_apply.apply, {'cpu_max': 8, 'enforce': 'running'}, hooks_dir=str(hooks))
    assert caught.value.field == 'enforce' and 'cannot write the quota hook' in caught.value.detail
    assert not (state_dir / 'state.json').exists()


def test_enforced_needs_the_hook_for_this_state_dir_taken_in_by_libvirtd(test_ctx, state_dir, tmp_path, monkeypatch):
    hooks = str(tmp_path / 'hooks')
    test_ctx.run(quota_apply.apply, {'enforce': 'defined'}, hooks_dir=hooks)
    pidfile = tmp_path / 'libvirtd.pid'
    monkeypatch.setattr(quota_hook, 'DAEMON_PID_FILES', (str(pidfile),))
    pidfile.write_text('1')
    os.utime(str(pidfile), (1, 1))  # libvirtd started before the hook was installed
    assert test_ctx.run(quota.read, hooks)['enforced'] is False
    os.utime(str(pidfile), None)   # restarted since
    assert test_ctx.run(quota.read, hooks) == {'cpu_max': 16, 'memory_max_mb': 3072, 'enforce': 'defined',
                                               'enforced': True}
    assert quota_hook.enforced(str(tmp_path / 'other-state'), 'defined', hooks) is False


def test_a_name_outside_ascii_is_judged_not_failed_open(host):
    host.quota(cpu_max=1, enforce='running')
    host.running('a')
    refused = subprocess.run([str(host.hook), 'b', 'prepare', 'begin', '-'],
                             input=domain('vm-\u00e9t\u00e9').encode('utf-8'), capture_output=True, env={}, timeout=30,
                             check=False)
    assert refused.returncode == 1
    assert 'refusing to start vm-\u00e9t\u00e9' in refused.stderr.decode('utf-8')


def test_a_start_in_progress_counts_until_its_status_file_appears(host):
    """Two starts at once: the second sees the first, admitted but not yet
    in the run dir (libvirt writes the status file after prepare begin)."""
    host.quota(cpu_max=2, enforce='running')
    host.running('a')
    assert host.start(domain('b')).returncode == 0
    refused = host.start(domain('c'))
    assert refused.returncode == 1 and 'Running now: 2 domain(s) with 2 vCPUs, 128 MiB: a, b.' in refused.stderr
    host.running('b')  # now b counts from its status file, once
    assert 'Running now: 2 domain(s)' in host.start(domain('c')).stderr


def test_a_start_that_failed_is_released(host):
    host.quota(cpu_max=2, enforce='running')
    host.running('a')
    assert host.start(domain('b')).returncode == 0
    assert host.start(domain('b'), op='release', subop='end', name='b').returncode == 0  # qemu did not come up
    assert host.start(domain('c')).returncode == 0
    assert not (host.state_dir / 'quota-hook-starts.json').exists() or 'uuid-b' not in (
        host.state_dir / 'quota-hook-starts.json').read_text()


def test_a_reservation_older_than_a_minute_is_dropped(host):
    host.quota(cpu_max=2, enforce='running')
    host.running('a')
    assert host.start(domain('b')).returncode == 0
    pending = host.state_dir / 'quota-hook-starts.json'
    entries = json.loads(pending.read_text())
    entries['uuid-b']['at'] -= 61
    pending.write_text(json.dumps(entries))
    assert host.start(domain('c')).returncode == 0


def test_the_settings_line_is_where_a_read_looks_for_it(tmp_path):
    text = quota_hook_apply.program_text({'state_dir': '/var/lib/vpe', 'host_cpus': 2, 'host_memory_mb': 1024})
    assert text.index(quota_hook.SETTINGS_PREFIX + '{') < quota_hook.HEAD_BYTES - 1024
