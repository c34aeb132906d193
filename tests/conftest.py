"""Fixtures for every tier. Real-libvirt fixtures fail, never skip, when the
daemon is missing: `make test` starts it, and a silent skip would hide that."""

import os
import sys

import pytest

# The shared helpers sit beside this file. pytest.ini puts tests/ on the path
# for a checkout; ansible-test units, run from an installed collection, does not.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import netns_helpers  # noqa: E402
import storage_helpers  # noqa: E402
import vpetest  # noqa: E402

vpetest.ensure_collection_link()


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / 'state'


@pytest.fixture
def test_ctx(state_dir):
    """A Context on libvirt's in-memory test driver (one domain: 2 vCPUs, 8 GiB)."""
    from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
    ctx = Context(uri='test:///default', state_dir=str(state_dir))
    yield ctx
    ctx.close()


@pytest.fixture
def system_ctx(state_dir):
    from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
    ctx = Context(uri=vpetest.SYSTEM_URI, state_dir=str(state_dir))
    yield ctx
    ctx.close()


@pytest.fixture
def domains():
    """Factory for real domains on qemu:///system, removed after the test."""
    made = vpetest.Domains()
    yield made
    made.cleanup()


@pytest.fixture
def shim(tmp_path):
    """A shim on the real libvirtd with a fresh state dir."""
    server = vpetest.Shim(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def topo():
    """A namespace "host" whose eth0 (a veth) has an address and a default
    route via a peer namespace; removed with its libvirt network afterwards."""
    made = netns_helpers.HostNetns()
    yield made
    made.cleanup()
    netns_helpers.remove_network(vpetest.PREFIX + made.tag)


def pytest_sessionstart(session):
    # Only a whole-suite run (make test sets this) sweeps leftovers: several
    # pytest runs sharing one libvirtd would otherwise delete each other's objects.
    if os.environ.get('VPE_TEST_CLEANUP') != '1':
        return
    try:
        vpetest.remove_leftovers()
        storage_helpers.remove_leftovers()  # vpetest- pools (files kept), a test image store
        netns_helpers.remove_leftovers()  # vpetest- namespaces and networks, vt* links
        vpetest.remove_quota_hook()  # a quota hook a killed test run left for its temp state dir
    except vpetest.libvirt.libvirtError:
        pass  # no daemon: unit tests still run, real-libvirt tests fail on their own
