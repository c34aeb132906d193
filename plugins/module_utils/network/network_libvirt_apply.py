# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt side of the VM bridge, changed: (re)define, autostart and start
the service's libvirt network, and move running domains' interfaces from one
bridge to another, each step with its undo."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_live as live
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_live_apply as live_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_conn import libvirt
from ansible_collections.vpe.hypervisor.plugins.module_utils.network.network_libvirt import lookup_network


def network_xml(name, bridge, uuid=None):
    root = ET.Element('network')
    ET.SubElement(root, 'name').text = name
    if uuid:
        ET.SubElement(root, 'uuid').text = uuid
    ET.SubElement(root, 'forward', mode='bridge')
    ET.SubElement(root, 'bridge', name=bridge)
    return ET.tostring(root, encoding='unicode')


def network_info(net):
    """{'bridge', 'forward', 'active', 'autostart', 'xml', 'uuid'} of a libvirt network."""
    xml = net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)
    root = ET.fromstring(xml)
    bridge_el = root.find('bridge')
    forward_el = root.find('forward')
    return {
        'bridge': bridge_el.get('name') if bridge_el is not None else None,
        'forward': forward_el.get('mode') if forward_el is not None else None,
        'active': bool(net.isActive()),
        'autostart': bool(net.autostart()),
        'xml': xml,
        'uuid': net.UUIDString(),
    }


class NetworkStep(object):
    """Define/update, autostart and start the libvirt network; undo puts the old one back."""

    def __init__(self, conn, name, bridge, info):
        self.conn = conn
        self.name = name
        self.bridge = bridge
        self.info = info  # network_info() before, or None

    def needed(self):
        info = self.info
        return (info is None or info['bridge'] != self.bridge or info['forward'] != 'bridge'
                or not info['active'] or not info['autostart'])

    def describe(self):
        info = self.info
        if info is None:
            return ('define libvirt network %s (forward mode bridge, bridge %s), autostart and start it'
                    % (self.name, self.bridge))
        parts = []
        repoint = info['bridge'] != self.bridge or info['forward'] != 'bridge'
        if repoint:
            parts.append('point libvirt network %s at bridge %s (was %s, forward mode %s)'
                         % (self.name, self.bridge, info['bridge'], info['forward']))
        if not info['autostart']:
            parts.append('autostart libvirt network %s' % self.name)
        if not info['active']:
            parts.append('start libvirt network %s' % self.name)
        elif repoint:
            parts.append('restart libvirt network %s' % self.name)
        return '; '.join(parts)

    def do(self):
        info = self.info
        net = lookup_network(self.conn, self.name)
        if info is None or info['bridge'] != self.bridge or info['forward'] != 'bridge':
            if net is not None and net.isActive():
                net.destroy()
            net = self.conn.networkDefineXML(network_xml(self.name, self.bridge, info and info['uuid']))
        if not net.autostart():
            net.setAutostart(1)
        if not net.isActive():
            net.create()

    def undo(self):
        net = lookup_network(self.conn, self.name)
        if self.info is None:
            if net is not None:
                if net.isActive():
                    net.destroy()
                net.undefine()
            return
        if net is not None and net.isActive() and (self.info['bridge'] != self.bridge or not self.info['active']):
            net.destroy()
        net = self.conn.networkDefineXML(self.info['xml'])
        net.setAutostart(1 if self.info['autostart'] else 0)
        if self.info['active'] and not net.isActive():
            net.create()


def attached_domains(conn, bridge, network_name):
    """[(domain, interface element)] of running domains whose interface is on `bridge`."""
    found = []
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        root = ET.fromstring(dom.XMLDesc(0))
        for iface in root.findall('./devices/interface'):
            source = iface.find('source')
            if source is None:
                continue
            kind = iface.get('type')
            if kind == 'bridge' and source.get('bridge') == bridge:
                found.append((dom, iface))
            elif kind == 'network' and source.get('network') == network_name and source.get('bridge', bridge) == bridge:
                found.append((dom, iface))
    return found


def _mac(iface):
    mac = iface.find('mac')
    return mac.get('address') if mac is not None else None


def _target(iface):
    target = iface.find('target')
    return target.get('dev') if target is not None else None


class DomainMove(object):
    """Move one running domain's interface from bridge `old` to `new`, live (and in its config)."""

    def __init__(self, dom, iface, old, new):
        self.dom = dom
        self.name = dom.name()
        self.iface = iface
        self.old = old
        self.new = new
        self.mac = _mac(iface)
        self.dev = _target(iface)
        self.done_live = False
        self.done_config = False

    def describe(self):
        return 'move interface %s (%s) of running domain %s from bridge %s to %s' % (
            self.dev, self.mac, self.name, self.old, self.new)

    def _update(self, iface_el, bridge, flags):
        el = ET.fromstring(ET.tostring(iface_el, encoding='unicode'))
        el.find('source').set('bridge', bridge)
        self.dom.updateDeviceFlags(ET.tostring(el, encoding='unicode'), flags)

    def _config_iface(self):
        if not self.dom.isPersistent():
            return None
        root = ET.fromstring(self.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        for iface in root.findall('./devices/interface'):
            if _mac(iface) == self.mac and iface.get('type') == 'bridge':
                return iface
        return None

    def _move(self, src, dst):
        if self.iface.get('type') == 'bridge':
            try:
                self._update(self.iface, dst, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            except libvirt.libvirtError:
                # a hypervisor that cannot change the bridge live: move the tap ourselves
                live_apply.set_master(self.dev, dst)
            config = self._config_iface()
            if config is not None and config.find('source').get('bridge') == src:
                self._update(config, dst, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        else:
            # type='network': the network now points at the new bridge; the tap moves here
            live_apply.set_master(self.dev, dst)

    def do(self):
        self._move(self.old, self.new)
        self.done_live = True
        link = live.LiveState.read().link(self.dev)
        if link is None or link.master != self.new:
            raise VpeError('interface %s of domain %s is not on bridge %s after the move' % (
                self.dev, self.name, self.new))

    def undo(self):
        if self.done_live:
            self._move(self.new, self.old)
