"""Commit-confirmed network changes for real, in namespaces made here: the
watchdog (a detached process here: this machine has no systemd as PID 1; the
lab runs the systemd path) reverts an unconfirmed change by itself, a
confirmed one stays, and a module killed after arming still gets reverted."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import netns_helpers as nh
import persist_readers
import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import (
    network_apply, network_boot, network_confirm, network_pending)
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput

pytestmark = [pytest.mark.libvirtd]

WANT = {'bridge': 'br100', 'bridge_interface': 'eth0'}
NETWORKD = 'etc/systemd/network'


@pytest.fixture(autouse=True)
def process_watchdog(monkeypatch):
    # a systemd timer would revert outside the test's namespace
    monkeypatch.setenv(network_confirm.ENV_WATCHDOG, 'process')


@pytest.fixture
def netname(topo):
    return vpetest.PREFIX + 'cf' + topo.tag


def apply(ctx, topo, netname, root, **kwargs):
    with nh.entered(topo.host):
        return network_apply.apply(ctx, dict(WANT), libvirt_network=netname, persist_method='networkd',
                                   persist_root=str(root), **kwargs)


def record(ctx):
    return network_pending.load(ctx.store.state_dir)


def wait_for_status(ctx, status, limit):
    """The record once its status is `status` (polls; `limit` only bounds a hung test)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        doc = record(ctx)
        if doc is not None and doc['status'] == status:
            return doc
        time.sleep(0.3)
    return record(ctx)


def pid_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().split(') ', 1)[1][0] != 'Z'
    except OSError:
        return False


def assert_as_before(topo, netname, root):
    links = topo.links()
    assert 'br100' not in links and links['eth0'].get('master') is None
    assert topo.addresses('eth0') == sorted([nh.HOST_V4, nh.HOST_V6])
    assert topo.default_routes() == sorted([(nh.PEER_V4, 'eth0'), (nh.PEER_V6, 'eth0')])
    assert topo.ping()
    assert nh_libvirt_net(netname) is None
    assert not (root / NETWORKD).exists() or list((root / NETWORKD).iterdir()) == []


def nh_libvirt_net(name):
    import libvirt
    conn = libvirt.open(vpetest.SYSTEM_URI)
    try:
        return conn.networkLookupByName(name).name()
    except libvirt.libvirtError:
        return None
    finally:
        conn.close()


def test_unconfirmed_change_reverts_live_persistent_and_libvirt_by_itself(system_ctx, topo, netname, tmp_path):
    root = tmp_path / 'root'
    change = apply(system_ctx, topo, netname, root, confirm_timeout=3)
    assert change.changed is True and change.after == WANT
    pending = change.pending
    assert pending['status'] == 'pending' and pending['timeout'] == 3 and 0 < pending['expires_in'] <= 3
    assert pending['watchdog']['kind'] == 'process' and pid_alive(pending['watchdog']['pid'])
    assert re.match(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$', pending['deadline'])
    assert pending['actions'] == change.actions and pending['before'] == {'bridge': None, 'bridge_interface': None}
    # the change is in place while it waits
    assert topo.links()['eth0']['master'] == 'br100' and topo.ping()
    assert (root / NETWORKD / '10-vpe-bridge.netdev').exists()
    assert network_confirm.current(system_ctx)['id'] == pending['id']

    doc = wait_for_status(system_ctx, 'reverted', 60)
    assert doc['status'] == 'reverted' and doc['revert_errors'] == [], doc
    assert doc['revert_reason'] == 'deadline'
    assert_as_before(topo, netname, root)
    assert system_ctx.store.read().get('network', {}).get('libvirt_network') is None
    assert network_confirm.current(system_ctx) is None
    with pytest.raises(Conflict) as err:
        network_confirm.confirm(system_ctx, pending['id'])
    assert 'was not confirmed by' in err.value.detail and 'rolled back at' in err.value.detail
    assert err.value.status == 409


def test_confirmed_change_stays_after_the_deadline(system_ctx, topo, netname, tmp_path):
    root = tmp_path / 'root'
    change = apply(system_ctx, topo, netname, root, confirm_timeout=4)
    pid = change.pending['watchdog']['pid']
    done = network_confirm.confirm(system_ctx, change.pending['id'])
    assert done['status'] == 'confirmed' and done['id'] == change.pending['id'] and done['expires_in'] == 0
    assert network_confirm.current(system_ctx) is None
    # a retried confirm (its answer lost) answers the same
    assert network_confirm.confirm(system_ctx, change.pending['id'])['status'] == 'confirmed'
    time.sleep(6)  # past the deadline: nothing may revert now
    assert not pid_alive(pid)
    assert record(system_ctx)['status'] == 'confirmed'
    assert topo.links()['eth0']['master'] == 'br100'
    assert topo.addresses('br100') == sorted([nh.HOST_V4, nh.HOST_V6]) and topo.ping()
    assert nh_libvirt_net(netname) == netname
    assert persist_readers.read_networkd(str(root)).bridge == 'br100'
    # the same again: nothing to do, nothing armed
    again = apply(system_ctx, topo, netname, root, confirm_timeout=4)
    assert again.changed is False and again.pending is None and record(system_ctx)['status'] == 'confirmed'


def test_noop_and_check_mode_arm_nothing(system_ctx, topo, netname, tmp_path):
    root = tmp_path / 'root'
    plan = apply(system_ctx, topo, netname, root, confirm_timeout=30, check_mode=True)
    assert plan.changed is True and plan.pending is None
    assert record(system_ctx) is None and 'br100' not in topo.links()
    apply(system_ctx, topo, netname, root)
    same = apply(system_ctx, topo, netname, root, confirm_timeout=30)
    assert same.changed is False and same.pending is None and same.actions == []
    assert record(system_ctx) is None
    assert not os.path.exists(os.path.join(system_ctx.store.state_dir, network_pending.BUNDLE_DIR))


@pytest.mark.parametrize('value,words', [(-1, '0 (no confirmation) to 86400'), (86401, 'to 86400 seconds'),
                                         ('soon', 'whole number of seconds')])
def test_bad_confirm_timeout_names_the_field_and_changes_nothing(system_ctx, topo, netname, tmp_path, value, words):
    with pytest.raises(InvalidInput) as err:
        apply(system_ctx, topo, netname, tmp_path / 'root', confirm_timeout=value)
    assert err.value.field == 'confirm_timeout' and words in err.value.detail
    assert 'br100' not in topo.links() and record(system_ctx) is None


def test_a_second_change_while_one_waits_is_409(system_ctx, topo, netname, tmp_path):
    root = tmp_path / 'root'
    first = apply(system_ctx, topo, netname, root, confirm_timeout=60)
    try:
        with pytest.raises(Conflict) as err:
            with nh.entered(topo.host):
                network_apply.apply(system_ctx, {'bridge': 'br200'}, libvirt_network=netname,
                                    persist_method='networkd', persist_root=str(root))
        assert err.value.field == 'confirm_timeout' and first.pending['id'] in err.value.detail
        assert 'br200' not in topo.links()
        with pytest.raises(Conflict) as other:
            network_confirm.confirm(system_ctx, 'ffffffffffffffff')
        assert 'is not the one on record' in other.value.detail
    finally:
        network_confirm.confirm(system_ctx, first.pending['id'])


def test_failed_step_rolls_back_and_disarms(system_ctx, topo, netname, tmp_path):
    blocker = tmp_path / 'a-file'
    blocker.write_text('persistence cannot go under a file')
    with pytest.raises(Exception) as err:
        apply(system_ctx, topo, netname, blocker, confirm_timeout=30)
    assert 'previous configuration was restored' in str(err.value)
    assert record(system_ctx) is None
    assert_as_before(topo, netname, tmp_path / 'none')


KILLED_RUN = textwrap.dedent('''
    import os, signal, sys
    sys.path[:0] = {paths!r}
    from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_apply, network_live_apply
    from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context

    def killed(dev, addr):  # the module dies half-way: addresses copied to the bridge, routes moved
        os.kill(os.getpid(), signal.SIGKILL)
    network_live_apply.del_address = killed
    ctx = Context(uri={uri!r}, state_dir={state!r})
    network_apply.apply(ctx, {{'bridge': 'br100', 'bridge_interface': 'eth0'}}, libvirt_network={net!r},
                        persist_method='networkd', persist_root={root!r}, confirm_timeout=3)
''')


def test_module_killed_after_arming_is_still_reverted(system_ctx, topo, netname, tmp_path):
    root = tmp_path / 'root'
    script = KILLED_RUN.format(paths=[p for p in sys.path if p], uri=vpetest.SYSTEM_URI,
                               state=system_ctx.store.state_dir, net=netname, root=str(root))
    proc = subprocess.run(['ip', 'netns', 'exec', topo.host, sys.executable, '-c', script],
                          capture_output=True, text=True, env=dict(os.environ, VPE_NETWORK_WATCHDOG='process'),
                          check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert topo.links()['eth0']['master'] == 'br100'  # it died with the host half-changed
    doc = wait_for_status(system_ctx, 'reverted', 60)
    assert doc['status'] == 'reverted' and doc['revert_errors'] == [], doc
    links = topo.links()
    assert 'br100' not in links and links['eth0'].get('master') is None
    assert topo.addresses('eth0') == sorted([nh.HOST_V4, nh.HOST_V6])
    assert topo.default_routes() == sorted([(nh.PEER_V4, 'eth0'), (nh.PEER_V6, 'eth0')])
    assert topo.ping() and nh_libvirt_net(netname) is None


def test_reboot_before_confirmation_boot_units_restore_files_then_the_rest(system_ctx, topo, netname, tmp_path):
    """The boot units' commands, run as systemd would at boot (files first, then the rest),
    after the watchdog died with the 'reboot'."""
    root = tmp_path / 'root'
    (root / NETWORKD).mkdir(parents=True)
    old_port = (root / NETWORKD / '10-vpe-bridge-port.network')
    old_port.write_text('# an older port file\n')
    change = apply(system_ctx, topo, netname, root, confirm_timeout=120)
    os.kill(change.pending['watchdog']['pid'], signal.SIGKILL)
    units = tmp_path / 'systemd'
    state_dir = system_ctx.store.state_dir
    bundle = os.path.join(state_dir, network_pending.BUNDLE_DIR)
    written = network_boot.install_units(state_dir, bundle, change.pending['id'], str(units), str(root))
    files_unit = (units / 'vpe-net-revert-boot-files.service').read_text()
    all_unit = (units / 'vpe-net-revert-boot.service').read_text()
    assert 'Before=network-pre.target systemd-networkd.service networking.service' in files_unit
    assert 'DefaultDependencies=no' in files_unit and 'After=network.target libvirtd.service' in all_unit
    assert os.readlink(str(units / 'multi-user.target.wants/vpe-net-revert-boot.service')) == str(
        units / 'vpe-net-revert-boot.service')
    assert len(written) == 4
    verify = subprocess.run(['systemd-analyze', 'verify'] + [w for w in written if '.wants' not in w],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    def exec_start(text):
        env = dict(os.environ, PYTHONPATH=re.search(r'^Environment=PYTHONPATH=(.*)$', text, re.M).group(1))
        argv = shlex.split(re.search(r'^ExecStart=(.*)$', text, re.M).group(1))
        return subprocess.run(['ip', 'netns', 'exec', topo.host] + argv, env=env, capture_output=True, text=True,
                              cwd='/', check=False)

    early = exec_start(files_unit)
    assert early.returncode == 0, early.stderr
    assert old_port.read_text() == '# an older port file\n'
    assert not (root / NETWORKD / '10-vpe-bridge.netdev').exists()
    assert record(system_ctx)['status'] == 'pending'  # libvirt and the rest wait for the second unit
    late = exec_start(all_unit)
    assert late.returncode == 0, late.stderr
    doc = record(system_ctx)
    assert doc['status'] == 'reverted' and doc['revert_reason'] == 'reboot' and doc['revert_errors'] == [], doc
    assert topo.links()['eth0'].get('master') is None and topo.ping()
    assert nh_libvirt_net(netname) is None
    assert old_port.read_text() == '# an older port file\n'
    assert json.loads(json.dumps(doc))  # the record stays readable JSON


def test_without_a_watchdog_the_next_change_reverts_an_overdue_one_first(
        system_ctx, topo, netname, tmp_path, monkeypatch):
    """A reboot on a host without systemd kills the watchdog: the next read or change reverts."""
    root = tmp_path / 'root'
    change = apply(system_ctx, topo, netname, root, confirm_timeout=1)
    os.kill(change.pending['watchdog']['pid'], signal.SIGKILL)
    monkeypatch.setattr(network_confirm, 'OVERDUE_SECONDS', 0)
    time.sleep(1.5)
    assert record(system_ctx)['status'] == 'pending'  # nobody reverted it
    with nh.entered(topo.host):
        assert network_confirm.current(system_ctx, reconcile=False)['id'] == change.pending['id']
        later = network_apply.apply(system_ctx, {'bridge': 'br200', 'bridge_interface': 'eth0'},
                                    libvirt_network=netname, persist_method='networkd', persist_root=str(root))
    doc = record(system_ctx)
    assert doc['status'] == 'reverted' and doc['revert_reason'] == 'overdue' and doc['revert_errors'] == []
    # planned from the host as it was before the unconfirmed change: br100 never came back
    assert later.before == {'bridge': None, 'bridge_interface': None}
    assert 'br100' not in topo.links() and topo.links()['eth0']['master'] == 'br200' and topo.ping()
