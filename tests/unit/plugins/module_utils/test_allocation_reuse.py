"""What the shim's long-lived connection reuses between requests (allocation
counts, the host's size) where libvirt delivers no events, on libvirt's test
driver: a domain defined, started or undefined shows on the very next read;
an in-place change shows once the kept count is older than ALLOCATION_MAX_AGE;
modules and quota checks always count afresh."""

import xml.etree.ElementTree as ET

import pytest

import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import allocation, quota_apply, usage
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import serving
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict


@pytest.fixture
def shim_ctx(test_ctx, monkeypatch):
    serving.serve_many(test_ctx)  # as api_shim.app.create_app does
    test_ctx.conn.get()
    # where libvirt delivers no events (see test_event_reuse for where it does)
    monkeypatch.setattr(test_ctx.conn._events, '_registered', False)
    yield test_ctx
    conn = test_ctx.conn.get()
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(vpetest.PREFIX):
            if dom.isActive():
                dom.destroy()
            dom.undefine()


def define(ctx, suffix, vcpus=1, memory_mib=64):
    """Define (or redefine in place, same uuid) a test-driver domain."""
    conn = ctx.conn.get()
    root = ET.fromstring(vpetest.domain_xml(vpetest.PREFIX + suffix, vcpus, memory_mib))
    root.set('type', 'test')
    if vpetest.PREFIX + suffix in conn.listDefinedDomains():
        ET.SubElement(root, 'uuid').text = conn.lookupByName(vpetest.PREFIX + suffix).UUIDString()
    return conn.defineXML(ET.tostring(root, encoding='unicode'))


def test_define_start_and_undefine_show_on_the_next_read(shim_ctx):
    first = shim_ctx.run(usage.read)
    dom = define(shim_ctx, 'reuse-a', vcpus=3, memory_mib=256)
    defined = shim_ctx.run(usage.read)
    assert defined['instances'] == first['instances'] + 1
    assert defined['cpu_used'] == first['cpu_used'] + 3
    assert defined['memory_used_mb'] == first['memory_used_mb'] + 256
    dom.create()
    assert shim_ctx.run(usage.read) == defined  # started: same allocation, read afresh
    dom.destroy()
    dom.undefine()
    assert shim_ctx.run(usage.read) == first


def test_in_place_change_shows_once_the_count_is_older_than_max_age(shim_ctx, monkeypatch):
    define(shim_ctx, 'reuse-b', vcpus=1)
    before = shim_ctx.run(usage.read)
    define(shim_ctx, 'reuse-b', vcpus=4)  # redefined: same name, same set of domains
    assert shim_ctx.run(usage.read) == before  # within ALLOCATION_MAX_AGE the kept count is reused
    monkeypatch.setattr(allocation, 'ALLOCATION_MAX_AGE', 0.0)
    assert shim_ctx.run(usage.read)['cpu_used'] == before['cpu_used'] + 3


def test_a_module_run_counts_afresh_every_time(test_ctx):
    before = test_ctx.run(usage.read)
    define(test_ctx, 'reuse-c', vcpus=1)
    try:
        define(test_ctx, 'reuse-c', vcpus=5)
        assert test_ctx.run(usage.read)['cpu_used'] == before['cpu_used'] + 5
    finally:
        test_ctx.conn.get().lookupByName(vpetest.PREFIX + 'reuse-c').undefine()


def test_quota_check_counts_afresh_even_when_a_count_is_kept(shim_ctx):
    define(shim_ctx, 'reuse-d', vcpus=1)
    used = shim_ctx.run(usage.read)['cpu_used']
    define(shim_ctx, 'reuse-d', vcpus=6)  # in place: the kept count still says `used`
    with pytest.raises(Conflict) as caught:
        shim_ctx.run(quota_apply.apply, {'cpu_max': used + 1})
    assert caught.value.field == 'cpu_max'
    assert 'below the %d vCPUs' % (used + 5) in caught.value.detail


def test_reconnecting_forgets_what_was_kept(shim_ctx):
    shim_ctx.run(usage.read)
    assert shim_ctx.conn._memo
    shim_ctx.conn.reset()
    assert not shim_ctx.conn._memo
