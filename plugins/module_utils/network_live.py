# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's live network state, read and changed with iproute2.

Every read uses iproute2's JSON output (`ip -j`), never its human format, and
every command goes through `run_ip`, so the whole service works in whatever
network namespace its process (or thread) is in: tests run it inside
namespaces they make, with no special code path.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess

from ansible_collections.vpe.hypervisor.plugins.module_utils.errors import VpeError

SYS_CLASS_NET = '/sys/class/net'
# Routes the kernel or router advertisements own: they follow an address or
# are learnt again on the bridge, so they are never copied.
SKIP_PROTOCOLS = frozenset(['kernel', 'ra'])


class CommandFailed(VpeError):
    """An ip/nmcli command failed; carries the command and its stderr."""


def _ip_binary():
    found = shutil.which('ip')
    if found:
        return found
    for candidate in ('/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'):
        if os.path.exists(candidate):
            return candidate
    raise VpeError('iproute2 (the ip command) is not installed on this host')


def run(argv):
    """Run a command; return stdout, raise CommandFailed with stderr."""
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False)
    except OSError as exc:
        raise CommandFailed('cannot run %s: %s' % (argv[0], exc), command=' '.join(argv))
    if proc.returncode != 0:
        raise CommandFailed('%s failed: %s' % (' '.join(argv), proc.stderr.strip() or 'exit %d' % proc.returncode),
                            command=' '.join(argv))
    return proc.stdout


def run_ip(*args):
    return run([_ip_binary()] + list(args))


def ip_json(*args):
    out = run_ip('-j', *args)
    return json.loads(out) if out.strip() else []


# -- reading -------------------------------------------------------------------

class Link(object):
    """One interface as `ip -j -d link show` reports it."""

    def __init__(self, doc):
        self.doc = doc
        self.name = doc['ifname']
        self.flags = doc.get('flags', [])
        self.master = doc.get('master')
        info = doc.get('linkinfo') or {}
        self.kind = info.get('info_kind')
        self.slave_kind = info.get('info_slave_kind')
        self.mac = doc.get('address')
        self.link_type = doc.get('link_type')

    @property
    def up(self):
        return 'UP' in self.flags

    @property
    def is_loopback(self):
        return 'LOOPBACK' in self.flags or self.link_type == 'loopback'

    @property
    def is_bridge(self):
        return self.kind == 'bridge'

    @property
    def has_device(self):
        """Backed by hardware (a PCI/USB/virtio NIC), seen from /sys."""
        return os.path.exists(os.path.join(SYS_CLASS_NET, self.name, 'device'))


def address_key(addr):
    return (addr['family'], addr['local'], addr['prefixlen'])


def route_key(route):
    return (route['family'], route.get('dst'), route.get('gateway'), route.get('dev'), route.get('metric'))


class LiveState(object):
    """A snapshot of links, global addresses and main-table routes."""

    def __init__(self, links, addresses, routes):
        self.links = links          # name -> Link
        self.addresses = addresses  # name -> [addr_info dicts with 'family']
        self.routes = routes        # [route dicts with 'family']

    @classmethod
    def read_links(cls):
        """Links only (one `ip` run): what a read of the network needs."""
        return cls(cls._links(), {}, [])

    @staticmethod
    def _links():
        return dict((doc['ifname'], Link(doc)) for doc in ip_json('-d', 'link', 'show'))

    @classmethod
    def read(cls):
        links = cls._links()
        addresses = {}
        for doc in ip_json('addr', 'show'):
            kept = []
            for info in doc.get('addr_info', []):
                if info.get('scope') != 'global' or 'local' not in info:
                    continue
                kept.append(dict(info))
            addresses[doc['ifname']] = kept
        routes = []
        for family, flag in (('inet', '-4'), ('inet6', '-6')):
            for route in ip_json(flag, 'route', 'show', 'table', 'main'):
                route = dict(route)
                route['family'] = family
                routes.append(route)
        return cls(links, addresses, routes)

    def link(self, name):
        return self.links.get(name)

    def ports(self, bridge):
        return sorted(name for name, link in self.links.items() if link.master == bridge)

    def global_addresses(self, dev):
        return list(self.addresses.get(dev, []))

    def movable_routes(self, dev):
        """Routes through `dev` that would be lost with its addresses: default and static ones."""
        return [r for r in self.routes
                if r.get('dev') == dev and r.get('protocol') not in SKIP_PROTOCOLS
                and r.get('type', 'unicast') == 'unicast']


def describe_address(addr):
    return '%s/%s' % (addr['local'], addr['prefixlen'])


def describe_route(route):
    text = route.get('dst', 'default')
    if route.get('gateway'):
        text += ' via %s' % route['gateway']
    if route.get('metric') is not None:
        text += ' metric %s' % route['metric']
    return text


# -- changing ------------------------------------------------------------------

def create_bridge(name, mac=None):
    args = ['link', 'add', 'name', name]
    if mac:
        args += ['address', mac]
    run_ip(*(args + ['type', 'bridge', 'stp_state', '0', 'forward_delay', '0']))


def delete_link(name):
    run_ip('link', 'del', 'dev', name)


def set_up(name):
    run_ip('link', 'set', 'dev', name, 'up')


def set_down(name):
    run_ip('link', 'set', 'dev', name, 'down')


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


def del_address(dev, addr):
    run_ip(_family_flag(addr['family']), 'addr', 'del', describe_address(addr), 'dev', dev)


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


def replace_route(route, dev):
    run_ip(*([_family_flag(route['family']), 'route', 'replace'] + _route_args(route, dev)))


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
