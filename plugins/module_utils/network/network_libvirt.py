# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt side of the VM bridge, read: the service's own libvirt network
(forward mode='bridge') and the taps of running domains. Changing them is
network_libvirt_apply. The XML is read with expat alone (core/xml_read)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import xml_read
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.libvirt_conn import (
    VIR_CONNECT_LIST_DOMAINS_ACTIVE, VIR_ERR_NO_NETWORK, VIR_NETWORK_XML_INACTIVE, is_libvirt_error)


def lookup_network(conn, name):
    try:
        return conn.networkLookupByName(name)
    except Exception as exc:  # pylint: disable=broad-except
        if is_libvirt_error(exc, VIR_ERR_NO_NETWORK):
            return None
        raise


def bridge_of(net):
    """The bridge a libvirt network's saved definition names (all a read needs: one call)."""
    bridge_el = xml_read.parse(net.XMLDesc(VIR_NETWORK_XML_INACTIVE)).find('bridge')
    return bridge_el.get('name') if bridge_el is not None else None


def vm_taps(conn):
    """Names of the host devices that are interfaces of running domains."""
    taps = set()
    for dom in conn.listAllDomains(VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        root = xml_read.parse(dom.XMLDesc(0))
        for target in root.findall('./devices/interface/target'):
            if target.get('dev'):
                taps.add(target.get('dev'))
    return taps
