"""Pools and the image store on the real libvirtd and real directories,
checked with virsh and the file system, never with our own read alone."""

import json
import os

import pytest

import vpetest
from storage_helpers import (
    allocated, define_domain_with_disk, own_pool_names, pool_info, pool_names, pool_path, sparse, tree_snapshot, virsh)
from storage_helpers import image_store_guard, libvirt_conn, storage_cleanup  # noqa: F401 pylint: disable=unused-import
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import (
    image_pool_apply, pools, pools_apply, storage, storage_apply)
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput, NotFound, VpeError
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import state_write

pytestmark = [pytest.mark.libvirtd, pytest.mark.usefixtures('storage_cleanup')]

P = vpetest.PREFIX


def state(state_dir):
    path = state_dir / 'state.json'
    return json.loads(path.read_text()) if path.exists() else {}


def create(ctx, name, path, max_gb=10):
    return ctx.run(pools_apply.create, {'name': P + name, 'path': str(path), 'max_gb': max_gb}).after


def test_create_list_update_rename_keep_libvirt_disk_and_state_in_step(system_ctx, state_dir, tmp_path):
    target = tmp_path / 'new' / 'pool1'
    made = create(system_ctx, 'st-one', target, 10)
    assert target.is_dir() and oct(target.stat().st_mode & 0o777) == '0o755'
    info = pool_info(P + 'st-one')
    assert (info['State'], info['Autostart'], info['Persistent'], info['UUID']) == (
        'running', 'yes', 'yes', made['uuid'])
    assert pool_path(P + 'st-one') == str(target)
    assert state(state_dir)['pools'][made['uuid']] == {'max_gb': 10, 'created_at': made['created_at']}
    assert len(made['created_at']) == 19 and made['created_at'][4] == '-' and made['created_at'][13] == ':'

    sparse(target / 'disk.img', 5 * 1024 ** 3)
    allocated(target / 'data.img', 3 * 1024 ** 2)
    listed = [p for p in system_ctx.run(pools.read) if p['uuid'] == made['uuid']]
    assert listed == [dict(made, used_gb=0.0)]

    grown = system_ctx.run(pools_apply.update, made['uuid'], {'max_gb': 20})
    assert grown.changed and grown.after['max_gb'] == 20
    files = tree_snapshot(target)
    renamed = system_ctx.run(pools_apply.update, made['uuid'], {'name': P + 'st-renamed'})
    assert renamed.after['name'] == P + 'st-renamed' and renamed.after['uuid'] == made['uuid']
    info = pool_info(P + 'st-renamed')
    assert (info['UUID'], info['State'], info['Autostart']) == (made['uuid'], 'running', 'yes')
    assert P + 'st-one' not in pool_names()
    assert tree_snapshot(target) == files
    assert state(state_dir)['pools'][made['uuid']]['created_at'] == made['created_at']
    assert not system_ctx.run(pools_apply.update, made['uuid'], {'name': P + 'st-renamed', 'max_gb': 20}).changed


def test_used_gb_is_what_libvirt_counts_for_the_volumes(system_ctx, tmp_path, libvirt_conn):
    made = create(system_ctx, 'st-used', tmp_path / 'p', 10)
    for i in range(5):
        allocated(tmp_path / 'p' / ('v%d.img' % i), (i + 1) * 64 * 1024 ** 2)
        sparse(tmp_path / 'p' / ('s%d.img' % i), 1024 ** 3)
    pool = libvirt_conn.storagePoolLookupByUUIDString(made['uuid'])
    pool.refresh(0)
    by_libvirt = sum(vol.info()[2] for vol in pool.listAllVolumes(0))
    ours = [p for p in system_ctx.run(pools.read) if p['uuid'] == made['uuid']][0]['used_gb']
    assert ours == round(by_libvirt / 1024.0 ** 3, 2) == 0.94


def test_shrink_below_used_is_refused_and_changes_nothing(system_ctx, state_dir, tmp_path):
    made = create(system_ctx, 'st-shrink', tmp_path / 'p', 5)
    allocated(tmp_path / 'p' / 'big.img', int(1.5 * 1024 ** 3))
    before = state(state_dir)
    with pytest.raises(Conflict) as caught:
        system_ctx.run(pools_apply.update, made['uuid'], {'max_gb': 1})
    assert caught.value.field == 'max_gb' and 'below used_gb 1.50' in caught.value.detail
    assert state(state_dir) == before
    assert system_ctx.run(pools_apply.update, made['uuid'], {'max_gb': 2}).after['max_gb'] == 2


def test_duplicate_name_and_overlap_are_refused(system_ctx, tmp_path):
    create(system_ctx, 'st-dup', tmp_path / 'a')
    with pytest.raises(Conflict, match='already used'):
        create(system_ctx, 'st-dup', tmp_path / 'b')
    with pytest.raises(Conflict, match='is inside'):
        create(system_ctx, 'st-inner', tmp_path / 'a' / 'inner')
    with pytest.raises(Conflict, match='contains'):
        create(system_ctx, 'st-outer', tmp_path)
    assert not (tmp_path / 'b').exists() and not (tmp_path / 'a' / 'inner').exists()
    assert {P + 'st-inner', P + 'st-outer'}.isdisjoint(pool_names())


def test_delete_idle_keeps_every_file(system_ctx, state_dir, tmp_path):
    made = create(system_ctx, 'st-del', tmp_path / 'p')
    allocated(tmp_path / 'p' / 'keep.img', 1024 ** 2)
    gone = system_ctx.run(pools_apply.delete, made['uuid'])
    assert gone.changed and gone.after == {}
    assert P + 'st-del' not in pool_names()
    assert tree_snapshot(tmp_path / 'p') == {str(tmp_path / 'p' / 'keep.img'): 1024 ** 2}
    assert made['uuid'] not in state(state_dir)['pools']
    with pytest.raises(NotFound):
        system_ctx.run(pools_apply.delete, made['uuid'])


def test_delete_refused_while_a_domain_uses_a_volume(system_ctx, tmp_path, libvirt_conn):
    made = create(system_ctx, 'st-used-by', tmp_path / 'p')
    other = create(system_ctx, 'st-by-name', tmp_path / 'q')
    sparse(tmp_path / 'p' / 'disk.img', 1024 ** 3)
    sparse(tmp_path / 'q' / 'vol.img', 1024 ** 3)
    libvirt_conn.storagePoolLookupByUUIDString(other['uuid']).refresh(0)
    try:
        define_domain_with_disk(libvirt_conn, 'st-vm-file', source_file=tmp_path / 'p' / 'disk.img')
        define_domain_with_disk(libvirt_conn, 'st-vm-vol', source_pool=P + 'st-by-name', volume='vol.img')
        with pytest.raises(Conflict) as caught:
            system_ctx.run(pools_apply.delete, made['uuid'])
        assert caught.value.extra['domains'] == [P + 'st-vm-file']
        assert P + 'st-vm-file' in caught.value.detail
        with pytest.raises(Conflict) as caught:
            system_ctx.run(pools_apply.delete, other['uuid'])
        assert caught.value.extra['domains'] == [P + 'st-vm-vol']
        with pytest.raises(Conflict, match='refer to it by name'):
            system_ctx.run(pools_apply.update, other['uuid'], {'name': P + 'st-by-other-name'})
        assert pool_info(P + 'st-used-by')['State'] == 'running'
        assert pool_info(P + 'st-by-name')['State'] == 'running'
    finally:
        vpetest.remove_domain(libvirt_conn, P + 'st-vm-file')
        vpetest.remove_domain(libvirt_conn, P + 'st-vm-vol')
    assert system_ctx.run(pools_apply.delete, made['uuid']).changed


def test_changes_made_with_virsh_show_on_the_next_read(system_ctx, state_dir, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    virsh('pool-define-as', P + 'st-virsh', 'dir', '--target', str(outside))
    listed = {p['name']: p for p in system_ctx.run(pools.read)}
    assert listed[P + 'st-virsh']['max_gb'] is None and listed[P + 'st-virsh']['created_at'] is None
    assert listed[P + 'st-virsh']['path'] == str(outside)

    ours = create(system_ctx, 'st-ours', tmp_path / 'ours')
    virsh('pool-destroy', P + 'st-ours')
    virsh('pool-undefine', P + 'st-ours')
    assert ours['uuid'] not in [p['uuid'] for p in system_ctx.run(pools.read)]
    assert (tmp_path / 'ours').is_dir()
    # the next write drops the metadata of the pool that is gone, and adopts the outside one
    adopted = system_ctx.run(pools_apply.update, listed[P + 'st-virsh']['uuid'], {'max_gb': 3}).after
    assert adopted['max_gb'] == 3 and adopted['created_at'] is None
    assert set(state(state_dir)['pools']) == {adopted['uuid']}


def test_start_failure_half_way_rolls_back(system_ctx, state_dir, tmp_path, monkeypatch):
    create(system_ctx, 'st-before', tmp_path / 'before')
    before_state = state(state_dir)
    before_pools = own_pool_names()
    existing = tmp_path / 'existing'
    existing.mkdir()
    allocated(existing / 'keep.img', 1024 ** 2)

    def start_fails(pool, undo):
        pool.create(0)  # really starts, then a real libvirt call fails half-way
        undo.push('stop', pool.destroy)
        pool.create(0)  # libvirt: "storage pool ... is already active"
    monkeypatch.setattr(storage_apply, 'start', start_fails)

    for name, target in (('st-fresh', tmp_path / 'fresh' / 'deep'), ('st-existing', existing)):
        with pytest.raises(VpeError, match='already active'):
            create(system_ctx, name, target)
        assert own_pool_names() == before_pools
        assert state(state_dir) == before_state
    assert not (tmp_path / 'fresh').exists()  # the directories it made are gone again
    assert tree_snapshot(existing) == {str(existing / 'keep.img'): 1024 ** 2}


def test_state_write_failure_rolls_back_create_rename_and_delete(system_ctx, state_dir, tmp_path, monkeypatch):
    made = create(system_ctx, 'st-rb', tmp_path / 'p')
    allocated(tmp_path / 'p' / 'keep.img', 1024 ** 2)
    before_state = state(state_dir)
    files = tree_snapshot(tmp_path)

    def write_fails(self, data):
        raise OSError(28, 'No space left on device (injected)')
    monkeypatch.setattr(state_write, 'write', write_fails)

    with pytest.raises(VpeError, match='injected.*rolled back'):
        create(system_ctx, 'st-rb-new', tmp_path / 'q')
    assert P + 'st-rb-new' not in pool_names() and not (tmp_path / 'q').exists()
    with pytest.raises(VpeError, match='rolled back'):
        system_ctx.run(pools_apply.update, made['uuid'], {'name': P + 'st-rb-renamed', 'max_gb': 11})
    info = pool_info(P + 'st-rb')
    assert (info['UUID'], info['State'], info['Autostart']) == (made['uuid'], 'running', 'yes')
    assert P + 'st-rb-renamed' not in pool_names()
    with pytest.raises(VpeError, match='rolled back'):
        system_ctx.run(pools_apply.delete, made['uuid'])
    assert pool_info(P + 'st-rb')['State'] == 'running'
    assert state(state_dir) == before_state and tree_snapshot(tmp_path) == files


def test_image_store_set_repoint_and_rules(system_ctx, state_dir, tmp_path, image_store_guard):
    first, second = tmp_path / 'images1', tmp_path / 'images2'
    first.mkdir()
    second.mkdir()
    allocated(first / 'base.qcow2', 2 * 1024 ** 2)
    set_ = system_ctx.run(image_pool_apply.apply, {'path': str(first), 'max_gb': 100})
    assert set_.after == {'path': str(first), 'max_gb': 100, 'used_gb': 0.0}
    info = pool_info(storage.IMAGE_STORE_NAME)
    assert (info['State'], info['Autostart']) == ('running', 'yes')
    assert storage.IMAGE_STORE_NAME not in [p['name'] for p in system_ctx.run(pools.read)]
    assert not system_ctx.run(image_pool_apply.apply, {'path': str(first) + '/', 'max_gb': 100}).changed

    moved = system_ctx.run(image_pool_apply.apply, {'path': str(second)})
    assert moved.after['path'] == str(second) and moved.after['max_gb'] == 100
    assert pool_info(storage.IMAGE_STORE_NAME)['UUID'] == info['UUID']
    assert pool_path(storage.IMAGE_STORE_NAME) == str(second)
    assert tree_snapshot(first) == {str(first / 'base.qcow2'): 2 * 1024 ** 2}
    assert state(state_dir)['image_pool'] == {'path': str(second), 'max_gb': 100}

    with pytest.raises(InvalidInput, match='does not exist'):
        system_ctx.run(image_pool_apply.apply, {'path': str(tmp_path / 'missing')})
    create(system_ctx, 'st-near-images', tmp_path / 'pool')
    with pytest.raises(Conflict, match='pool "%sst-near-images"' % P):
        system_ctx.run(image_pool_apply.apply, {'path': str(tmp_path)})
    with pytest.raises(Conflict, match='the image store'):
        create(system_ctx, 'st-in-images', second / 'sub')
    assert pool_path(storage.IMAGE_STORE_NAME) == str(second)


def start_then_fail(pool, undo):
    """storage_apply.start that starts the pool, then fails as libvirt does on a second start."""
    pool.create(0)
    undo.push('stop', pool.destroy)
    pool.create(0)  # libvirt: "storage pool ... is already active"


def test_image_store_repoint_failure_restores_the_old_pool(system_ctx, state_dir, tmp_path, monkeypatch,
                                                           image_store_guard):
    first, second = tmp_path / 'i1', tmp_path / 'i2'
    first.mkdir()
    second.mkdir()
    system_ctx.run(image_pool_apply.apply, {'path': str(first), 'max_gb': 5})
    before_state = state(state_dir)
    monkeypatch.setattr(storage_apply, 'start', start_then_fail)
    with pytest.raises(VpeError, match='already active'):
        system_ctx.run(image_pool_apply.apply, {'path': str(second)})
    assert pool_path(storage.IMAGE_STORE_NAME) == str(first)
    assert pool_info(storage.IMAGE_STORE_NAME)['State'] == 'running'
    assert state(state_dir) == before_state
    assert os.path.isdir(str(second))


def test_image_store_create_failure_removes_the_directory_it_made(system_ctx, state_dir, tmp_path, monkeypatch,
                                                                  image_store_guard):
    first = tmp_path / 'i1'
    first.mkdir()
    system_ctx.run(image_pool_apply.apply, {'path': str(first), 'max_gb': 5})
    before_state = state(state_dir)
    monkeypatch.setattr(storage_apply, 'start', start_then_fail)
    with pytest.raises(VpeError, match='already active'):
        system_ctx.run(image_pool_apply.apply, {'path': str(tmp_path / 'new' / 'images')}, create=True)
    assert not (tmp_path / 'new').exists()  # both directories it made are gone again
    assert pool_path(storage.IMAGE_STORE_NAME) == str(first)
    assert state(state_dir) == before_state


def test_rename_with_its_directory_gone_is_refused_and_changes_nothing(system_ctx, state_dir, tmp_path):
    target = tmp_path / 'gone'
    made = create(system_ctx, 'st-gone', target)
    before_state = state(state_dir)
    os.rmdir(target)  # removed behind libvirt's back
    with pytest.raises(Conflict) as caught:
        system_ctx.run(pools_apply.update, made['uuid'], {'name': P + 'st-gone2'})
    assert caught.value.field == 'path' and 'directory %s is missing' % target in caught.value.detail
    assert pool_info(P + 'st-gone')['UUID'] == made['uuid']
    assert P + 'st-gone2' not in pool_names()
    assert state(state_dir) == before_state
