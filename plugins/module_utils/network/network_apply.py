# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""network.apply: make the bridge and its port as desired.

Partial: a field not given keeps its current value; `bridge` defaults to
br100. Steps, in order: create the bridge (with the port's MAC, STP off,
forward delay 0) and set it up; enslave the port; copy the global IPv4/IPv6
addresses of the port (and of the bridge it was on before) to the bridge; move
the default and static routes through them to the bridge; remove the old
addresses; define, autostart and start the libvirt network; move running
domains' interfaces (only with force); persist. Where systemd-networkd runs,
its files are written and reloaded right after the addresses are on the bridge
and before the port moves (it would move the port back otherwise, and the
reload takes the port's addresses away at once). The live state before is
recorded first; if any step fails, everything done is undone and the
addresses, routes, masters and links of before are restored, then the error
is raised. Check mode computes the same steps and runs none.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import state_write
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import fields
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_libvirt as lv
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_libvirt_apply as lv_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_live as live
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_live_apply as live_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_confirm
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_pending
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_persist
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Change
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput, VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.network.network import (
    DEFAULT_BRIDGE, ENV_PERSIST, ENV_PERSIST_ROOT, STATE_KEY, RESOURCE, current, is_vm_device, libvirt_network_name)

PORT_KINDS = (None, 'bond', 'veth')


class NetworkChange(Change):
    """A Change whose extra result keys are `actions` (the planned steps, in words),
    `persist` (the persistence used) and, for a change waiting for confirmation,
    `pending` (its public record); named here for the shim and the tests."""

    def __new__(cls, changed, before, after, actions=(), persist_method=None, warnings=(), pending=None):
        extra = {'actions': list(actions), 'persist': persist_method}
        if pending is not None:
            extra['pending'] = pending
        return Change.__new__(cls, changed, before, after, extra, warnings)

    actions = property(lambda self: self.extra['actions'])
    persist = property(lambda self: self.extra['persist'])
    pending = property(lambda self: self.extra.get('pending'))


class Plan(object):
    """The steps of a change and what a confirmed change's watchdog must restore."""

    def __init__(self, steps, devices, warnings, persist_ops, net_step, moves):
        self.steps = steps
        self.devices = devices
        self.warnings = warnings
        self.persist_ops = persist_ops
        self.net_step = net_step
        self.moves = moves


class Step(object):
    """One change: its words for the user (None: part of the step before), do and undo."""

    def __init__(self, text, do, undo=None):
        self.text = text
        self.do = do
        self.undo = undo


def check_interface(state, iface, bridge, old_bridge, taps):
    """Raise unless `iface` may be the bridge's port. The rule:

    it exists; it is not the loopback, a bridge, a VM's
    tap/vnet/macvtap (by kind, by name vnetN/tapN/macvtapN/vifN, or named as
    the target of a running domain's interface), nor a member of a bond; its
    kind is a plain NIC (no link kind), a bond, or a veth that no domain uses;
    and it is not already a port of another bridge than the current or the new
    VM bridge (a veth on another bridge is a VM's or container's end).
    """
    link = state.link(iface)
    if link is None:
        raise InvalidInput('bridge_interface %s does not exist on this host; give an existing NIC or bond'
                           % iface, field='bridge_interface')
    if link.is_loopback:
        raise InvalidInput('bridge_interface %s is the loopback interface; give a NIC or bond' % iface,
                           field='bridge_interface')
    if link.is_bridge:
        raise InvalidInput('bridge_interface %s is a bridge; give the NIC or bond to put under %s'
                           % (iface, bridge), field='bridge_interface')
    if is_vm_device(link, taps):
        raise InvalidInput('bridge_interface %s is a VM tap (%s); give a NIC or bond'
                           % (iface, link.kind or 'a running domain\'s interface'), field='bridge_interface')
    if link.slave_kind == 'bond':
        raise InvalidInput('bridge_interface %s is a member of bond %s; give the bond' % (iface, link.master),
                           field='bridge_interface')
    if link.kind not in PORT_KINDS or (link.kind is None and link.link_type != 'ether'):
        raise InvalidInput('bridge_interface %s is a %s interface; only a NIC, a bond or a veth no VM uses '
                           'can be the bridge\'s port' % (iface, link.kind or link.link_type),
                           field='bridge_interface')
    if link.master and link.master not in (bridge, old_bridge):
        raise Conflict('bridge_interface %s is already a port of %s%s; release it first'
                       % (iface, link.master, ' (a VM\'s or container\'s veth end)' if link.kind == 'veth' else ''),
                       field='bridge_interface')


def check_bridge(state, bridge):
    link = state.link(bridge)
    if link is not None and not link.is_bridge:
        raise InvalidInput('bridge %s exists and is not a bridge (it is a %s interface); choose another name'
                           % (bridge, link.kind or link.link_type), field='bridge')


def _gateways(routes):
    return [r['gateway'] for r in routes
            if r.get('dst', 'default') == 'default' and r.get('gateway') and r.get('protocol') != 'dhcp']


def _plan(conn, state, taps, bridge, iface, name, before, force, method, root):
    """The steps (in order) that make the host match; empty when it does."""
    old_bridge = before['bridge']
    if iface == bridge:
        raise InvalidInput('bridge_interface must differ from bridge (both are %s)' % iface, field='bridge_interface')
    check_bridge(state, bridge)
    check_interface(state, iface, bridge, old_bridge, taps)
    link = state.link(iface)
    bridge_steps, port_steps, address_steps, steps = [], [], [], []
    blink = state.link(bridge)
    mac = blink.mac if blink is not None else link.mac
    if blink is None:
        bridge_steps.append(Step('create bridge %s (MAC %s of %s, STP off)' % (bridge, mac, iface),
                                 lambda: live_apply.create_bridge(bridge, mac)))
    if blink is None or not blink.up:
        bridge_steps.append(Step('set %s up' % bridge, lambda: live_apply.set_up(bridge)))
    for other in state.ports(bridge):
        if other != iface and not is_vm_device(state.link(other), taps):
            port_steps.append(Step('release %s from bridge %s' % (other, bridge),
                                   lambda other=other: live_apply.set_master(other, None)))
    sources = [iface]
    if link.master and link.master != bridge and state.link(link.master).is_bridge:
        sources.append(link.master)
    if link.master != bridge:
        port_steps.append(Step('enslave %s to bridge %s%s' % (iface, bridge,
                                                              ' (out of %s)' % link.master if link.master else ''),
                               lambda: live_apply.set_master(iface, bridge)))
    if not link.up:
        port_steps.append(Step('set %s up' % iface, lambda: live_apply.set_up(iface)))
    moved_addrs = []
    moved_routes = []
    for src in sources:
        for addr in state.global_addresses(src):
            moved_addrs.append((src, addr))
            address_steps.append(Step('move address %s from %s to %s' % (live.describe_address(addr), src, bridge),
                                      lambda addr=addr: live_apply.add_address(bridge, addr)))
    for src in sources:
        for route in state.movable_routes(src):
            moved_routes.append(route)
            steps.append(Step('move route %s from %s to %s' % (live.describe_route(route), src, bridge),
                              lambda route=route: live_apply.replace_route(route, bridge)))
    for src, addr in reversed(moved_addrs):
        steps.append(Step(None, lambda src=src, addr=addr: live_apply.del_address(src, addr)))
    for route in moved_routes:
        steps.append(Step(None, lambda route=route: live_apply.del_route(route)))

    net = lv.lookup_network(conn, name)
    net_step = lv_apply.NetworkStep(conn, name, bridge, lv_apply.network_info(net) if net is not None else None)
    if net_step.needed():
        steps.append(Step(net_step.describe(), net_step.do, net_step.undo))
    moves = []

    if old_bridge and old_bridge != bridge:
        attached = lv_apply.attached_domains(conn, old_bridge, name)
        if attached and not force:
            names = sorted(set(dom.name() for dom, _iface in attached))
            raise Conflict('running domains are attached to bridge %s: %s; changing the bridge to %s would cut '
                           'them off: stop them or use force to move their interfaces live'
                           % (old_bridge, ', '.join(names), bridge), field='bridge', domains=names)
        for dom, dom_iface in attached:
            move = lv_apply.DomainMove(dom, dom_iface, old_bridge, bridge)
            moves.append(move)
            steps.append(Step(move.describe(), move.do, move.undo))

    # what the bridge carries once the steps ran, for the persisted config
    final_addrs = state.global_addresses(bridge) + [a for _s, a in moved_addrs]
    final_routes = state.movable_routes(bridge) + moved_routes
    static_addrs = [a for a in final_addrs if not a.get('dynamic')]  # DHCP/SLAAC ones come back by themselves
    cfg = network_persist.BridgeConfig(
        bridge, iface, mac,
        [live.describe_address(a) for a in static_addrs],
        _gateways(final_routes),
        any(a.get('dynamic') and a['family'] == 'inet' for a in final_addrs),
        {live.describe_address(a): a['broadcast'] for a in static_addrs
         if a['family'] == 'inet' and a.get('broadcast')})
    persist_ops = network_persist.plan(method, cfg, root)
    persist_steps = [Step('%s (%s)' % (op.describe(), method), op.do, op.undo) for op in persist_ops]
    if method == 'networkd' and persist_steps and network_persist.networkd_running(root):
        # The reload moves the port and drops its addresses at once: they are on the bridge before it.
        steps = bridge_steps + address_steps + _networkd_first(persist_steps) + port_steps + steps
    else:
        steps = bridge_steps + port_steps + address_steps + steps + persist_steps
    devices = [bridge] + sources + [o for o in state.ports(bridge) if o != iface] + [m.dev for m in moves if m.dev]
    return Plan(steps, devices, _only_address_warnings(state, moved_addrs, bridge), persist_ops,
                net_step if net_step.needed() else None, moves)


def _networkd_first(persist_steps):
    """The networkd files first, reloaded, then the live steps (which find some done and are idempotent).

    A running networkd reconfigures a port whose master changes from the files
    it has loaded: left with the old files it puts the port back into the old
    bridge seconds later, after the address moved (the host is lost). The
    reload follows the last write; on rollback, after the first write's undo
    (undone last), so networkd holds the old files again before the live
    state is restored."""
    last = persist_steps[-1]
    persist_steps[-1] = Step(last.text + ', then networkctl reload', _then_reload(last.do), last.undo)
    first = persist_steps[0]  # the same step when there is one
    persist_steps[0] = Step(first.text, first.do, _then_reload(first.undo))
    return persist_steps


def _then_reload(fn):
    def run():
        fn()
        network_persist.reload_networkd()
    return run


def _only_address_warnings(state, moved_addrs, bridge):
    """Say so when the addresses that move are all the host has: its reachability rides on this change."""
    moving = set(live.address_key(a) for _s, a in moved_addrs)
    others = [a for dev in state.addresses for a in state.global_addresses(dev) if live.address_key(a) not in moving]
    if not moved_addrs or others:
        return []
    srcs = sorted(set(s for s, _a in moved_addrs))
    return ['%s carr%s this host\'s only global address%s (%s): %s to %s, and back if any step fails; '
            'keep a console at hand the first time'
            % (', '.join(srcs), 'ies' if len(srcs) == 1 else 'y', 'es' if len(moved_addrs) > 1 else '',
               ', '.join(live.describe_address(a) for _s, a in moved_addrs),
               'it moves' if len(moved_addrs) == 1 else 'they move', bridge)]


def _rollback(done, snapshot, devices):
    errors = []
    for step in reversed(done):
        if step.undo is None:
            continue
        try:
            step.undo()
        except Exception as exc:  # keep undoing: the addresses must come back whatever failed
            errors.append('%s: %s' % (step.text, exc))
    errors += live_apply.restore(snapshot, devices)
    return errors


def _record(ctx, conn, name, state, before, after, actions, plan, method, root):
    """What the watchdog of a confirmed change restores (network_pending), read before any step runs."""
    files = {}
    for op in plan.persist_ops:
        if isinstance(op, network_persist.FileWrite):
            try:
                with open(op.path) as handle:
                    files[op.path] = handle.read()
            except (IOError, OSError):
                files[op.path] = None
    net = plan.net_step
    return {
        'before': before, 'after': after, 'actions': actions, 'uri': conn.getURI(), 'persist': method,
        'persist_root': root,
        'live': state.as_dict(), 'devices': plan.devices, 'files': files,
        'nmcli': network_persist.read_nmcli_profiles() if method == 'nmcli' and plan.persist_ops else None,
        'libvirt_network': {'name': name, 'before': net.info} if net is not None else None,
        'domains': [{'domain': m.name, 'mac': m.mac, 'dev': m.dev, 'old': m.old, 'new': m.new} for m in plan.moves],
        'remembered': ctx.store.read().get(STATE_KEY, {}).get('libvirt_network'),
    }


def apply(ctx, desired, check_mode=False, force=False, persist_method=None, persist_root=None,
          libvirt_network=None, confirm_timeout=0):
    """Make the bridge and its port as desired; see the module docstring for the steps.

    With `confirm_timeout` (seconds), a change arms a watchdog first
    (network_confirm) that reverts it unless network_confirm.confirm is called
    by the deadline; the change's `pending` says when."""
    timeout = network_confirm.check_timeout(confirm_timeout)
    wanted = fields.check_body(RESOURCE, desired)
    name = libvirt_network_name(ctx, libvirt_network)
    root = persist_root or os.environ.get(ENV_PERSIST_ROOT) or '/'
    method = network_persist.resolve(persist_method or os.environ.get(ENV_PERSIST) or 'auto', root)
    with state_write.locked(ctx.store):
        if not check_mode:
            network_confirm.revert_overdue(ctx)  # before reading the host: the plan starts from what stays
        conn = ctx.conn.get()
        state = live.LiveState.read()
        taps = lv.vm_taps(conn)  # one XMLDesc per running domain: read once for both
        before = current(conn, state, name, taps)
        bridge = wanted.get('bridge') or before['bridge'] or DEFAULT_BRIDGE
        iface = wanted.get('bridge_interface') or before['bridge_interface']
        if iface is None:
            raise InvalidInput('bridge_interface is required: no NIC or bond is a port of bridge %s yet' % bridge,
                               field='bridge_interface')
        after = {'bridge': bridge, 'bridge_interface': iface}
        plan = _plan(conn, state, taps, bridge, iface, name, before, force, method, root)
        steps, devices, warnings = plan.steps, plan.devices, plan.warnings
        actions = [s.text for s in steps if s.text]
        if check_mode or not steps:
            _remember(ctx, name, check_mode)
            return NetworkChange(bool(steps), before, after, actions, method, warnings)
        network_confirm.refuse_if_pending(ctx)
        record = None
        if timeout:
            record = network_confirm.arm(ctx, _record(ctx, conn, name, state, before, after, actions, plan, method, root),
                                         timeout)
        done = []
        for step in steps:
            try:
                step.do()
            except BaseException as exc:
                errors = _rollback(done, state, devices)
                if record is not None and not errors:
                    network_confirm.disarm(ctx, record)  # else the watchdog tries again at the deadline
                detail = '%s failed: %s' % (step.text or 'the step after "%s"' % (done[-1].text if done else ''),
                                            getattr(exc, 'detail', None) or exc)
                if errors:
                    detail += '; rolling back also met errors: %s' % '; '.join(errors)
                else:
                    detail += '; the previous configuration was restored'
                if isinstance(exc, VpeError):
                    exc.detail = detail
                    exc.args = (detail,)
                    exc.extra.setdefault('rolled_back', not errors)
                    raise
                if isinstance(exc, Exception):
                    raise VpeError(detail, rolled_back=not errors)
                raise
            done.append(step)
        _remember(ctx, name, check_mode)
        return NetworkChange(True, before, after, actions, method, warnings,
                             network_pending.view(record) if record is not None else None)


def _remember(ctx, name, check_mode):
    """Keep the libvirt network's name so facts and the shim read the same network."""
    if check_mode:
        return
    if ctx.store.read().get(STATE_KEY, {}).get('libvirt_network') != name:
        with state_write.transaction(ctx.store) as state:
            state.setdefault(STATE_KEY, {})['libvirt_network'] = name


def module_options():
    """A bridge change's module options (vpe_network's, and vpe_host's network):
    the fields of the table and how the change is made."""
    options = fields.argument_spec(RESOURCE)
    options.update({
        'force': {'type': 'bool', 'default': False},
        'persist': {'type': 'str', 'default': 'auto', 'choices': list(network_persist.METHODS)},
        'persist_root': {'type': 'path', 'default': '/'},
        'libvirt_network': {'type': 'str'},
        'confirm_timeout': {'type': 'int', 'default': 0},
    })
    return options
