# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persisting the VM bridge for the host's network stack, and reading it back.

A `BridgeConfig` (bridge, port, MAC, addresses, gateways, DHCP) is rendered
as files for systemd-networkd or ifupdown, or as nmcli commands for
NetworkManager. Every path is under a root directory (`/` on a real host) so
tests write into temporary directories.

Files written (fixed names, rewritten when the setting changes, so a renamed
bridge leaves nothing stale behind):

- networkd: etc/systemd/network/10-vpe-bridge.netdev, 10-vpe-bridge.network,
  10-vpe-bridge-port.network (the 10- prefix sorts before distribution files,
  and networkd applies the first .network file that matches).
- ifupdown: etc/network/interfaces.d/vpe-bridge; stanzas for the port in
  etc/network/interfaces are commented out (marked `#vpe# `), never deleted.
- nmcli: connection profiles `vpe-bridge` and `vpe-bridge-port`.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import atomic_file
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import InvalidInput, VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.network.network_live import CommandFailed, run

METHODS = ('auto', 'networkd', 'ifupdown', 'nmcli', 'none')
HEADER = '# Written by vpe.hypervisor (vpe_network / PUT /hypervisor/network); changes here are overwritten.\n'
NETWORKD_DIR = 'etc/systemd/network'
NETWORKD_NETDEV = '10-vpe-bridge.netdev'
NETWORKD_NETWORK = '10-vpe-bridge.network'
NETWORKD_PORT = '10-vpe-bridge-port.network'
IFUPDOWN_MAIN = 'etc/network/interfaces'
IFUPDOWN_FILE = 'etc/network/interfaces.d/vpe-bridge'
IFUPDOWN_MARK = '#vpe# '
NM_BRIDGE = 'vpe-bridge'
NM_PORT = 'vpe-bridge-port'
NM_PROFILES = (NM_BRIDGE, NM_PORT)
NETWORKD_UNIT = 'systemd-networkd.service'


class BridgeConfig(object):
    """What survives a reboot: the bridge, its port and the bridge's IP setup."""

    def __init__(self, bridge, port, mac=None, addresses=(), gateways=(), dhcp4=False, broadcasts=None):
        self.bridge = bridge
        self.port = port
        self.mac = mac
        self.addresses = list(addresses)   # 'a.b.c.d/nn' and 'x::y/nn', static ones
        self.gateways = list(gateways)     # default gateways, v4 and v6
        self.dhcp4 = dhcp4
        self.broadcasts = dict(broadcasts or {})  # 'a.b.c.d/nn' -> its live IPv4 broadcast, where it has one

    def as_dict(self):
        return {'bridge': self.bridge, 'bridge_interface': self.port, 'mac': self.mac,
                'addresses': self.addresses, 'gateways': self.gateways, 'dhcp4': self.dhcp4,
                'broadcasts': self.broadcasts}


def path_in(root, relative):
    return os.path.join(root or '/', relative)


def detect(root='/'):
    """The network stack that is active: nmcli, networkd, ifupdown or none.

    NetworkManager counts when `nmcli` says it is running (only checked on the
    real root); systemd-networkd when its runtime state file
    run/systemd/netif/state exists; ifupdown when etc/network/interfaces exists.
    """
    if (root or '/') == '/' and shutil.which('nmcli'):
        try:
            if run(['nmcli', '-t', '-f', 'RUNNING', 'general']).strip() == 'running':
                return 'nmcli'
        except CommandFailed:
            pass
    if os.path.exists(path_in(root, 'run/systemd/netif/state')):
        return 'networkd'
    if os.path.exists(path_in(root, IFUPDOWN_MAIN)):
        return 'ifupdown'
    return 'none'


def resolve(method, root='/'):
    if method not in METHODS:
        raise InvalidInput('persist must be one of %s, got %r' % (', '.join(METHODS), method), field='persist')
    return detect(root) if method == 'auto' else method


# -- systemd-networkd ------------------------------------------------------------

def render_networkd(cfg):
    netdev = HEADER + '[NetDev]\nName=%s\nKind=bridge\n' % cfg.bridge
    if cfg.mac:
        netdev += 'MACAddress=%s\n' % cfg.mac
    netdev += '\n[Bridge]\nSTP=no\nForwardDelaySec=0\n'
    network = HEADER + '[Match]\nName=%s\n\n[Network]\n' % cfg.bridge
    if cfg.dhcp4:
        network += 'DHCP=ipv4\n'
    for gw in cfg.gateways:
        network += 'Gateway=%s\n' % gw
    network += 'ConfigureWithoutCarrier=yes\n'
    for addr in cfg.addresses:
        network += _networkd_address(addr, cfg.broadcasts.get(addr))
    port = HEADER + '[Match]\nName=%s\n\n[Network]\nBridge=%s\n' % (cfg.port, cfg.bridge)
    return {
        os.path.join(NETWORKD_DIR, NETWORKD_NETDEV): netdev,
        os.path.join(NETWORKD_DIR, NETWORKD_NETWORK): network,
        os.path.join(NETWORKD_DIR, NETWORKD_PORT): port,
    }


def _networkd_address(addr, broadcast):
    """An [Address] section that says the live address exactly, broadcast included.

    networkd (252) removes an address it finds on the link unless it equals
    the one its file asks for, broadcast compared, and then adds it again: for
    ~0.2 s the moved address (maybe the host's only one) is on no interface.
    With the live broadcast written out it adopts the address in place."""
    section = '\n[Address]\nAddress=%s\n' % addr
    if broadcast:
        section += 'Broadcast=%s\n' % broadcast
    return section


# -- ifupdown ------------------------------------------------------------------

def render_ifupdown(cfg):
    lines = [HEADER.rstrip('\n'), 'auto %s' % cfg.port, 'iface %s inet manual' % cfg.port, '',
             'auto %s' % cfg.bridge]
    v4 = [a for a in cfg.addresses if ':' not in a]
    v6 = [a for a in cfg.addresses if ':' in a]
    gw4 = [g for g in cfg.gateways if ':' not in g]
    gw6 = [g for g in cfg.gateways if ':' in g]
    bridge_opts = ['    bridge_ports %s' % cfg.port, '    bridge_stp off', '    bridge_fd 0',
                   '    bridge_maxwait 0']
    if cfg.mac:
        bridge_opts.append('    hwaddress ether %s' % cfg.mac)
    if cfg.dhcp4:
        lines.append('iface %s inet dhcp' % cfg.bridge)
        lines += bridge_opts
    elif v4:
        lines.append('iface %s inet static' % cfg.bridge)
        lines.append('    address %s' % v4[0])
        if gw4:
            lines.append('    gateway %s' % gw4[0])
        lines += bridge_opts
    else:
        lines.append('iface %s inet manual' % cfg.bridge)
        lines += bridge_opts
    for addr in v4[1:] if not cfg.dhcp4 else v4:
        lines += ['', 'iface %s inet static' % cfg.bridge, '    address %s' % addr]
    for index, addr in enumerate(v6):
        lines += ['', 'iface %s inet6 static' % cfg.bridge, '    address %s' % addr]
        if index == 0 and gw6:
            lines.append('    gateway %s' % gw6[0])
    return {IFUPDOWN_FILE: '\n'.join(lines) + '\n'}


def comment_out_port(text, port):
    """interfaces(5) text with the stanzas and auto lines of `port` commented out."""
    out = []
    inside = False
    for raw in text.splitlines():
        words = raw.split('#', 1)[0].split()
        if words and not raw[:1].isspace():
            inside = False
            if words[0] == 'iface' and len(words) > 1 and words[1] == port:
                inside = True
                out.append(IFUPDOWN_MARK + raw)
                continue
            if (words[0] == 'auto' or words[0].startswith('allow-')) and port in words[1:]:
                rest = [w for w in words[1:] if w != port]
                out.append(IFUPDOWN_MARK + raw)
                if rest:
                    out.append(' '.join([words[0]] + rest))
                continue
        elif inside and raw.strip():
            out.append(IFUPDOWN_MARK + raw)
            continue
        out.append(raw)
    return '\n'.join(out) + ('\n' if text.endswith('\n') or not text else '')


def ifupdown_main_change(root, port):
    """(path, new text) for etc/network/interfaces when it still configures `port`, else None."""
    path = path_in(root, IFUPDOWN_MAIN)
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError):
        return None
    new = comment_out_port(text, port)
    return (IFUPDOWN_MAIN, new) if new != text else None


# -- NetworkManager --------------------------------------------------------------

def render_nmcli(cfg):
    """The nmcli settings of the two profiles (name -> [(setting, value)])."""
    v4 = [a for a in cfg.addresses if ':' not in a]
    v6 = [a for a in cfg.addresses if ':' in a]
    gw4 = [g for g in cfg.gateways if ':' not in g]
    gw6 = [g for g in cfg.gateways if ':' in g]
    bridge = [('connection.interface-name', cfg.bridge), ('bridge.stp', 'no'), ('bridge.forward-delay', '0'),
              ('connection.autoconnect', 'yes')]
    if cfg.mac:
        bridge.append(('bridge.mac-address', cfg.mac.upper()))
    if cfg.dhcp4:
        bridge.append(('ipv4.method', 'auto'))
    elif v4:
        bridge += [('ipv4.method', 'manual'), ('ipv4.addresses', ','.join(v4)), ('ipv4.gateway', gw4[0] if gw4 else '')]
    else:
        bridge.append(('ipv4.method', 'disabled'))
    if v6:
        bridge += [('ipv6.method', 'manual'), ('ipv6.addresses', ','.join(v6)), ('ipv6.gateway', gw6[0] if gw6 else '')]
    else:
        bridge.append(('ipv6.method', 'ignore'))
    port = [('connection.interface-name', cfg.port), ('connection.master', cfg.bridge),
            ('connection.slave-type', 'bridge'), ('connection.autoconnect', 'yes'),
            ('connection.autoconnect-priority', '100')]
    return {NM_BRIDGE: bridge, NM_PORT: port}


def nmcli_commands(cfg, existing):
    """nmcli argv lists that make the profiles match `cfg`; `existing`: name -> settings dict or None."""
    wanted = render_nmcli(cfg)
    commands = []
    for name, kind in ((NM_BRIDGE, 'bridge'), (NM_PORT, 'ethernet')):
        have = existing.get(name)
        settings = wanted[name]
        if have is not None and all(_nm_equal(have.get(k), v) for k, v in settings):
            continue
        flat = [x for pair in settings for x in pair]
        if have is None:
            commands.append(['nmcli', 'connection', 'add', 'type', kind, 'con-name', name] + flat)
        else:
            commands.append(['nmcli', 'connection', 'modify', name] + flat)
    return commands


def _nm_equal(have, want):
    have = (have or '').strip()
    if have in ('--',):
        have = ''
    return have.replace(' ', '').lower() == want.replace(' ', '').lower()


def parse_nmcli_show(text):
    """settings dict from `nmcli -t -f all connection show NAME` (`key:value` lines)."""
    settings = {}
    for line in text.splitlines():
        if ':' in line:
            key, value = line.split(':', 1)
            settings[key.strip()] = value.replace('\\:', ':').strip()
    return settings


def read_nmcli_profiles():
    profiles = {}
    for name in NM_PROFILES:
        try:
            profiles[name] = parse_nmcli_show(run(['nmcli', '-t', 'connection', 'show', name]))
        except CommandFailed:
            profiles[name] = None
    return profiles


def persist_paths(root='/'):
    """Every file this module ever writes under `root`: the only ones a revert may put back."""
    names = [os.path.join(NETWORKD_DIR, n) for n in (NETWORKD_NETDEV, NETWORKD_NETWORK, NETWORKD_PORT)]
    return frozenset(path_in(root, rel) for rel in names + [IFUPDOWN_MAIN, IFUPDOWN_FILE])


def is_networkd_file(path):
    return os.path.dirname(path).endswith('/' + NETWORKD_DIR)


def networkd_running(root='/'):
    """True when files under `root` are the live host's and systemd-networkd runs: it must reload them.

    A networkd that keeps its loaded files while the port changes bridge puts
    the port back into the bridge those files name, seconds later."""
    if (root or '/') != '/' or not shutil.which('networkctl') or not shutil.which('systemctl'):
        return False
    return subprocess.call(['systemctl', 'is-active', '--quiet', NETWORKD_UNIT],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def reload_networkd():
    run(['networkctl', 'reload'])


# -- planning and writing ----------------------------------------------------------

class FileWrite(object):
    """Write `text` to root/relative atomically; remembers the old content for undo."""

    def __init__(self, root, relative, text):
        self.root = root
        self.relative = relative
        self.path = path_in(root, relative)
        self.text = text
        self.old = None
        self.existed = False

    def describe(self):
        return 'write %s' % os.path.join('/', self.relative)

    def do(self):
        try:
            with open(self.path) as handle:
                self.old = handle.read()
            self.existed = True
        except (IOError, OSError):
            self.existed = False
        atomic_write(self.path, self.text)

    def undo(self):
        if self.existed:
            atomic_write(self.path, self.old)
        elif os.path.exists(self.path):
            os.unlink(self.path)


class NmcliRun(object):
    def __init__(self, argv):
        self.argv = argv

    def describe(self):
        return 'run %s' % ' '.join(self.argv)

    def do(self):
        run(self.argv)

    def undo(self):
        pass  # profiles are not active until the next boot; the next apply rewrites them


def atomic_write(path, text):
    try:
        atomic_file.write(path, text, 0o644, make_dir=True)
    except (IOError, OSError) as exc:
        raise VpeError('cannot write %s: %s' % (path, exc))


def _current_text(root, relative):
    try:
        with open(path_in(root, relative)) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def plan(method, cfg, root='/'):
    """The operations (FileWrite / NmcliRun) that persist `cfg`; empty when already so."""
    if method == 'none':
        return []
    if method == 'nmcli':
        return [NmcliRun(argv) for argv in nmcli_commands(cfg, read_nmcli_profiles())]
    files = render_networkd(cfg) if method == 'networkd' else render_ifupdown(cfg)
    ops = [FileWrite(root, rel, text) for rel, text in sorted(files.items())
           if _current_text(root, rel) != text]
    if method == 'ifupdown':
        main = ifupdown_main_change(root, cfg.port)
        if main is not None:
            ops.append(FileWrite(root, main[0], main[1]))
    return ops
