# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's links as a read of the network needs them (name, master,
kind), from the kernel's rtnetlink dump: the same attributes `ip -j -d link
show` prints (network_live.LiveState, what a change reads), without running
a command and without compiling network_live.

A netlink socket belongs to the network namespace of the thread that opens
it, as `ip` does, so this reads whatever namespace its caller is in (the
tests enter namespaces per thread). /sys/class/net would not: it shows the
namespace sysfs was mounted in.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import struct

from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError

NETLINK_ROUTE = 0
RTM_NEWLINK = 16
RTM_GETLINK = 18
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLM_F_DUMP_INTR = 0x10
IFLA_IFNAME = 3
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_INFO_KIND = 1
NLA_TYPE_MASK = 0x3fff  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
NLMSG_HEADER = struct.Struct('=IHHII')  # len, type, flags, seq, pid
IFINFOMSG = struct.Struct('=BxHiII')  # family, type, index, flags, change
RTATTR = struct.Struct('=HH')  # len, type
ATTEMPTS = 3  # a dump the kernel marks interrupted (links changed meanwhile) is asked again


class Link(object):
    """One interface: what network.read looks at (network_live.Link has it all)."""

    def __init__(self, name, kind, master):
        self.name = name
        self.kind = kind
        self.master = master

    @property
    def is_bridge(self):
        return self.kind == 'bridge'


class Links(object):
    """name -> Link, with the same link()/ports() as network_live.LiveState."""

    def __init__(self, links):
        self.links = links

    @classmethod
    def read(cls):
        for _attempt in range(ATTEMPTS):
            rows, interrupted = _dump()
            if not interrupted:
                break
        names = dict((index, name) for index, name, _kind, _master in rows)
        return cls(dict((name, Link(name, kind, names.get(master, 'if%d' % master) if master else None))
                        for _index, name, kind, master in rows))

    def link(self, name):
        return self.links.get(name)

    def ports(self, bridge):
        return sorted(name for name, link in self.links.items() if link.master == bridge)


def _attributes(data, offset, end):
    while offset + RTATTR.size <= end:
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size or offset + length > end:
            return
        yield kind & NLA_TYPE_MASK, data[offset + RTATTR.size:offset + length]
        offset += (length + 3) & ~3


def _text(value):
    return value.split(b'\0', 1)[0].decode('utf-8', 'replace')


def _dump():
    """([(ifindex, name, kind or None, master ifindex or 0)], interrupted)."""
    request = NLMSG_HEADER.pack(NLMSG_HEADER.size + IFINFOMSG.size, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    request += IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    rows = []
    interrupted = False
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    except (OSError, AttributeError) as exc:
        raise VpeError('cannot read the host\'s network links (netlink): %s' % exc)
    try:
        sock.sendto(request, (0, 0))
        while True:
            data = sock.recv(1 << 17)
            offset = 0
            while offset + NLMSG_HEADER.size <= len(data):
                length, kind, flags, _seq, _pid = NLMSG_HEADER.unpack_from(data, offset)
                if length < NLMSG_HEADER.size:
                    raise VpeError('a malformed netlink answer to a link dump')
                interrupted = interrupted or bool(flags & NLM_F_DUMP_INTR)
                if kind == NLMSG_DONE:
                    return rows, interrupted
                if kind == NLMSG_ERROR:
                    code = struct.unpack_from('=i', data, offset + NLMSG_HEADER.size)[0]
                    if code:
                        raise VpeError('cannot read the host\'s network links (netlink): %s' % os.strerror(-code))
                elif kind == RTM_NEWLINK:
                    rows.append(_link(data, offset + NLMSG_HEADER.size, offset + length))
                offset += (length + 3) & ~3
    except (OSError, struct.error) as exc:
        raise VpeError('cannot read the host\'s network links (netlink): %s' % exc)
    finally:
        sock.close()


def _link(data, offset, end):
    index = IFINFOMSG.unpack_from(data, offset)[2]
    name, kind, master = None, None, 0
    for attr, value in _attributes(data, offset + IFINFOMSG.size, end):
        if attr == IFLA_IFNAME:
            name = _text(value)
        elif attr == IFLA_MASTER:
            master = struct.unpack('=I', value[:4])[0]
        elif attr == IFLA_LINKINFO:
            for info, info_value in _attributes(value, 0, len(value)):
                if info == IFLA_INFO_KIND:
                    kind = _text(info_value)
    return index, name, kind, master
