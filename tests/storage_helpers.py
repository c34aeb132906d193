"""Helpers and fixtures for the storage tests: libvirt pools named vpetest-*,
removed afterwards without touching their files, a guard that puts the host's
image store back as it was, and domains with a file disk."""

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import libvirt
import pytest

import vpetest

IMAGE_STORE = 'vpe-image-store'


def remove_pool(conn, name):
    """Stop and undefine pool `name` if it exists; files are left alone."""
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        return
    vpetest.stop_and_undefine(pool)


# Name families of the storage tests; the per-test fixture
# removes only these, so it never pulls a pool from under another test run.
OWN_PREFIXES = tuple(vpetest.PREFIX + family for family in ('st-', 'api-', 'pb-'))


def remove_test_pools(uri=vpetest.SYSTEM_URI, prefixes=(vpetest.PREFIX,)):
    conn = libvirt.open(uri)
    try:
        for pool in conn.listAllStoragePools(0):
            if pool.name().startswith(tuple(prefixes)):
                try:
                    remove_pool(conn, pool.name())
                except libvirt.libvirtError:
                    if pool.name() in pool_names():
                        raise  # still there: a real failure; gone: someone else removed it first
    finally:
        conn.close()


def virsh(*args, check=True):
    return subprocess.run(['virsh', '-c', vpetest.SYSTEM_URI] + list(args), capture_output=True, text=True,
                          check=check)


def pool_info(name):
    """virsh's view of a pool: {'State', 'Autostart', 'Persistent', 'UUID', ...} or None."""
    proc = virsh('pool-info', name, check=False)
    if proc.returncode != 0:
        return None
    return dict((k.strip(), v.strip()) for k, v in
                (line.split(':', 1) for line in proc.stdout.splitlines() if ':' in line))


def pool_path(name):
    xml = virsh('pool-dumpxml', name).stdout
    return ET.fromstring(xml).findtext('target/path')


def pool_names():
    return set(virsh('pool-list', '--all', '--name').stdout.split())


def own_pool_names():
    """Pool names of the storage tests: other suites may add theirs meanwhile."""
    return set(n for n in pool_names() if n.startswith(OWN_PREFIXES) or n == IMAGE_STORE)


def own(listed):
    """The storage tests' pools in a GET /hypervisor/pools list."""
    return [p for p in listed if p['name'].startswith(OWN_PREFIXES)]


def sparse(path, size):
    """A sparse file of `size` bytes (no blocks on disk)."""
    with open(str(path), 'wb') as handle:
        handle.truncate(size)


def allocated(path, size):
    """A file with `size` bytes really allocated on disk (fast: fallocate, no writes)."""
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)


def tree_snapshot(root):
    """Every file under root with its size, to show nothing moved or vanished."""
    found = {}
    for dirpath, _dirs, files in os.walk(str(root)):
        for name in files:
            full = os.path.join(dirpath, name)
            found[full] = os.lstat(full).st_size
    return found


def define_domain_with_disk(conn, suffix, source_file=None, source_pool=None, volume=None):
    """A stopped persistent domain whose disk is a file (or a pool volume)."""
    dom = ET.fromstring(vpetest.domain_xml(vpetest.PREFIX + suffix))
    devices = dom.find('devices')
    if source_file is not None:
        disk = ET.SubElement(devices, 'disk', type='file', device='disk')
        ET.SubElement(disk, 'driver', name='qemu', type='raw')
        ET.SubElement(disk, 'source', file=str(source_file))
    else:
        disk = ET.SubElement(devices, 'disk', type='volume', device='disk')
        ET.SubElement(disk, 'driver', name='qemu', type='raw')
        ET.SubElement(disk, 'source', pool=source_pool, volume=volume)
    ET.SubElement(disk, 'target', dev='vda', bus='virtio')
    return conn.defineXML(ET.tostring(dom, encoding='unicode'))


def module_task(module, state_dir, register, args, extra=''):
    """One registered, ignore_errors task of a vpe.hypervisor module with JSON-quoted args."""
    lines = ''.join('\n        %s: %s' % (k, json.dumps(v)) for k, v in args.items())
    return '''
    - name: {register}
      vpe.hypervisor.{module}:
        state_dir: {state_dir}{lines}
      register: {register}
      ignore_errors: true
      {extra}
    '''.format(module=module, state_dir=state_dir, register=register, lines=lines, extra=extra)


@pytest.fixture
def storage_cleanup():
    """Removes the storage tests' pools after the test (files stay), and any a crash left before it."""
    remove_test_pools(prefixes=OWN_PREFIXES)
    yield
    remove_test_pools(prefixes=OWN_PREFIXES)


@pytest.fixture
def image_store_guard():
    """Puts the host's image store pool back as it was before the test."""
    conn = libvirt.open(vpetest.SYSTEM_URI)
    saved = None
    try:
        pool = conn.storagePoolLookupByName(IMAGE_STORE)
        saved = (pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE), pool.isActive(), pool.autostart())
    except libvirt.libvirtError:
        pass
    try:
        yield
    finally:
        remove_pool(conn, IMAGE_STORE)
        if saved is not None:
            pool = conn.storagePoolDefineXML(saved[0], 0)
            if saved[2]:
                pool.setAutostart(1)
            if saved[1]:
                pool.create(0)
        conn.close()


@pytest.fixture
def libvirt_conn():
    conn = libvirt.open(vpetest.SYSTEM_URI)
    yield conn
    conn.close()


def remove_test_image_store(uri=vpetest.SYSTEM_URI):
    """Drop an image store pool that a crashed test left pointing into pytest's temp dirs."""
    conn = libvirt.open(uri)
    try:
        try:
            pool = conn.storagePoolLookupByName(IMAGE_STORE)
        except libvirt.libvirtError:
            return
        path = ET.fromstring(pool.XMLDesc(0)).findtext('target/path') or ''
        if '/pytest-of-' in path and not _fresh(path):
            remove_pool(conn, IMAGE_STORE)
    finally:
        conn.close()


LEFTOVER_AGE = 600  # seconds; a test's pool lives for seconds


def _fresh(path):
    try:
        return time.time() - os.stat(path).st_mtime < LEFTOVER_AGE
    except OSError:
        return False


def remove_leftovers(uri=vpetest.SYSTEM_URI):
    """At session start: vpetest- pools a crashed run left behind (files kept).

    Several engineers share one libvirtd, so a pool whose directory is still
    fresh may belong to a run in progress: only pools whose directory is gone
    or unchanged for LEFTOVER_AGE seconds are removed.
    """
    conn = libvirt.open(uri)
    try:
        for pool in conn.listAllStoragePools(0):
            if not pool.name().startswith(vpetest.PREFIX):
                continue
            if not _fresh(ET.fromstring(pool.XMLDesc(0)).findtext('target/path') or ''):
                remove_pool(conn, pool.name())
    finally:
        conn.close()
    remove_test_image_store(uri)
