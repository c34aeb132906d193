# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Undo a network change nobody confirmed, from its pending record.

This file is also the watchdog program. network_confirm copies it (and the
few module_utils it imports: standard library only besides them) into
state_dir/network-revert/ and runs it there, because the module's own copy is
deleted when the module exits:

    python3 -m ansible_collections.vpe.hypervisor.plugins.module_utils.network.network_revert \\
        --state-dir DIR --id ID [--wait] [--daemon] [--phase all|files] [--reason R] [--boot-units install|remove]

`--wait` sleeps until the deadline (waking each second to see whether the
change was confirmed), then reverts; `--daemon` first detaches (prints the
watchdog's pid). `--phase files` only puts the persistence files back: a boot
unit runs it before the network stack starts, so the host boots with its old
configuration; the full revert follows once libvirtd is up.

The revert holds the state lock, as confirm does: exactly one of them wins.
Every part is tried even when one before failed; the live state goes first,
because it is what makes the host reachable again.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import os
import sys
import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import state_write
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_boot as boot
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_live_apply as live_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_pending as pending
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.network.network_live import LiveState, run
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_persist as persist
from ansible_collections.vpe.hypervisor.plugins.module_utils.network.network_persist import atomic_write
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.state_store import StateStore

POLL_SECONDS = 1.0
LIBVIRT_ATTEMPTS = 10
LIBVIRT_PAUSE = 3.0
# the nmcli settings network_persist.render_nmcli sets: only these are put back (the rest of
# `nmcli connection show` is read-only or ours never touched)
NM_KEYS = frozenset(['connection.interface-name', 'connection.autoconnect', 'connection.master',
                     'connection.slave-type', 'connection.autoconnect-priority', 'bridge.stp', 'bridge.forward-delay',
                     'bridge.mac-address', 'ipv4.method', 'ipv4.addresses', 'ipv4.gateway', 'ipv6.method',
                     'ipv6.addresses', 'ipv6.gateway'])


def _attempt(errors, what, fn, *args):
    try:
        fn(*args)
    except Exception as exc:  # keep going: the other parts must come back whatever failed
        errors.append('%s: %s' % (what, getattr(exc, 'detail', None) or exc))


def restore_files(doc, persist_root):
    """Put the persistence files back; then a running networkd reloads them (else it would move the port
    back into the new bridge). Only the files network_persist writes under `persist_root`: the record is
    the shim's to write, and this may run as root."""
    errors = []
    allowed = persist.persist_paths(persist_root)
    restored = []
    for path, old in sorted((doc.get('files') or {}).items()):
        if path not in allowed:
            errors.append('restore %s: not a file vpe_network writes under %s; left alone' % (path, persist_root))
        elif old is None:
            _attempt(errors, 'remove %s' % path, lambda p=path: os.path.exists(p) and os.unlink(p))
            restored.append(path)
        else:
            _attempt(errors, 'restore %s' % path, atomic_write, path, old)
            restored.append(path)
    if any(persist.is_networkd_file(p) for p in restored) and persist.networkd_running(persist_root):
        _attempt(errors, 'networkctl reload', persist.reload_networkd)
    return errors


def _nmcli_restore(name, settings):
    if settings is None:
        try:
            run(['nmcli', 'connection', 'delete', name])
        except VpeError as exc:
            if 'unknown connection' not in exc.detail.lower() and 'cannot find' not in exc.detail.lower():
                raise
        return
    argv = ['nmcli', 'connection', 'modify', name]
    for key in sorted(NM_KEYS.intersection(settings)):
        value = settings[key]
        argv += [key, '' if value == '--' else value]
    run(argv)


def restore_nmcli(doc):
    errors = []
    for name, settings in sorted((doc.get('nmcli') or {}).items()):
        if name not in persist.NM_PROFILES:
            errors.append('nmcli profile %s: not one vpe_network writes; left alone' % name)
            continue
        _attempt(errors, 'nmcli profile %s' % name, _nmcli_restore, name, settings)
    return errors


def restore_live(doc):
    live = doc.get('live')
    if not live:
        return []
    return live_apply.restore(LiveState.from_dict(live), doc.get('devices') or [])


def _libvirt():
    import libvirt  # only here: a revert of live state and files needs no binding
    return libvirt


def _restore_network(conn, libvirt, net_doc):
    name, before = net_doc['name'], net_doc.get('before')
    try:
        net = conn.networkLookupByName(name)
    except libvirt.libvirtError:
        net = None
    if before is None:
        if net is not None:
            if net.isActive():
                net.destroy()
            net.undefine()
        return
    if net is not None and net.isActive():
        net.destroy()  # a network's bridge cannot change while it runs
    net = conn.networkDefineXML(before['xml'])
    net.setAutostart(1 if before.get('autostart') else 0)
    if before.get('active') and not net.isActive():
        net.create()


def _restore_domain(conn, libvirt, move):
    import xml.etree.ElementTree as ET
    dom = conn.lookupByName(move['domain'])
    flags = [libvirt.VIR_DOMAIN_AFFECT_LIVE] if dom.isActive() else []
    if dom.isPersistent():
        flags.append(libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    for flag in flags:
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if flag == libvirt.VIR_DOMAIN_AFFECT_CONFIG else 0)
        for iface in ET.fromstring(xml).findall('./devices/interface'):
            mac, source = iface.find('mac'), iface.find('source')
            if iface.get('type') != 'bridge' or mac is None or mac.get('address') != move['mac'] \
                    or source is None or source.get('bridge') != move['new']:
                continue
            source.set('bridge', move['old'])
            try:
                dom.updateDeviceFlags(ET.tostring(iface, encoding='unicode'), flag)
            except libvirt.libvirtError:
                if flag != libvirt.VIR_DOMAIN_AFFECT_LIVE or not move.get('dev'):
                    raise
                live_apply.set_master(move['dev'], move['old'])  # as the change did when libvirt could not


def restore_libvirt(doc):
    net_doc, moves = doc.get('libvirt_network'), doc.get('domains') or []
    if not net_doc and not moves:
        return []
    errors = []
    try:
        libvirt = _libvirt()
    except ImportError as exc:
        return ['libvirt: %s' % exc]
    conn = None
    for attempt in range(LIBVIRT_ATTEMPTS):  # libvirtd may be restarting (or starting, at boot)
        try:
            conn = libvirt.open(doc.get('uri') or 'qemu:///system')
            break
        except libvirt.libvirtError as exc:
            if attempt == LIBVIRT_ATTEMPTS - 1:
                return ['libvirt: %s' % exc]  # the live state and the files are back all the same
            time.sleep(LIBVIRT_PAUSE)
    try:
        for move in moves:
            _attempt(errors, 'domain %s' % move['domain'], _restore_domain, conn, libvirt, move)
        if net_doc:
            _attempt(errors, 'libvirt network %s' % net_doc['name'], _restore_network, conn, libvirt, net_doc)
    finally:
        conn.close()
    return errors


def restore_remembered(store, doc):
    """state.json's remembered libvirt network name, as before the change."""
    if 'remembered' not in doc:
        return []
    errors = []

    def put_back():
        with state_write.transaction(store) as state:
            section = state.setdefault('network', {})
            if doc['remembered'] is None:
                section.pop('libvirt_network', None)
            else:
                section['libvirt_network'] = doc['remembered']
    _attempt(errors, 'state file', put_back)
    return errors


def revert(state_dir, change_id=None, reason='deadline', phase='all', store=None, persist_root=None,
           if_rebooted=False):
    """Undo the pending change (only `change_id`'s, when given; only one armed before this boot, with
    `if_rebooted`); return its record, or None if none is pending.

    `store`: the caller's StateStore when it holds the lock already (a second
    flock from the same process would wait for itself). `persist_root`: where
    the persistence files are (default: the record's own, for callers as
    privileged as its writer; the root units pass `/`)."""
    store = store or StateStore(state_dir)
    with state_write.locked(store):
        doc = pending.pending(state_dir)
        if doc is None or (change_id and doc.get('id') != change_id):
            return None
        if if_rebooted and doc.get('boot_id') and not pending.armed_in_another_boot(doc):
            return None  # armed in this boot: its watchdog runs
        root = persist_root or doc.get('persist_root') or '/'
        if phase == 'files':
            errors = restore_files(doc, root)
            doc['files_restored_at'] = time.time()
            doc['revert_errors'] = errors
            pending.save(state_dir, doc)
            return doc
        # the files first: a running networkd reloads them before the live state moves back
        errors = [] if doc.get('files_restored_at') else restore_files(doc, root)
        errors += restore_live(doc)
        errors += restore_libvirt(doc)
        errors += restore_nmcli(doc)
        errors += restore_remembered(store, doc)
        errors += boot.remove_units(doc)
        for key in ('live', 'files', 'nmcli'):  # done with; the record stays for confirm's 409 and GET
            doc.pop(key, None)
        doc.update(status='reverted', reverted_at=time.time(), revert_reason=reason, revert_errors=errors)
        pending.save(state_dir, doc)
        return doc


def wait_and_revert(state_dir, change_id, reason='deadline', persist_root=None):
    """Sleep until the deadline unless the change is confirmed (or replaced) first; then revert."""
    while True:
        try:
            doc = pending.pending(state_dir)
        except VpeError:
            doc = None
        if doc is None or doc.get('id') != change_id:
            return None
        left = doc['deadline'] - time.time()
        if left <= 0:
            return revert(state_dir, change_id, reason, persist_root=persist_root)
        time.sleep(min(left, POLL_SECONDS))


def _daemonize(log_path):
    """Fork; the parent prints the child's pid and exits. The child keeps no tty, cwd or stdio of ours."""
    pid = os.fork()
    if pid:
        sys.stdout.write('%d\n' % pid)
        sys.stdout.flush()
        os._exit(0)
    os.chdir('/')
    null = os.open(os.devnull, os.O_RDWR)
    try:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    except OSError:
        log = null
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='network_revert', description='Revert an unconfirmed vpe network change.')
    parser.add_argument('--state-dir', required=True)
    parser.add_argument('--id', help='only this change (default: whichever is pending)')
    parser.add_argument('--phase', choices=('all', 'files'), default='all')
    parser.add_argument('--reason', default='deadline')
    parser.add_argument('--wait', action='store_true')
    parser.add_argument('--daemon', action='store_true')
    parser.add_argument('--if-rebooted', action='store_true',
                        help='only a change armed before this boot (the boot units: its watchdog died with that boot)')
    parser.add_argument('--persist-root', default='/', help='where the persistence files are (default %(default)s)')
    args = parser.parse_args(argv)
    if args.wait and not args.id:
        parser.error('--wait needs --id')
    if args.daemon:
        if hasattr(os, 'setsid') and os.getpgrp() != os.getpid():
            os.setsid()  # no SIGHUP when the SSH session that started us ends
        _daemonize(os.path.join(pending.bundle_dir(args.state_dir), 'watchdog.log'))
    if args.wait:
        doc = wait_and_revert(args.state_dir, args.id, args.reason, args.persist_root)
    else:
        doc = revert(args.state_dir, args.id, args.reason, args.phase, persist_root=args.persist_root,
                     if_rebooted=args.if_rebooted)
    if doc is not None:
        sys.stdout.write('%s network change %s (%s)%s\n' % (
            'reverted' if doc['status'] == 'reverted' else 'restored the files of', doc['id'], args.reason,
            ': ' + '; '.join(doc.get('revert_errors') or []) if doc.get('revert_errors') else ''))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())  # a program here, not a module: no exit_json
