"""Network namespaces for the network tests: a "host" namespace whose eth0 (a
veth end) holds an address and the default route, and a peer namespace at the
other end that answers ping. Nothing here touches the machine's own
interfaces; every namespace, veth and bridge is named after vpetest.PREFIX
(interfaces: `vt` + 6 hex, the 15-character limit) and removed afterwards.

`entered(ns)` moves the calling thread into a namespace and back (setns(2) is
per thread): code run inside it, subprocesses it starts included, sees only
that namespace, while libvirtd stays reachable through its unix socket.
"""

import contextlib
import ctypes
import os
import secrets
import subprocess

import libvirt

import vpetest

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

HOST_V4 = '198.18.2.10/24'
HOST_V4_BROADCAST = '198.18.2.255'
PEER_V4 = '198.18.2.1'
HOST_V6 = '2001:db8:1::10/64'
PEER_V6 = '2001:db8:1::1'


def sh(*argv, check=True):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


def ip(*args, ns=None, check=True):
    argv = ['ip'] + (['-n', ns] if ns else []) + list(args)
    return sh(*argv, check=check)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def entered(ns):
    """Run the block (and what it spawns) in network namespace `ns`."""
    own = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
    target = os.open('/run/netns/%s' % ns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def token():
    return secrets.token_hex(3)


class HostNetns:
    """Namespace `host` (eth0 = veth, 198.18.2.10/24 + 2001:db8:1::10/64, default
    routes via the peer) and namespace `peer` answering at .1 / ::1."""

    def __init__(self):
        tag = token()
        self.host = vpetest.PREFIX + tag + '-host'
        self.peer = vpetest.PREFIX + tag + '-peer'
        self.tag = tag
        sh('ip', 'netns', 'add', self.host)
        sh('ip', 'netns', 'add', self.peer)
        try:
            ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0', ns=self.host)
            ip('link', 'set', 'peer0', 'netns', self.peer, ns=self.host)
            for ns in (self.host, self.peer):
                ip('link', 'set', 'lo', 'up', ns=ns)
            ip('addr', 'add', HOST_V4, 'brd', '+', 'dev', 'eth0', ns=self.host)  # as networkd, ifupdown and DHCP do
            ip('-6', 'addr', 'add', HOST_V6, 'dev', 'eth0', 'nodad', ns=self.host)
            ip('link', 'set', 'eth0', 'up', ns=self.host)
            ip('route', 'add', 'default', 'via', PEER_V4, 'dev', 'eth0', ns=self.host)
            ip('-6', 'route', 'add', 'default', 'via', PEER_V6, 'dev', 'eth0', ns=self.host)
            ip('addr', 'add', PEER_V4 + '/24', 'dev', 'peer0', ns=self.peer)
            ip('-6', 'addr', 'add', PEER_V6 + '/64', 'dev', 'peer0', 'nodad', ns=self.peer)
            ip('link', 'set', 'peer0', 'up', ns=self.peer)
        except BaseException:
            self.cleanup()
            raise

    def ping(self, address=PEER_V4):
        return sh('ip', 'netns', 'exec', self.host, 'ping', '-c', '1', '-W', '3', address, check=False).returncode == 0

    def links(self):
        import json
        return {d['ifname']: d for d in json.loads(ip('-j', '-d', 'link', 'show', ns=self.host).stdout)}

    def _global_addr_info(self, dev, *flags):
        """dev's global addresses as `ip -j addr` reports them (none when dev is gone)."""
        import json
        docs = json.loads(ip('-j', *flags, 'addr', 'show', 'dev', dev, ns=self.host, check=False).stdout or '[]')
        return [a for d in docs for a in d.get('addr_info', []) if a.get('scope') == 'global']

    def addresses(self, dev):
        return sorted('%s/%s' % (a['local'], a['prefixlen']) for a in self._global_addr_info(dev))

    def broadcast(self, dev):
        """The broadcast of dev's global IPv4 address (None without one)."""
        found = [a.get('broadcast') for a in self._global_addr_info(dev, '-4')]
        return found[0] if found else None

    def default_routes(self):
        import json
        out = []
        for flag in ('-4', '-6'):
            for route in json.loads(ip('-j', flag, 'route', 'show', 'default', ns=self.host).stdout):
                out.append((route.get('gateway'), route.get('dev')))
        return sorted(out)

    def cleanup(self):
        for ns in (self.host, self.peer):
            sh('ip', 'netns', 'del', ns, check=False)


class RootVeth:
    """A veth pair in the root namespace named vt<hex>p / vt<hex>q, the q end
    moved into a namespace of its own: an interface that may be a bridge port
    and that libvirtd (in the root namespace) can see, next to bridges
    vt<hex>a / vt<hex>b for the test. Only these names are ever touched."""

    def __init__(self):
        self.tag = token()
        self.port = 'vt%sp' % self.tag
        self.bridges = ['vt%sa' % self.tag, 'vt%sb' % self.tag]
        self.ns = vpetest.PREFIX + self.tag + '-far'
        sh('ip', 'netns', 'add', self.ns)
        try:
            ip('link', 'add', self.port, 'type', 'veth', 'peer', 'name', 'vt%sq' % self.tag)
            ip('link', 'set', 'vt%sq' % self.tag, 'netns', self.ns)
            ip('link', 'set', self.port, 'up')
        except BaseException:
            self.cleanup()
            raise

    def cleanup(self):
        for name in [self.port] + self.bridges:
            ip('link', 'del', name, check=False)
        sh('ip', 'netns', 'del', self.ns, check=False)


def remove_network(name, uri=vpetest.SYSTEM_URI):
    conn = libvirt.open(uri)
    try:
        try:
            net = conn.networkLookupByName(name)
        except libvirt.libvirtError:
            return
        vpetest.stop_and_undefine(net)
    finally:
        conn.close()


def bridged_domain_xml(name, bridge):
    """vpetest.domain_xml with one interface on `bridge`."""
    import xml.etree.ElementTree as ET
    dom = ET.fromstring(vpetest.domain_xml(name))
    iface = ET.SubElement(dom.find('devices'), 'interface', type='bridge')
    ET.SubElement(iface, 'source', bridge=bridge)
    return ET.tostring(dom, encoding='unicode')


def remove_leftovers():
    """Namespaces, root-namespace vt* test links and libvirt networks of crashed runs."""
    import json
    import re
    for link in json.loads(sh('ip', '-j', 'link', 'show', check=False).stdout or '[]'):
        if re.match(r'^vt[0-9a-f]{6}[abp]$', link['ifname']):
            ip('link', 'del', link['ifname'], check=False)
    for line in sh('ip', 'netns', 'list', check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ''
        if name.startswith(vpetest.PREFIX):
            sh('ip', 'netns', 'del', name, check=False)
    conn = libvirt.open(vpetest.SYSTEM_URI)
    try:
        for net in conn.listAllNetworks(0):
            if net.name().startswith(vpetest.PREFIX):
                remove_network(net.name())
    finally:
        conn.close()


class NsShim(vpetest.Shim):
    """vpetest.Shim run with `ip netns exec NS`: its port exists only in NS,
    so every request is made from inside NS too."""

    def __init__(self, workdir, ns, env=None):
        from pathlib import Path
        self.ns = ns
        self.workdir = Path(workdir)
        self.state_dir = self.workdir / 'state'
        self.token_file, self.admin_token, self.read_token = vpetest.write_token_file(self.workdir)
        self.port = 8470
        self.url = 'http://127.0.0.1:%d' % self.port
        self.verify = True  # plain HTTP, as vpetest.Shim's default
        self.log = open(self.workdir / 'shim.log', 'w+')
        full_env = vpetest.shim_env()
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            ['ip', 'netns', 'exec', ns] + vpetest.shim_command(
                'serve', '--listen', '127.0.0.1:%d' % self.port, '--uri', vpetest.SYSTEM_URI,
                '--state-dir', str(self.state_dir), '--token-file', str(self.token_file)),
            env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        with entered(ns):
            self._wait_ready()

    def request(self, method, path, token='admin', **kwargs):
        with entered(self.ns):
            return super().request(method, path, token=token, **kwargs)
