# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's live network state, read with iproute2 (network_live_apply changes it).

Every read uses iproute2's JSON output (`ip -j`), never its human format, and
every command goes through `run_ip`, so the whole service works in whatever
network namespace its process (or thread) is in: tests run it inside
namespaces they make, with no special code path.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import os
import shutil
import subprocess

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError

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

    def as_dict(self):
        """JSON-able form, for the pending change a watchdog restores (network_revert)."""
        return {'links': [link.doc for link in self.links.values()], 'addresses': self.addresses,
                'routes': self.routes}

    @classmethod
    def from_dict(cls, doc):
        return cls(dict((d['ifname'], Link(d)) for d in doc['links']), doc['addresses'], doc['routes'])

    def link(self, name):
        return self.links.get(name)

    def ports(self, bridge):
        return sorted(name for name, link in self.links.items() if link.master == bridge)

    def global_addresses(self, dev):
        return list(self.addresses.get(dev, []))

    def movable_routes(self, dev):
        """Routes through `dev` that would be lost with its addresses: default and static ones, and
        the prefix routes of its `noprefixroute` addresses (NetworkManager adds those itself, as
        proto kernel with a metric: the kernel makes none for such an address on the bridge, and a
        gateway without its prefix route is unreachable). Link routes come first for the same reason."""
        own = set(prefix_of(a) for a in self.global_addresses(dev) if a.get('noprefixroute'))
        routes = [r for r in self.routes
                  if r.get('dev') == dev and r.get('type', 'unicast') == 'unicast'
                  and (r.get('protocol') not in SKIP_PROTOCOLS
                       or (r.get('protocol') == 'kernel' and r.get('dst') in own))]
        return sorted(routes, key=lambda r: 1 if r.get('gateway') else 0)


def prefix_of(addr):
    """'198.51.100.0/24' for 198.51.100.7/24: the dst of the address's prefix route."""
    return ipaddress.ip_interface(u'%s/%s' % (addr['local'], addr['prefixlen'])).network.with_prefixlen


def describe_address(addr):
    return '%s/%s' % (addr['local'], addr['prefixlen'])


def describe_route(route):
    text = route.get('dst', 'default')
    if route.get('gateway'):
        text += ' via %s' % route['gateway']
    if route.get('metric') is not None:
        text += ' metric %s' % route['metric']
    return text
