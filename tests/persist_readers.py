"""Readers of the files vpe_network persists, back into a BridgeConfig: only
the tests read them back (the module writes them and compares text)."""

import os

from ansible_collections.vpe.hypervisor.plugins.module_utils.network.network_persist import (
    IFUPDOWN_FILE, NETWORKD_DIR, NETWORKD_NETDEV, NETWORKD_NETWORK, NETWORKD_PORT, BridgeConfig, path_in)


def _ini(text):
    """section -> [(key, value)] of a systemd unit-style file."""
    sections = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in '#;':
            continue
        if line.startswith('[') and line.endswith(']'):
            current = sections.setdefault(line[1:-1], [])
        elif '=' in line and current is not None:
            key, value = line.split('=', 1)
            current.append((key.strip(), value.strip()))
    return sections


def _first(pairs, key):
    for k, v in pairs:
        if k == key:
            return v
    return None


def read_networkd(root='/'):
    """The BridgeConfig our networkd files describe, or None."""
    texts = {}
    for name in (NETWORKD_NETDEV, NETWORKD_NETWORK, NETWORKD_PORT):
        try:
            with open(path_in(root, os.path.join(NETWORKD_DIR, name))) as handle:
                texts[name] = _ini(handle.read())
        except (IOError, OSError):
            return None
    netdev = texts[NETWORKD_NETDEV].get('NetDev', [])
    network = texts[NETWORKD_NETWORK].get('Network', [])
    port_match = texts[NETWORKD_PORT].get('Match', [])
    port_net = texts[NETWORKD_PORT].get('Network', [])
    bridge = _first(netdev, 'Name')
    if _first(netdev, 'Kind') != 'bridge' or _first(port_net, 'Bridge') != bridge:
        return None
    dhcp = (_first(network, 'DHCP') or 'no').lower() in ('yes', 'ipv4', 'true')
    addresses = [v for k, v in network if k == 'Address']
    broadcasts = {}
    for key, value in texts[NETWORKD_NETWORK].get('Address', []):  # every [Address] section, in order
        if key == 'Address':
            addresses.append(value)
        elif key == 'Broadcast':
            broadcasts[addresses[-1]] = value
    return BridgeConfig(bridge, _first(port_match, 'Name'), _first(netdev, 'MACAddress'), addresses,
                        [v for k, v in network if k == 'Gateway'], dhcp, broadcasts)


def parse_ifupdown(text):
    """The BridgeConfig an interfaces(5) text describes (the stanza with bridge_ports), or None."""
    stanzas = []
    current = None
    for raw in text.splitlines():
        line = raw.split('#', 1)[0].rstrip()
        if not line.strip():
            continue
        words = line.split()
        if words[0] == 'iface' and len(words) >= 4:
            current = {'name': words[1], 'family': words[2], 'method': words[3], 'opts': []}
            stanzas.append(current)
        elif words[0] in ('auto', 'source', 'source-directory', 'mapping') or words[0].startswith('allow-'):
            current = None
        elif current is not None and raw[:1].isspace():
            current['opts'].append((words[0], ' '.join(words[1:])))
    bridges = [s for s in stanzas if _first(s['opts'], 'bridge_ports')]
    if not bridges:
        return None
    bridge = bridges[0]['name']
    port = _first(bridges[0]['opts'], 'bridge_ports').split()[0]
    mac = None
    addresses, gateways, dhcp = [], [], False
    for stanza in stanzas:
        if stanza['name'] != bridge:
            continue
        hw = _first(stanza['opts'], 'hwaddress')
        if hw:
            mac = hw.split()[-1]
        if stanza['method'] == 'dhcp' and stanza['family'] == 'inet':
            dhcp = True
        addresses += [v for k, v in stanza['opts'] if k == 'address']
        gateways += [v for k, v in stanza['opts'] if k == 'gateway']
    v4 = [a for a in addresses if ':' not in a]
    v6 = [a for a in addresses if ':' in a]
    return BridgeConfig(bridge, port, mac, v4 + v6, gateways, dhcp)


def read_ifupdown(root='/'):
    try:
        with open(path_in(root, IFUPDOWN_FILE)) as handle:
            return parse_ifupdown(handle.read())
    except (IOError, OSError):
        return None
