"""core/libvirt_wire on the real libvirtd: the read-only wire client answers
every read the facts make exactly as libvirt's binding does, vpe_facts' read
loads no binding, and wherever the client does not apply the binding is
used instead."""

import json
import socket
import subprocess
import sys
import threading

import pytest

import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import libvirt_conn, libvirt_wire
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.facts import gather

pytestmark = pytest.mark.libvirtd

P = vpetest.PREFIX
STATS = libvirt_conn.VIR_DOMAIN_STATS_VCPU | libvirt_conn.VIR_DOMAIN_STATS_BALLOON


@pytest.fixture
def objects(domains, tmp_path):
    """A stopped and a running domain, a running dir pool and a bridge-mode network."""
    conn = domains.conn
    stopped = domains.define('wire-stopped', vcpus=2, memory_mib=128)
    running = domains.define('wire-running', running=True)
    pool = conn.storagePoolDefineXML("<pool type='dir'><name>%swire-pool</name><target><path>%s</path></target></pool>"
                                     % (P, tmp_path))
    pool.create(0)
    net = conn.networkDefineXML("<network><name>%swire-net</name><forward mode='bridge'/>"
                                "<bridge name='vtwirebr'/></network>" % P)
    yield conn, stopped, running, pool, net
    vpetest.stop_and_undefine(pool)
    net.undefine()


@pytest.fixture
def wire():
    client = libvirt_wire.open_local(vpetest.SYSTEM_URI)
    assert client is not None, 'the read-only socket of the test libvirtd answers'
    yield client
    client.close()


def _by_name(objs):
    return dict((obj.name(), obj) for obj in objs)


def test_every_read_answers_as_the_binding_does(objects, wire):
    conn, stopped, running, pool, net = objects
    assert wire.getInfo() == conn.getInfo()

    mine = _by_name(wire.listAllDomains(0))
    assert set(mine) == set(d.name() for d in conn.listAllDomains(0))
    for dom in (stopped, running):
        got = mine[dom.name()]
        assert (got.UUIDString(), got.ID()) == (dom.UUIDString(), dom.ID())
        assert got.XMLDesc(0) == dom.XMLDesc(0)
        assert got.info()[:4] == dom.info()[:4]  # state, max memory, memory, vCPUs (not the CPU time)
    assert running.name() in _by_name(wire.listAllDomains(libvirt_conn.VIR_CONNECT_LIST_DOMAINS_ACTIVE))
    assert stopped.name() not in _by_name(wire.listAllDomains(libvirt_conn.VIR_CONNECT_LIST_DOMAINS_ACTIVE))

    stats = dict((dom.name(), params) for dom, params in wire.getAllDomainStats(STATS, 0))
    theirs = dict((dom.name(), params) for dom, params in conn.getAllDomainStats(STATS, 0))
    assert set(stats) == set(theirs)
    for name, params in stats.items():  # the same fields and types; a running domain's times move
        assert dict((k, type(v)) for k, v in params.items()) == dict((k, type(v)) for k, v in theirs[name].items())
        stable = ('vcpu.current', 'vcpu.maximum', 'balloon.maximum', 'balloon.current')
        assert [params.get(k) for k in stable] == [theirs[name].get(k) for k in stable]
    assert stats[stopped.name()]['vcpu.current'] == 2
    assert stats[stopped.name()]['balloon.maximum'] == 128 * 1024

    got = _by_name(wire.listAllStoragePools(0))[pool.name()]
    assert (got.UUIDString(), got.XMLDesc(0)) == (pool.UUIDString(), pool.XMLDesc(0))
    got = wire.networkLookupByName(net.name())
    assert got.XMLDesc(libvirt_conn.VIR_NETWORK_XML_INACTIVE) == net.XMLDesc(libvirt_conn.VIR_NETWORK_XML_INACTIVE)


def test_an_error_libvirt_reports_keeps_its_code_and_message(wire):
    with pytest.raises(libvirt_wire.WireError) as caught:
        wire.networkLookupByName(P + 'wire-no-such-net')
    assert caught.value.get_error_code() == libvirt_conn.VIR_ERR_NO_NETWORK
    assert P + 'wire-no-such-net' in caught.value.get_error_message()
    assert libvirt_conn.is_libvirt_error(caught.value, libvirt_conn.VIR_ERR_NO_NETWORK)
    assert not libvirt_conn.is_libvirt_error(ValueError('not libvirt'))
    assert wire.getInfo()  # the connection is still good


# Gathers the facts the way vpe_facts does (Context.read_only) in a fresh
# interpreter, and says whether libvirt's binding was loaded.
FACTS = '''
import json, sys
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.facts import gather
ctx = Context(uri=sys.argv[1], state_dir=sys.argv[2])
ctx.read_only()
facts = gather(ctx)
print(json.dumps({'facts': facts, 'binding': 'libvirt' in sys.modules, 'client': type(ctx.conn.get()).__name__}))
'''


def _facts_in_a_fresh_interpreter(uri, state_dir):
    env = vpetest.shim_env()  # the collection importable, as for the shim
    out = subprocess.run([sys.executable, '-c', FACTS, uri, state_dir], env=env, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def test_the_facts_read_over_the_wire_equal_the_bindings_and_load_no_binding(objects, tmp_path):
    state_dir = str(tmp_path / 'state')
    ctx = Context(uri=vpetest.SYSTEM_URI, state_dir=state_dir)
    try:
        over_binding = gather(ctx)  # no read_only(): the binding, as every change reads
    finally:
        ctx.close()
    seen = _facts_in_a_fresh_interpreter(vpetest.SYSTEM_URI, state_dir)
    assert (seen['client'], seen['binding']) == ('Client', False)
    assert seen['facts'] == json.loads(json.dumps(over_binding))
    assert P + 'wire-pool' in [p['name'] for p in seen['facts']['pools']]


def test_other_uris_use_the_binding():
    seen = _facts_in_a_fresh_interpreter('test:///default', '/nonexistent-state')
    assert (seen['client'], seen['binding']) == ('virConnect', True)
    assert seen['facts']['usages']['instances'] == 1  # the test driver's one domain
    assert libvirt_wire.open_local('test:///default') is None
    assert libvirt_wire.open_local('qemu:///session') is None


def test_no_socket_or_a_socket_that_is_not_libvirt_gives_none(tmp_path, monkeypatch):
    monkeypatch.setattr(libvirt_wire, 'RO_SOCKETS', (str(tmp_path / 'missing'),))
    assert libvirt_wire.open_local(vpetest.SYSTEM_URI) is None

    path = str(tmp_path / 'not-libvirt')
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer_garbage():
        peer, _addr = server.accept()
        peer.recv(4096)
        peer.sendall(b'\x00\x00\x00\x08garbage!')
        peer.close()
    thread = threading.Thread(target=answer_garbage)
    thread.start()
    monkeypatch.setattr(libvirt_wire, 'RO_SOCKETS', (path,))
    try:
        assert libvirt_wire.open_local(vpetest.SYSTEM_URI) is None
    finally:
        thread.join(5)
        server.close()


def test_a_dropped_connection_is_opened_again(tmp_path):
    from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import usage
    ctx = Context(uri=vpetest.SYSTEM_URI, state_dir=str(tmp_path / 'state'))
    ctx.read_only()
    try:
        first = ctx.conn.get()
        assert isinstance(first, libvirt_wire.Client)
        first.sock.shutdown(socket.SHUT_RDWR)  # as a libvirtd restart leaves it
        assert ctx.run(usage.read)['instances'] >= 0
        assert ctx.conn.get() is not first and isinstance(ctx.conn.get(), libvirt_wire.Client)
    finally:
        ctx.close()


def test_calls_sent_together_come_back_in_order_each_with_its_own_error(objects, wire):
    conn, _stopped, _running, pool, _net = objects
    listed = _by_name(wire.listAllStoragePools(0))[pool.name()]
    gone = libvirt_wire.StoragePool(wire, P + 'wire-gone', b'\x01' * 16)
    body = libvirt_wire._object(listed) + b'\0\0\0\0'  # pylint: disable=protected-access
    bad = libvirt_wire._object(gone) + b'\0\0\0\0'  # pylint: disable=protected-access
    # More than one batch in flight, an error in the middle.
    results = wire.call_each(libvirt_wire.PROC_STORAGE_POOL_GET_XML_DESC, [body] * 40 + [bad] + [body] * 30)
    assert len(results) == 71
    assert isinstance(results[40], libvirt_wire.WireError)
    assert results[40].get_error_code() == libvirt_conn.VIR_ERR_NO_STORAGE_POOL
    assert set(r.string() for i, r in enumerate(results) if i != 40) == {pool.XMLDesc(0)}


def test_a_prefetched_error_is_raised_where_the_xml_is_asked_for(wire):
    gone = libvirt_wire.StoragePool(wire, P + 'wire-gone', b'\x01' * 16)
    wire._prefetch_xml([gone])  # pylint: disable=protected-access
    for _attempt in (1, 2):  # the kept error once, then a fresh call
        with pytest.raises(libvirt_wire.WireError) as caught:
            gone.XMLDesc(0)
        assert caught.value.get_error_code() == libvirt_conn.VIR_ERR_NO_STORAGE_POOL
