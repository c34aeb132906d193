#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: vpe_network
short_description: Put a hypervisor's VMs on a Linux bridge over a NIC or bond, live and persistent
version_added: 0.1.0
description:
  - Makes the VM bridge true on the host, live and across reboots. The bridge exists and is up, O(bridge_interface)
    is its port, the interface's global IPv4/IPv6 addresses and its default (and other static) routes move to the
    bridge so the host stays reachable, and a libvirt network with forward mode C(bridge), named O(libvirt_network),
    points VMs at the bridge, autostarted.
  - Partial update, like C(PUT /hypervisor/network). An option not given keeps its current value;
    O(bridge) defaults to C(br100).
  - O(bridge_interface) must exist and be a NIC, a bond, or a veth that no VM uses. Refused are the loopback, a
    bridge, a VM's tap (kind tun/tap/macvtap, a name like C(vnet0), or the target device of a running domain's
    interface), a member of a bond, and an interface that is already a port of another bridge.
  - If running domains have interfaces on the current bridge, changing the bridge fails (status 409, naming the
    domains) unless O(force=true); with force their interfaces are moved to the new bridge live (and in their
    persistent configuration).
  - The live state is recorded before anything changes. If any step fails, every step done is undone and the
    previous addresses, routes and bridge membership are restored before the module fails.
  - Check mode changes nothing and returns the steps it would take in RV(actions).
  - With O(confirm_timeout), a change is commit-confirmed. Before the first step the host records its live and
    persistent network state and arms a watchdog that outlives the module and the SSH session (a transient
    systemd timer, or a detached process where systemd is not PID 1). The task's action plugin then drops the
    connection, connects again and confirms the change over that new connection. If it cannot (the change cut
    the controller off) or the deadline passed, the task fails saying the change was not confirmed, and the
    watchdog restores the old state (live, persistence files, nmcli profiles, libvirt network) at the deadline,
    so the host is reachable on its old path by itself. A reboot before confirmation reverts too (on systemd hosts
    boot units restore the files before the network starts).
  - The same operation as C(PUT /hypervisor/network) of the REST shim (C(?confirm_timeout=S) there).
options:
  bridge:
    description:
      - Name of the Linux bridge the VMs attach to, 1-15 characters of C(A-Z a-z 0-9 _ . -).
      - Defaults to the current bridge, or C(br100) when there is none.
    type: str
  bridge_interface:
    description:
      - The NIC or bond to enslave to the bridge, for example C(eth0) or C(bond0).
      - Required when no interface is a port of the bridge yet.
    type: str
  force:
    description:
      - Change the bridge even when running domains are attached to the current one; their interfaces are moved
        to the new bridge live.
    type: bool
    default: false
  persist:
    description:
      - How the setting survives a reboot.
      - V(auto) picks V(nmcli) when NetworkManager is running, else V(networkd) when systemd-networkd is active
        (its C(/run/systemd/netif/state) exists), else V(ifupdown) when C(/etc/network/interfaces) exists,
        else V(none).
      - V(networkd) writes C(/etc/systemd/network/10-vpe-bridge.netdev), C(10-vpe-bridge.network) and
        C(10-vpe-bridge-port.network).
      - V(ifupdown) writes C(/etc/network/interfaces.d/vpe-bridge) and comments out (never deletes) the stanzas
        of O(bridge_interface) in C(/etc/network/interfaces).
      - V(nmcli) creates or modifies the NetworkManager profiles C(vpe-bridge) and C(vpe-bridge-port).
      - V(none) changes the live host and libvirt only.
    type: str
    choices: [auto, networkd, ifupdown, nmcli, none]
    default: auto
  persist_root:
    description:
      - Directory the persistence files are written under, in place of C(/). For staging an image or for tests.
    type: path
    default: /
  libvirt_network:
    description:
      - Name of the libvirt network (forward mode C(bridge)) the module manages. Remembered in O(state_dir), so
        M(vpe.hypervisor.vpe_facts) and the shim report the same network.
      - Defaults to the remembered name, else C(vpe-bridge).
    type: str
  confirm_timeout:
    description:
      - Seconds within which a change must be confirmed from a new connection, else it is rolled back on the host
        by itself. V(0) changes the host as without it (no watchdog).
      - At most 86400. A run that changes nothing arms nothing and returns C(changed=false).
      - While a change waits for confirmation, another change (with or without O(confirm_timeout)) fails with
        status 409.
    type: int
    default: 0
  confirm:
    description:
      - Internal, set by the action plugin on its second connection. The id of the pending change to confirm
        (RV(pending.id)). With it the module confirms that change and does nothing else.
    type: str
notes:
  - O(confirm_timeout) needs the action plugin of this module (used automatically) to confirm. Set it long enough
    for one more connection and module run (with SSH over slow links, tens of seconds).
  - Run it with a way back to the host other than O(bridge_interface) the first time (a console), or run it in
    check mode first and read RV(actions). The addresses move within milliseconds and are restored on failure,
    but a DHCP client bound to the old interface must be pointed at the bridge by the host's network stack.
  - Needs iproute2 (the C(ip) command) on the host; live state is read from C(ip -j).
extends_documentation_fragment:
  - vpe.hypervisor.common
  - vpe.hypervisor.common.action_group
  - vpe.hypervisor.common.attributes
attributes:
  check_mode:
    support: full
    description: Changes nothing and returns the steps it would take in RV(actions).
  diff_mode:
    support: full
    description: Shows bridge and bridge_interface before and after.
author:
  - vpe.hypervisor developers (@vpe-hypervisor)
seealso:
  - module: vpe.hypervisor.vpe_facts
'''

EXAMPLES = r'''
- name: See what putting eth0 under br100 would do
  vpe.hypervisor.vpe_network:
    bridge: br100
    bridge_interface: eth0
  check_mode: true
  register: plan

- name: Put the VMs on br100 over eth0, persisted with systemd-networkd
  vpe.hypervisor.vpe_network:
    bridge: br100
    bridge_interface: eth0
    persist: networkd

- name: Move the only NIC under br100, rolled back by the host unless confirmed over a new connection within 120 s
  vpe.hypervisor.vpe_network:
    bridge: br100
    bridge_interface: eth0
    confirm_timeout: 120
  register: moved

- name: Use a bond instead, keeping the bridge name
  vpe.hypervisor.vpe_network:
    bridge_interface: bond0

- name: Rename the bridge, moving running VMs with it
  vpe.hypervisor.vpe_network:
    bridge: br200
    force: true
'''

RETURN = r'''
network:
  description: The bridge and its port after the change (what they would be, in check mode).
  returned: success
  type: dict
  contains:
    bridge:
      description: The Linux bridge the VMs attach to.
      type: str
      sample: br100
    bridge_interface:
      description: The NIC or bond that is the bridge's port.
      type: str
      sample: eth0
actions:
  description: The steps taken (or that would be taken, in check mode), in order. Empty when nothing changes.
  returned: success
  type: list
  elements: str
  sample:
    - create bridge br100 (MAC 52:54:00:12:34:56 of eth0, STP off)
    - set br100 up
    - enslave eth0 to bridge br100
    - move address 192.0.2.10/24 from eth0 to br100
    - move route default via 192.0.2.1 from eth0 to br100
    - define libvirt network vpe-bridge (forward mode bridge, bridge br100), autostart and start it
    - write /etc/systemd/network/10-vpe-bridge.netdev (networkd)
persist:
  description: The persistence method used (V(auto) resolved).
  returned: success
  type: str
  sample: networkd
domains:
  description: The running domains attached to the current bridge, when that refused the change.
  returned: failure with status 409
  type: list
  elements: str
pending:
  description:
    - The change waiting for confirmation (O(confirm_timeout) set and something changed), as confirmed by the
      action plugin, or as it stood when confirming failed.
  returned: when O(confirm_timeout) is set and the task changed the host
  type: dict
  contains:
    id:
      description: The change's id.
      type: str
      sample: 5f0c2a9e3b7d4c11
    status:
      description: V(pending), V(confirmed) or V(reverted).
      type: str
      sample: confirmed
    deadline:
      description: When the watchdog reverts an unconfirmed change, host local time.
      type: str
      sample: "2026-12-03 09:12:44"
    expires_in:
      description: Seconds left until the deadline (0 once confirmed or reverted).
      type: int
      sample: 117
    timeout:
      description: The O(confirm_timeout) it was armed with.
      type: int
      sample: 120
    watchdog:
      description: How the revert was armed, V(kind=systemd) with its V(unit), or V(kind=process) with its V(pid).
      type: dict
status:
  description:
    - HTTP-equivalent status of a failure, the same as the REST shim answers for the same request.
    - 400 bad input (see RV(field)), 404 not found, 409 conflict with the host's state, 503 libvirt unreachable.
  returned: failure
  type: int
  sample: 409
field:
  description: The option a failure is about, when it is about one.
  returned: failure, when one option is at fault
  type: str
  sample: bridge_interface
rolled_back:
  description:
    - Whether every step done before a failure was undone (addresses and routes put back).
    - V(false) means the host may be half-configured; the message lists what could not be undone.
  returned: failure after a step was applied
  type: bool
  sample: true
'''

from ansible.module_utils.basic import AnsibleModule

# First: compiles each module_utils file below once, not twice, from the payload zip (core/zip_compile_once).
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import zip_compile_once  # noqa: F401 pylint: disable=unused-import
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_apply, network_confirm
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_apply import run_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.module_common import (
    common_argument_spec, context_for, fail)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(network_apply.module_options())
    argument_spec['confirm'] = {'type': 'str'}
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params['confirm']:
        confirm(module)
    desired = {'bridge': module.params['bridge'], 'bridge_interface': module.params['bridge_interface']}
    run_apply(module, network_apply, 'network', desired, force=module.params['force'],
              persist_method=module.params['persist'], persist_root=module.params['persist_root'],
              libvirt_network=module.params['libvirt_network'], confirm_timeout=module.params['confirm_timeout'])


def confirm(module):
    """The second, confirming run: no libvirt needed, only the pending record."""
    ctx = context_for(module)
    try:
        if module.check_mode:
            module.exit_json(changed=False, pending=network_confirm.current(ctx, reconcile=False))
        module.exit_json(changed=True, pending=network_confirm.confirm(ctx, module.params['confirm']))
    except VpeError as exc:
        fail(module, exc)
    finally:
        ctx.close()


if __name__ == '__main__':
    main()
