# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A read-only libvirt client that speaks libvirt's RPC protocol on the
local read-only socket, for a module run that only reads (vpe_facts).

Loading libvirt's Python binding (libvirtmod and its shared libraries) costs
a module run 10-25 ms, more than everything vpe_facts does with it. The
remote protocol (src/remote/remote_protocol.x, XDR over a Unix socket) is
libvirt's stable wire ABI; this module implements the few read procedures
the facts need, with the binding's method names and return shapes, so the
read services run unchanged on either.

Listing domains or pools also asks for each one's XMLDesc(0) in the same
round (Client._prefetch_xml): the reads ask for each straight after.

open_local() returns None wherever it does not apply (another URI, no socket,
SASL authentication, a polkit refusal, anything unexpected while
connecting): the caller then opens the binding as always. Errors the
daemon reports on a call are raised as WireError, which answers
get_error_code() and get_error_message() like libvirt.libvirtError.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import struct

SYSTEM_URI = 'qemu:///system'
RO_SOCKETS = ('/run/libvirt/libvirt-sock-ro', '/var/run/libvirt/libvirt-sock-ro')

PROGRAM = 0x20008086
PROTOCOL_VERSION = 1
CALL, REPLY = 0, 1
STATUS_OK, STATUS_ERROR = 0, 1
AUTH_NONE, AUTH_POLKIT = 0, 2
VIR_CONNECT_RO = 1
TIMEOUT = 30.0
MAX_MESSAGE = 32 * 1024 * 1024
BATCH = 32  # calls in flight at once (libvirtd reads a client's next calls as it answers)

# Procedure numbers (remote_protocol.x, enum remote_procedure).
PROC_CONNECT_OPEN = 1
PROC_CONNECT_CLOSE = 2
PROC_NODE_GET_INFO = 6
PROC_DOMAIN_GET_XML_DESC = 14
PROC_DOMAIN_GET_INFO = 16
PROC_NETWORK_GET_XML_DESC = 43
PROC_NETWORK_LOOKUP_BY_NAME = 46
PROC_AUTH_LIST = 66
PROC_AUTH_POLKIT = 70
PROC_STORAGE_POOL_GET_XML_DESC = 88
PROC_CONNECT_LIST_ALL_DOMAINS = 273
PROC_CONNECT_LIST_ALL_STORAGE_POOLS = 281
PROC_CONNECT_GET_ALL_DOMAIN_STATS = 344

VIR_ERR_RPC = 39
VIR_ERR_NO_CONNECT = 5


class WireError(Exception):
    def __init__(self, code, message):
        super(WireError, self).__init__(message)
        self.code = code
        self.message = message

    def get_error_code(self):
        return self.code

    def get_error_message(self):
        return self.message


# -- XDR ---------------------------------------------------------------------

def _string(value):
    data = value.encode('utf-8')
    return struct.pack('>I', len(data)) + data + b'\0' * (-len(data) % 4)


def _object(obj):
    """remote_nonnull_{domain,network,storage_pool}: name, uuid[, id]."""
    data = _string(obj.name()) + obj.uuid
    if isinstance(obj, Domain):
        data += struct.pack('>i', obj.id)
    return data


class Reader(object):
    """XDR decoding of one reply's body, front to back."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, size):
        end = self.pos + size
        if end > len(self.data):
            raise WireError(VIR_ERR_RPC, 'libvirt reply ends early')
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def int(self):
        return self.unpack('>i')[0]

    def uint(self):
        return self.unpack('>I')[0]

    def string(self):
        size = self.uint()
        value = self.take(size).decode('utf-8', 'replace')
        self.take(-size % 4)
        return value

    def optional_string(self):
        return self.string() if self.uint() else None

    def array(self, item):
        return [item() for _i in range(self.uint())]

    def typed_value(self):
        kind = self.int()
        if kind in (1, 2, 6):  # int, uint, boolean: 4 bytes
            value = self.unpack('>i' if kind == 1 else '>I')[0]
            return bool(value) if kind == 6 else value
        if kind in (3, 4):  # long long, unsigned long long
            return self.unpack('>q' if kind == 3 else '>Q')[0]
        if kind == 5:
            return self.unpack('>d')[0]
        if kind == 7:
            return self.string()
        raise WireError(VIR_ERR_RPC, 'unknown typed parameter type %d' % kind)


# -- objects, with the binding's method names ---------------------------------

class _Named(object):
    XML_PROC = None

    def __init__(self, client, name, uuid):
        self.client = client
        self._name = name
        self.uuid = uuid
        self.prefetched = None  # XMLDesc(0) as Client._prefetch_xml got it: a Reader or a WireError

    def name(self):
        return self._name

    def UUIDString(self):  # pylint: disable=invalid-name
        h = self.uuid.hex()
        return '-'.join((h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]))

    def XMLDesc(self, flags=0):  # pylint: disable=invalid-name
        prefetched, self.prefetched = self.prefetched, None  # once: a later call asks afresh
        if flags == 0 and isinstance(prefetched, WireError):
            raise prefetched  # pylint: disable=raising-bad-type  # (pylint does not narrow it from None)
        if flags == 0 and isinstance(prefetched, Reader):
            return prefetched.string()
        return self.client.call(self.XML_PROC, _object(self) + struct.pack('>I', flags)).string()


class Domain(_Named):
    XML_PROC = PROC_DOMAIN_GET_XML_DESC

    def __init__(self, client, name, uuid, dom_id):
        super(Domain, self).__init__(client, name, uuid)
        self.id = dom_id

    def ID(self):  # pylint: disable=invalid-name
        return self.id

    def info(self):
        reply = self.client.call(PROC_DOMAIN_GET_INFO, _object(self))
        state, max_mem, memory, vcpus, cpu_time = reply.unpack('>IQQIQ')
        return [state, max_mem, memory, vcpus, cpu_time]


class Network(_Named):
    XML_PROC = PROC_NETWORK_GET_XML_DESC


class StoragePool(_Named):
    XML_PROC = PROC_STORAGE_POOL_GET_XML_DESC


# -- the connection -------------------------------------------------------------

class Client(object):
    """One read-only connection; for one thread (a module run)."""

    def __init__(self, sock):
        self.sock = sock
        self.serial = 0

    def call(self, proc, body=b''):
        """Send one call and return a Reader on its reply's body."""
        return self._result(*self._exchange([(proc, body)])[0])

    def call_each(self, proc, bodies):
        """The same procedure for each body, sent together: libvirtd works on
        them at once and may answer in any order. One result per body, in
        order: a Reader, or the WireError that call got."""
        results = []
        for start in range(0, len(bodies), BATCH):
            for status, reply in self._exchange([(proc, body) for body in bodies[start:start + BATCH]]):
                try:
                    results.append(self._result(status, reply))
                except WireError as exc:
                    results.append(exc)
        return results

    def _exchange(self, calls):
        """Send `calls` ((proc, body) pairs) and return their (status, Reader)
        replies in the same order."""
        if self.sock is None:
            raise WireError(VIR_ERR_NO_CONNECT, 'the connection to libvirt is closed')
        packets, wanted, answers = [], {}, {}
        for proc, body in calls:
            self.serial += 1
            wanted[self.serial] = proc
            header = struct.pack('>IIiIII', PROGRAM, PROTOCOL_VERSION, proc, CALL, self.serial, STATUS_OK)
            packets.append(struct.pack('>I', 4 + len(header) + len(body)) + header + body)
        try:
            self.sock.sendall(b''.join(packets))
            while len(answers) < len(wanted):
                prog, _vers, proc, kind, serial, status, reply = self._receive()
                if prog == PROGRAM and kind == REPLY and wanted.get(serial) == proc:
                    answers[serial] = (status, reply)
                # anything else (an unasked keepalive or event) is not ours
        except OSError as exc:  # socket.timeout is one
            self._drop()
            raise WireError(VIR_ERR_NO_CONNECT, 'libvirt connection lost: %s' % exc)
        return [answers[serial] for serial in sorted(wanted)]

    @staticmethod
    def _result(status, reply):
        if status == STATUS_ERROR:
            code = reply.int()
            reply.int()  # the error's domain (which part of libvirt)
            message = reply.optional_string()
            raise WireError(code, message or 'libvirt error %d' % code)
        if status != STATUS_OK:
            raise WireError(VIR_ERR_RPC, 'unexpected reply status %d' % status)
        return reply

    def _prefetch_xml(self, objs):
        """Ask for every listed object's XMLDesc(0) at once: the reads that list
        domains or pools here ask each one's XML straight after, and one
        round trip per object (about 0.2 ms each) was most of their time."""
        if objs:
            bodies = [_object(obj) + struct.pack('>I', 0) for obj in objs]
            for obj, result in zip(objs, self.call_each(objs[0].XML_PROC, bodies)):
                obj.prefetched = result
        return objs

    def _receive(self):
        size = struct.unpack('>I', self._exactly(4))[0]
        if size < 28 or size > MAX_MESSAGE:
            raise OSError('bad libvirt message length %d' % size)
        data = self._exactly(size - 4)
        return struct.unpack('>IIiIII', data[:24]) + (Reader(data[24:]),)

    def _exactly(self, size):
        chunks = []
        while size:
            chunk = self.sock.recv(size)
            if not chunk:
                raise OSError('libvirt closed the connection')
            chunks.append(chunk)
            size -= len(chunk)
        return b''.join(chunks)

    def _drop(self):
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()

    # The binding's virConnect methods a read needs.

    def isAlive(self):  # pylint: disable=invalid-name
        return self.sock is not None

    def close(self):
        if self.sock is not None:
            try:
                self.call(PROC_CONNECT_CLOSE)
            except WireError:
                pass
            self._drop()
        return 0

    def getInfo(self):  # pylint: disable=invalid-name
        reply = self.call(PROC_NODE_GET_INFO)
        model = bytes(bytearray(c & 0xff for c in reply.unpack('>32i'))).split(b'\0', 1)[0].decode('ascii', 'replace')
        memory_kib, cpus, mhz, nodes, sockets, cores, threads = reply.unpack('>Q6i')
        return [model, memory_kib >> 10, cpus, mhz, nodes, sockets, cores, threads]

    def _domain(self, reply):
        name = reply.string()
        uuid = reply.take(16)
        return Domain(self, name, uuid, reply.int())

    def _named(self, cls, reply):
        name = reply.string()
        return cls(self, name, reply.take(16))

    def listAllDomains(self, flags=0):  # pylint: disable=invalid-name
        reply = self.call(PROC_CONNECT_LIST_ALL_DOMAINS, struct.pack('>iI', 1, flags))
        return self._prefetch_xml(reply.array(lambda: self._domain(reply)))

    def listAllStoragePools(self, flags=0):  # pylint: disable=invalid-name
        reply = self.call(PROC_CONNECT_LIST_ALL_STORAGE_POOLS, struct.pack('>iI', 1, flags))
        return self._prefetch_xml(reply.array(lambda: self._named(StoragePool, reply)))

    def networkLookupByName(self, name):  # pylint: disable=invalid-name
        return self._named(Network, self.call(PROC_NETWORK_LOOKUP_BY_NAME, _string(name)))

    def getAllDomainStats(self, stats=0, flags=0):  # pylint: disable=invalid-name
        reply = self.call(PROC_CONNECT_GET_ALL_DOMAIN_STATS, struct.pack('>III', 0, stats, flags))

        def record():
            dom = self._domain(reply)
            params = {}
            for _i in range(reply.uint()):
                field = reply.string()
                params[field] = reply.typed_value()
            return dom, params
        return reply.array(record)


def socket_path():
    for path in RO_SOCKETS:
        if os.path.exists(path):
            return path
    return None


def open_local(uri):
    """A read-only Client for `uri` on this host's libvirt socket, or None
    where the binding should be used instead."""
    path = socket_path() if uri == SYSTEM_URI else None
    if path is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client = Client(sock)
    try:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        reply = client.call(PROC_AUTH_LIST)
        types = reply.array(reply.int)
        if types and AUTH_NONE not in types:
            # polkit: libvirtd asks polkitd (its default policy lets any
            # local user monitor); SASL is the binding's to negotiate.
            if AUTH_POLKIT not in types or not client.call(PROC_AUTH_POLKIT).int():
                raise WireError(VIR_ERR_RPC, 'authentication needed')
        client.call(PROC_CONNECT_OPEN, struct.pack('>I', 1) + _string(uri) + struct.pack('>I', VIR_CONNECT_RO))
    except (OSError, WireError):
        client._drop()  # pylint: disable=protected-access
        return None
    return client
