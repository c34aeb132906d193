# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Commit-confirmed network changes: arm a watchdog before the change, confirm it after.

`arm` runs before the first step of a change made with confirm_timeout: it
writes the pending record (network_pending: the live state, the persistence
files' and nmcli profiles' old contents, the libvirt network's old
definition, the boot id), copies the watchdog's code (network_revert and what
it imports) to network_pending.bundle_dir, and starts the watchdog so that it
outlives the module and the SSH session:

- as root where systemd is PID 1: a transient timer (`systemd-run
  --on-active=S`, unit vpe-net-revert-ID), plus two boot units in
  /etc/systemd/system that revert at boot when the host restarts before
  confirmation (the files before the network stack starts, the rest once
  libvirtd is up), unless the api_shim role's static ones cover the state
  directory (network_boot);
- elsewhere (the shim, running as a service user, or no systemd): a detached
  process (its own session, double fork) that sleeps until the deadline. A
  reboot or a restart of the shim kills it; the shim's backstop thread
  (api_shim/network_backstop.py), the next confirm, apply or GET find the
  record armed in another boot or overdue, and revert then.

`confirm` (from a new connection: the action plugin, POST .../confirm) marks
the record confirmed and stops the watchdog; after the deadline it is a 409.
Setting VPE_NETWORK_WATCHDOG=process forces the detached process (the tests:
a systemd timer would run outside their network namespace).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import importlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import state_write
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_boot as boot
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_pending as pending
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_revert
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput, VpeError

PACKAGE = 'ansible_collections.vpe.hypervisor.plugins.module_utils'
# network_revert and everything it imports of ours (the rest is the standard library)
WATCHDOG_FILES = ('core.errors', 'core.atomic_file', 'core.state_store', 'core.state_write', 'network.network_live', 'network.network_live_apply',
                  'network.network_persist', 'network.network_pending', 'network.network_boot', 'network.network_revert')
MAX_TIMEOUT = 86400
ID_RE = re.compile(r'^[0-9a-f]{16}$')
ENV_WATCHDOG = 'VPE_NETWORK_WATCHDOG'
# a revert seconds late is normal (the watchdog polls); this late, the watchdog is gone (a reboot without systemd)
OVERDUE_SECONDS = 15


def check_timeout(value, minimum=0):
    """confirm_timeout as an int of seconds, 0 (none) to a day; REST asks for 1 or more (absent is none)."""
    if value is None or (value == '' and minimum == 0):
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise InvalidInput('confirm_timeout must be a whole number of seconds, got %r' % (value,),
                               field='confirm_timeout')
    if value < minimum or value > MAX_TIMEOUT:
        raise InvalidInput('confirm_timeout must be %s to %d seconds, got %d'
                           % ('0 (no confirmation)' if minimum == 0 else minimum, MAX_TIMEOUT, value),
                           field='confirm_timeout')
    return value


def check_id(value):
    """A pending change's id: 16 hex digits, as new_id makes them."""
    if value is None:
        return None
    if not isinstance(value, str) or not ID_RE.match(value):
        raise InvalidInput('id must be the 16 hex digits of a pending network change (pending.id), got %r'
                           % (value,), field='id')
    return value


def new_id():
    return binascii.hexlify(os.urandom(8)).decode('ascii')


def _systemd_booted():
    return os.path.isdir('/run/systemd/system') and shutil.which('systemd-run') is not None


def watchdog_kind():
    forced = os.environ.get(ENV_WATCHDOG)
    if forced in ('process', 'systemd'):
        return forced
    return 'systemd' if _systemd_booted() else 'process'


# -- the watchdog's code, outside the module's temporary directory ------------------

def _source(fullname):
    """A module's source, from a file or from AnsiballZ's zip alike (its loader knows)."""
    module = importlib.import_module(fullname)
    loader = getattr(module, '__loader__', None)
    try:
        text = loader.get_source(fullname) if loader is not None else None
    except ImportError:
        text = None
    if text is None:
        raise VpeError('cannot read the source of %s to install the network watchdog; nothing was changed'
                       % fullname)
    return text


def write_bundle(state_dir):
    """Copy the watchdog's modules to network_pending.bundle_dir (replacing an older copy); return that dir."""
    target = pending.bundle_dir(state_dir)
    if not os.path.isdir(os.path.dirname(target)):
        os.makedirs(os.path.dirname(target), 0o755)
    tmp = tempfile.mkdtemp(prefix='.network-revert.', dir=os.path.dirname(target))
    try:
        pkg_dir = os.path.join(tmp, *PACKAGE.split('.'))
        os.makedirs(pkg_dir)
        parts = PACKAGE.split('.')
        for depth in range(1, len(parts) + 1):
            open(os.path.join(tmp, *(parts[:depth] + ['__init__.py'])), 'w').close()
        for name in WATCHDOG_FILES:
            subpackage, module = name.split('.')
            if not os.path.isdir(os.path.join(pkg_dir, subpackage)):
                os.makedirs(os.path.join(pkg_dir, subpackage))
                open(os.path.join(pkg_dir, subpackage, '__init__.py'), 'w').close()
            with open(os.path.join(pkg_dir, subpackage, module + '.py'), 'w') as handle:
                handle.write(_source(PACKAGE + '.' + name))
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _env(bundle):
    env = dict(os.environ)
    env['PYTHONPATH'] = bundle
    env.pop('PYTHONHOME', None)
    return env


def _start_process(state_dir, bundle, change_id, persist_root):
    """A detached watchdog (new session, double fork); its pid."""
    argv = boot.watchdog_argv(state_dir, change_id, '--wait', '--daemon', '--persist-root', persist_root)
    try:
        proc = subprocess.run(argv, env=_env(bundle),
                              cwd='/', stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True, universal_newlines=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise VpeError('cannot start the network watchdog: %s; nothing was changed' % exc)
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise VpeError('cannot start the network watchdog: %s; nothing was changed'
                       % (proc.stderr.strip() or 'exit %d' % proc.returncode))
    return {'kind': 'process', 'pid': int(proc.stdout.strip())}


def _unit(change_id):
    return '%s-%s' % (boot.UNIT_PREFIX, change_id)


def _start_systemd(state_dir, bundle, change_id, seconds, persist_root):
    """A transient timer; None where systemd refuses it (a user without the right, as the shim's)."""
    if os.geteuid() != 0:
        return None  # systemd-run would ask polkit, which says no to a service user
    unit = _unit(change_id)
    argv = ['systemd-run', '--unit=' + unit, '--description=vpe.hypervisor: revert network change %s '
            'unless confirmed' % change_id, '--on-active=%ds' % max(1, seconds),
            '--timer-property=AccuracySec=1s', '--setenv=PYTHONPATH=' + bundle, '--quiet']
    argv += boot.watchdog_argv(state_dir, change_id, '--wait', '--persist-root', persist_root)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          check=False)
    if proc.returncode != 0:
        return None
    return {'kind': 'systemd', 'unit': unit}


# -- arming, disarming, confirming ---------------------------------------------------

def revert_overdue(ctx):
    """Revert a pending change whose watchdog is gone; True if one was.

    Gone: the host restarted since it was armed (a watchdog process, or a
    boot unit that did not run), or its deadline passed long ago (a watchdog
    process killed with the shim's restart). The shim calls this every few
    seconds, and the modules before a change."""
    doc = pending.pending(ctx.store.state_dir)
    if doc is None:
        return False
    rebooted = pending.armed_in_another_boot(doc)
    if not rebooted and time.time() <= doc['deadline'] + OVERDUE_SECONDS:
        return False
    with state_write.locked(ctx.store):
        return network_revert.revert(ctx.store.state_dir, doc['id'], 'reboot' if rebooted else 'overdue',
                                     store=ctx.store) is not None


def refuse_if_pending(ctx):
    """Call under the state lock before a change's first step: one pending change at a time."""
    doc = pending.pending(ctx.store.state_dir)
    if doc is None:
        return
    raise Conflict('network change %s is waiting for confirmation until %s; confirm it (POST '
                   '/hypervisor/network/confirm) or let it revert before changing the network again'
                   % (doc['id'], pending.host_time(doc['deadline'])), field='confirm_timeout',
                   pending=pending.view(doc))


def arm(ctx, record, timeout):
    """Record the change and start its watchdog, before the change's first step. Returns the record.

    Call under the state lock. Anything failing here raises before the host was touched."""
    state_dir = ctx.store.state_dir
    now = time.time()
    record.update(id=new_id(), status='pending', created=now, deadline=now + timeout, timeout=timeout,
                  boot_id=pending.boot_id())
    bundle = write_bundle(state_dir)
    pending.save(state_dir, record)
    try:
        watchdog = None
        root = record.get('persist_root') or '/'
        if watchdog_kind() == 'systemd':
            record['boot_units'] = _boot_units(state_dir, bundle, record['id'], root)
            watchdog = _start_systemd(state_dir, bundle, record['id'], timeout, root)
        if watchdog is None:
            watchdog = _start_process(state_dir, bundle, record['id'], root)
        record['watchdog'] = watchdog
        pending.save(state_dir, record)
    except BaseException:
        disarm(ctx, record)
        raise
    return record


def _boot_units(state_dir, bundle, change_id, persist_root):
    """The boot units of this change (their paths, for confirm to remove), or [] when none are needed
    or none can be written.

    None are needed where the api_shim role installed its static ones for this
    state directory. A sandboxed shim cannot write /etc/systemd/system: its own
    start-up reverts a change armed before the reboot (revert_overdue)."""
    if boot.static_units_cover(state_dir):
        return []
    if os.geteuid() != 0:
        return []
    return boot.install_units(state_dir, bundle, change_id, persist_root=persist_root)


def _stop_watchdog(watchdog, change_id):
    if not watchdog:
        return
    if watchdog.get('kind') == 'systemd':
        subprocess.run(['systemctl', 'stop', watchdog['unit'] + '.timer', watchdog['unit'] + '.service'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return
    pid = watchdog.get('pid')
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            ours = change_id.encode('ascii') in handle.read()
    except (IOError, OSError, TypeError):
        return  # gone already
    if ours:  # never a pid reused by another program
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def disarm(ctx, record):
    """Undo arm (the change failed and was rolled back in-process, or arming itself failed)."""
    _stop_watchdog(record.get('watchdog'), record['id'])
    boot.remove_units(record)  # a unit left behind does nothing: it reverts only a record still pending
    try:
        os.unlink(pending.path(ctx.store.state_dir))
    except OSError:
        pass


def confirm(ctx, change_id=None):
    """Confirm the pending change (only `change_id`'s, when given); its public record.

    409 when nothing waits, when the id is another change's, and after the
    deadline (a change found overdue is reverted here and then)."""
    state_dir = ctx.store.state_dir
    change_id = check_id(change_id)
    with state_write.locked(ctx.store):
        doc = pending.load(state_dir)
        if doc is None:
            raise Conflict('no network change is waiting for confirmation', field='id')
        if change_id and doc.get('id') != change_id:
            raise Conflict('network change %s is not the one on record (that is %s, %s)'
                           % (change_id, doc.get('id'), doc.get('status')), field='id')
        if doc.get('status') == 'confirmed' and change_id:
            return pending.view(doc)  # a confirm retried after a lost answer
        if doc.get('status') == 'reverted':
            raise Conflict('network change %s was not confirmed by %s and was rolled back at %s'
                           % (doc['id'], pending.host_time(doc['deadline']), pending.host_time(doc['reverted_at'])),
                           field='id', pending=pending.view(doc))
        if doc.get('status') != 'pending':
            raise Conflict('no network change is waiting for confirmation (the last one, %s, is %s)'
                           % (doc.get('id'), doc.get('status')), field='id')
        if time.time() >= doc['deadline']:
            done = network_revert.revert(state_dir, doc['id'], 'confirmed too late', store=ctx.store)
            raise Conflict('network change %s was not confirmed by its deadline %s; it was rolled back%s'
                           % (doc['id'], pending.host_time(doc['deadline']),
                              ' now' if done is not None else ''), field='id',
                           pending=pending.view(done or doc))
        doc = dict((k, v) for k, v in doc.items() if k not in ('live', 'files', 'nmcli'))
        doc.update(status='confirmed', confirmed_at=time.time())
        pending.save(state_dir, doc)
        _stop_watchdog(doc.get('watchdog'), doc['id'])
        boot.remove_units(doc)
        return pending.view(doc)


def current(ctx, reconcile=True):
    """The public record of the change waiting for confirmation, or None; first reverts one found overdue."""
    if reconcile:
        revert_overdue(ctx)
    doc = pending.pending(ctx.store.state_dir)
    return pending.view(doc) if doc is not None else None
