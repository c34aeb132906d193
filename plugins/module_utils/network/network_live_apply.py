# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's live network changed with iproute2 (through network_live.run_ip,
so in the caller's namespace), and restored from a LiveState snapshot."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.network.network_live import (
    CommandFailed, LiveState, address_key, describe_address, route_key, run_ip)


def create_bridge(name, mac=None):
    """Create the bridge; one that appeared meanwhile (networkd creates it from reloaded files) is fine."""
    args = ['link', 'add', 'name', name]
    if mac:
        args += ['address', mac]
    try:
        run_ip(*(args + ['type', 'bridge', 'stp_state', '0', 'forward_delay', '0']))
    except CommandFailed as exc:
        if 'File exists' not in exc.detail or not LiveState.read().link(name).is_bridge:
            raise


def delete_link(name):
    run_ip('link', 'del', 'dev', name)


def set_up(name):
    run_ip('link', 'set', 'dev', name, 'up')


def set_master(name, master):
    if master:
        run_ip('link', 'set', 'dev', name, 'master', master)
    else:
        run_ip('link', 'set', 'dev', name, 'nomaster')


def _family_flag(family):
    return '-6' if family == 'inet6' else '-4'


def add_address(dev, addr):
    args = [_family_flag(addr['family']), 'addr', 'replace', describe_address(addr), 'dev', dev]
    if addr['family'] == 'inet' and addr.get('broadcast'):
        args += ['broadcast', addr['broadcast']]
    if addr.get('noprefixroute'):
        args.append('noprefixroute')
    if addr['family'] == 'inet6':
        args.append('nodad')  # the address moves; a DAD pause would cut the host off
    run_ip(*args)


# What `ip addr del` says of an address that is not there, lower-cased: older kernels; newer ones
# ("ipv4: Address not found", "ipv6: address not found").
ADDRESS_GONE_ERRORS = ('cannot assign requested address', 'address not found')


def del_address(dev, addr):
    """Delete the address; one already gone (networkd moved it from reloaded files) is fine."""
    try:
        run_ip(_family_flag(addr['family']), 'addr', 'del', describe_address(addr), 'dev', dev)
    except CommandFailed as exc:
        if not any(gone in exc.detail.lower() for gone in ADDRESS_GONE_ERRORS):
            raise


def _route_args(route, dev):
    args = [route.get('dst', 'default')]
    if route.get('gateway'):
        args += ['via', route['gateway']]
    args += ['dev', dev]
    if route.get('protocol'):
        args += ['proto', route['protocol']]
    if route.get('metric') is not None:
        args += ['metric', str(route['metric'])]
    if route.get('prefsrc'):
        args += ['src', route['prefsrc']]
    if route.get('scope') and route['scope'] != 'global' and route['family'] == 'inet':
        args += ['scope', route['scope']]
    if 'onlink' in route.get('flags', []):
        args.append('onlink')
    return args


# Where systemd-networkd reloaded the files first it re-applies the bridge's addresses: for a moment
# the gateway is not on the bridge's subnet, and the kernel refuses a route through it.
ROUTE_RETRY_ERRORS = ('Nexthop has invalid gateway', 'Network is unreachable')
ROUTE_RETRY_SECONDS = 15.0


def replace_route(route, dev):
    deadline = time.time() + ROUTE_RETRY_SECONDS
    while True:
        try:
            run_ip(*([_family_flag(route['family']), 'route', 'replace'] + _route_args(route, dev)))
            return
        except CommandFailed as exc:
            if time.time() >= deadline or not any(e in exc.detail for e in ROUTE_RETRY_ERRORS):
                raise
            time.sleep(0.5)


def del_route(route):
    """Delete exactly this route; a route already gone is fine."""
    args = [route.get('dst', 'default')]
    if route.get('gateway'):
        args += ['via', route['gateway']]
    args += ['dev', route['dev']]
    if route.get('metric') is not None:
        args += ['metric', str(route['metric'])]
    try:
        run_ip(*([_family_flag(route['family']), 'route', 'del'] + args))
    except CommandFailed as exc:
        if 'No such process' not in exc.detail and 'Cannot find device' not in exc.detail:
            raise


def restore(snapshot, devices):
    """Make `devices` look as in `snapshot` again; return the errors met.

    Links that did not exist are deleted, masters and up state are set back,
    global addresses and non-kernel routes are re-added or removed. Each step
    is tried even when an earlier one failed: the host must get its addresses
    back whatever else went wrong.
    """
    errors = []

    def attempt(fn, *args):
        try:
            fn(*args)
        except VpeError as exc:
            errors.append(exc.detail)

    try:
        now = LiveState.read()
    except VpeError as exc:
        return [exc.detail]
    # masters first, so addresses land on interfaces that forward again
    for name in devices:
        old, cur = snapshot.link(name), now.link(name)
        if old is not None and cur is not None and old.master != cur.master:
            attempt(set_master, name, old.master)
    for name in devices:
        old, cur = snapshot.link(name), now.link(name)
        if old is None or cur is None:
            continue
        if old.up and not cur.up:
            attempt(set_up, name)
        have = dict((address_key(a), a) for a in now.global_addresses(name))
        want = dict((address_key(a), a) for a in snapshot.global_addresses(name))
        for key in want:
            if key not in have:
                attempt(add_address, name, want[key])
    for name in devices:
        if snapshot.link(name) is None:
            continue
        for route in snapshot.movable_routes(name):
            attempt(replace_route, route, name)
    try:
        now = LiveState.read()
    except VpeError as exc:
        return errors + [exc.detail]
    for name in devices:
        if snapshot.link(name) is None or now.link(name) is None:
            continue
        want_routes = set(route_key(r) for r in snapshot.movable_routes(name))
        for route in now.movable_routes(name):
            if route_key(route) not in want_routes:
                attempt(del_route, route)
        want = set(address_key(a) for a in snapshot.global_addresses(name))
        for addr in reversed(now.global_addresses(name)):
            if address_key(addr) not in want:
                attempt(del_address, name, addr)
    for name in devices:
        if snapshot.link(name) is None and now.link(name) is not None:
            attempt(delete_link, name)
    return errors
