"""What a context serving many calls (the shim's, serving.serve_many) keeps
between them, checked against libvirt's events on the test driver: a change
made by another caller shows once its event arrives, our own at once (forget),
and a kept count is not asked of libvirt again while nothing happened."""

import threading
import time
import xml.etree.ElementTree as ET

import libvirt
import pytest

import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import allocation, usage
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import libvirt_conn, libvirt_events, serving
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import pools, storage


@pytest.fixture
def served(test_ctx):
    serving.serve_many(test_ctx)
    yield test_ctx
    conn = test_ctx.conn.get()
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(vpetest.PREFIX):
            dom.undefine()
    for pool in conn.listAllStoragePools(0):
        if pool.name().startswith(vpetest.PREFIX):
            vpetest.stop_and_undefine(pool)


def domain_xml(name, vcpus, uuid=None):
    root = ET.fromstring(vpetest.domain_xml(vpetest.PREFIX + name, vcpus, 64))
    root.set('type', 'test')
    if uuid:  # the test driver redefines in place only with the same uuid
        ET.SubElement(root, 'uuid').text = uuid
    return ET.tostring(root, encoding='unicode')


def event_after(served, kind, before):
    """The counter of `kind` once it moved: well within ALLOCATION_MAX_AGE, so
    it is the event, not the kept count's age, that shows the change."""
    moved = vpetest.eventually(lambda: served.conn.changes(kind), lambda v: v != before, timeout=0.5)
    assert moved != before, 'no %s event within 0.5 s' % kind
    return moved


def test_a_define_elsewhere_shows_once_its_event_arrived(served):
    first = served.run(usage.read)
    before = served.conn.changes('domains')
    dom = served.conn.get().defineXML(domain_xml('ev-a', 3))
    event_after(served, 'domains', before)
    assert served.run(usage.read)['cpu_used'] == first['cpu_used'] + 3
    before = served.conn.changes('domains')
    served.conn.get().defineXML(domain_xml('ev-a', 5, dom.UUIDString()))  # redefined in place: an event too
    event_after(served, 'domains', before)
    assert served.run(usage.read)['cpu_used'] == first['cpu_used'] + 5
    before = served.conn.changes('domains')
    dom.undefine()
    event_after(served, 'domains', before)
    assert served.run(usage.read) == first


def test_a_kept_count_asks_libvirt_nothing_until_an_event(served, monkeypatch):
    served.run(usage.read)
    asked = []
    real = allocation._count
    monkeypatch.setattr(allocation, '_count', lambda conn: asked.append(1) or real(conn))
    for _round in range(5):
        served.run(usage.read)
    assert asked == []
    before = served.conn.changes('domains')
    served.conn.get().defineXML(domain_xml('ev-b', 1))
    event_after(served, 'domains', before)
    served.run(usage.read)
    served.run(usage.read)
    assert len(asked) == 1


def test_the_pool_listing_is_kept_until_a_pool_event(served, tmp_path, monkeypatch):
    listed = [p['name'] for p in served.run(pools.read)]
    calls = []
    real = storage.list_pools
    monkeypatch.setattr(storage, 'list_pools', lambda ctx: calls.append(1) or real(ctx))
    assert [p['name'] for p in served.run(pools.read)] == listed
    assert calls == []
    xml = "<pool type='dir'><name>%sev-pool</name><target><path>%s</path></target></pool>" % (
        vpetest.PREFIX, tmp_path)
    served.conn.get().storagePoolDefineXML(xml, 0)
    names = vpetest.eventually(lambda: [p['name'] for p in served.run(pools.read)], lambda v: v != listed)
    assert names == sorted(listed + [vpetest.PREFIX + 'ev-pool'])


def test_forget_shows_our_own_change_before_its_event(served, monkeypatch):
    served.run(usage.read)
    # hold the callbacks back: only forget() can make the change show
    monkeypatch.setattr(served.conn._events, '_bump', lambda kind: None)
    served.conn.get().defineXML(domain_xml('ev-c', 2))
    time.sleep(0.05)
    kept = served.run(usage.read)
    served.forget()
    assert served.run(usage.read)['cpu_used'] == kept['cpu_used'] + 2


def test_without_events_a_kept_result_is_never_trusted(served, monkeypatch):
    served.conn.get()
    monkeypatch.setattr(served.conn._events, '_registered', False)
    assert served.conn.changes('pools') is libvirt_conn.UNKNOWN
    calls = []
    real = storage.list_pools
    monkeypatch.setattr(storage, 'list_pools', lambda ctx: calls.append(1) or real(ctx))
    served.run(pools.read)
    served.run(pools.read)
    assert len(calls) == 2


def test_a_module_run_is_not_watched(test_ctx):
    assert test_ctx.conn.changes('domains') is None
    assert test_ctx.disk.keep is False


def test_callers_that_find_a_result_stale_together_share_one_compute(served):
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return len(calls)

    threads = [threading.Thread(target=lambda: results.append(served.conn.memo('k', 1, 60, slow)))
               for _thread in range(8)]
    results = []
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and results == [1] * 8
    assert served.conn.memo('k', 2, 60, slow) == 2  # another fingerprint: computed again


def test_a_stopped_event_loop_means_no_kept_result_is_trusted(served, monkeypatch):
    served.conn.get()
    assert served.conn.changes('domains') is not libvirt_conn.UNKNOWN
    monkeypatch.setattr(libvirt_events, '_loop_failed', True)
    assert served.conn.changes('domains') is libvirt_conn.UNKNOWN


class HalfEventsConn(object):
    """A connection whose driver has domain events but no pool events."""

    def __init__(self):
        self.registered = []

    def domainEventRegisterAny(self, _dom, _event, _cb, _opaque):
        self.registered.append(7)
        return 7

    def storagePoolEventRegisterAny(self, _pool, _event, _cb, _opaque):
        raise libvirt.libvirtError('no pool events here')

    def domainEventDeregisterAny(self, callback_id):
        self.registered.remove(callback_id)


def test_callbacks_are_registered_both_or_neither():
    counters = libvirt_events.Counters()
    conn = HalfEventsConn()
    counters.attach(conn)
    assert conn.registered == [] and not counters.delivering
