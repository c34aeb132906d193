# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network: the Linux bridge the VMs attach to, and the NIC or bond under it.

read(ctx) -> {"bridge", "bridge_interface"} from the live host:
  - `bridge` is the bridge of the service's libvirt network (forward
    mode='bridge', named `vpe-bridge` unless configured otherwise). Where that
    network does not exist yet, it is `br100` (the default) if a bridge of that
    name exists live, else null.
  - `bridge_interface` is the port of that bridge that is not a VM's interface
    (a tap/vnet, or any device a running domain names as its target), or null.

network_apply.apply(ctx, desired) makes it true; a read (vpe_facts on every
host, each GET) imports and compiles none of the change code.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_links
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_libvirt as lv
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput

RESOURCE = 'network'
STATE_KEY = 'network'  # its section in the state store (a route's KEY is its JSON envelope)
DEFAULT_BRIDGE = 'br100'
DEFAULT_LIBVIRT_NETWORK = 'vpe-bridge'
# For the shim, which has no per-request options: set in its environment.
ENV_LIBVIRT_NETWORK = 'VPE_LIBVIRT_NETWORK'
ENV_PERSIST = 'VPE_NETWORK_PERSIST'
ENV_PERSIST_ROOT = 'VPE_PERSIST_ROOT'
LIBVIRT_NAME_RE = re.compile(r'^(?!\.)[A-Za-z0-9_.-]{1,64}$')
TAP_NAME_RE = re.compile(r'^(vnet|tap|macvtap|vif)[0-9]')
VM_KINDS = frozenset(['tun', 'tap', 'macvtap', 'ipvtap'])
READ_MAX_AGE = 1.0
PENDING_FILE = 'network-pending.json'  # network_pending.PENDING_FILE (not imported: reads stay small)


def libvirt_network_name(ctx, name=None):
    name = name or os.environ.get(ENV_LIBVIRT_NETWORK) or \
        ctx.store.read().get(STATE_KEY, {}).get('libvirt_network') or DEFAULT_LIBVIRT_NETWORK
    if not isinstance(name, str) or not LIBVIRT_NAME_RE.match(name):
        raise InvalidInput('libvirt_network must be 1-64 characters of A-Z a-z 0-9 _ . - not starting with ".", '
                           'got %r' % (name,), field='libvirt_network')
    return name


def is_vm_device(link, taps):
    return link.kind in VM_KINDS or link.name in taps or bool(TAP_NAME_RE.match(link.name))


def port_of(state, bridge, taps):
    if bridge is None or state.link(bridge) is None:
        return None
    ports = [name for name in state.ports(bridge) if not is_vm_device(state.link(name), taps)]
    return ports[0] if ports else None


def current(conn, state, name, taps):
    """{bridge, bridge_interface} seen in `state`; `taps`: lv.vm_taps(conn), which apply reuses."""
    net = lv.lookup_network(conn, name)
    if net is not None:
        bridge = lv.bridge_of(net)
    else:
        link = state.link(DEFAULT_BRIDGE)
        bridge = DEFAULT_BRIDGE if link is not None and link.is_bridge else None
    return {'bridge': bridge, 'bridge_interface': port_of(state, bridge, taps)}


def read(ctx, libvirt_network=None):
    name = libvirt_network_name(ctx, libvirt_network)

    def compute():
        conn = ctx.conn.get()
        return current(conn, network_links.Links.read(), name, lv.vm_taps(conn))
    if ctx.store.held() or os.path.exists(os.path.join(ctx.store.state_dir, PENDING_FILE)):
        # Under the mutation lock (If-Match, apply), or while a change waits
        # for its confirm (a watchdog process may revert it any moment): live.
        return compute()
    # The shim keeps the answer (a netlink dump and two libvirt calls) while no
    # domain event arrived, for at most READ_MAX_AGE: links and libvirt
    # networks have no event here, so a change made beside the shim shows
    # within that; one made through it (forget) at once.
    fingerprint = ctx.conn.changes('domains')
    return dict(ctx.conn.memo(('network', name), fingerprint, READ_MAX_AGE, compute))
