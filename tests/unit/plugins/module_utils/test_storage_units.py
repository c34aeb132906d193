"""Storage building blocks without libvirtd: path rules on real temp dirs and
symlinks, pool XML through ElementTree, bytes on disk, and the pool list on
libvirt's test driver (whose "default-pool" is a pool defined outside us)."""

import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import (
    image_pool, pool_xml, pools, pools_apply, storage, storage_apply, storage_paths)
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput


@pytest.mark.parametrize('value,tree', [
    ('/etc', '/etc'), ('/etc/vpe', '/etc'), ('/usr/local/pools', '/usr'), ('/lib64/x', '/usr'),
    ('/libx32/x', '/libx32'), ('/boot/p', '/boot'), ('/proc/1', '/proc'), ('/run/p', '/run'),
    ('/var/run/p', '/run'), ('/tmp/../etc/p', '/etc'), ('/srv/./../sys/p', '/sys'),
])
def test_system_trees_are_refused_after_resolving(value, tree):
    with pytest.raises(InvalidInput) as caught:
        storage_paths.check_location('path', value)
    assert caught.value.field == 'path'
    assert 'system directory' in caught.value.detail
    if tree != '/usr':  # /lib64 is /usr/lib64 on a merged-/usr host, /lib64 elsewhere
        assert tree in caught.value.detail


def test_root_and_relative_paths_are_refused():
    with pytest.raises(InvalidInput, match='root directory'):
        storage_paths.check_location('path', '/')
    with pytest.raises(InvalidInput, match='root directory'):
        storage_paths.check_location('path', '/srv/..')
    with pytest.raises(InvalidInput, match='absolute path'):
        storage_paths.check_location('path', 'srv/pool')


def test_a_symlink_into_etc_is_judged_by_its_target(tmp_path):
    link = tmp_path / 'innocent'
    link.symlink_to('/etc')
    with pytest.raises(InvalidInput) as caught:
        storage_paths.check_location('path', str(link / 'pool'))
    assert 'resolves to /etc/pool' in caught.value.detail


def test_the_system_list_extends_from_settings(tmp_path):
    assert storage_paths.check_location('path', str(tmp_path / 'p')) == str(tmp_path / 'p')
    with pytest.raises(InvalidInput, match='system directory'):
        storage_paths.check_location('path', str(tmp_path / 'p'), extra_system=(str(tmp_path),))
    state = {'storage': {'extra_system_dirs': ['/srv/keep', 'relative', 7]}}
    assert storage_apply.extra_system_dirs(state) == ('/srv/keep',)


def test_overlap_equal_inside_and_around():
    others = [('pool "a"', '/srv/a'), ('the image store', '/srv/images')]
    for path, words in (('/srv/a', 'is the path of pool "a"'), ('/srv/a/b', 'is inside /srv/a'),
                        ('/srv', 'contains /srv/a'), ('/srv/images/x', 'the image store')):
        with pytest.raises(Conflict) as caught:
            storage_paths.check_no_overlap('path', path, others)
        assert words in caught.value.detail and caught.value.field == 'path'
    storage_paths.check_no_overlap('path', '/srv/ab', others)  # a prefix of the string, not of the path
    storage_paths.check_no_overlap('path', '/srv/b', others)


def test_pool_xml_carries_any_path_safely():
    path = '/srv/a&b <c> "d" \'e\''
    xml = pool_xml.dir_pool_xml('p1', path, uuid='19636f21-dc97-4cde-af55-fd6459342516')
    assert storage.parse_pool(xml) == {'type': 'dir', 'name': 'p1', 'path': path,
                                       'uuid': '19636f21-dc97-4cde-af55-fd6459342516'}
    again = storage.parse_pool(pool_xml.renamed(xml, 'p2'))
    assert again['name'] == 'p2' and again['path'] == path and again['uuid'].startswith('19636f21')
    assert ET.fromstring(xml).findtext('target/path') == path


def test_disk_sources_see_files_devices_backing_stores_and_pools():
    xml = '''<domain><devices>
      <disk type='file'><source file='/srv/p/a.qcow2'/>
        <backingStore type='file'><source file='/srv/base/b.qcow2'/></backingStore></disk>
      <disk type='block'><source dev='/dev/sdb'/></disk>
      <disk type='volume'><source pool='p1' volume='v.img'/></disk>
      <interface type='network'><source network='default'/></interface>
    </devices></domain>'''
    paths, pool_names = pool_xml.disk_sources(xml)
    assert paths == {'/srv/p/a.qcow2', '/srv/base/b.qcow2', '/dev/sdb'}
    assert pool_names == {'p1'}


def test_used_bytes_counts_blocks_on_disk_not_apparent_size(tmp_path):
    (tmp_path / 'sparse.img').write_bytes(b'')
    os.truncate(str(tmp_path / 'sparse.img'), 10 * 1024 ** 3)
    (tmp_path / 'data.img').write_bytes(b'x' * (3 * 1024 * 1024))
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'deep.img').write_bytes(b'x' * (1024 * 1024))
    (tmp_path / 'link').symlink_to(tmp_path / 'data.img')
    used = storage.used_bytes(str(tmp_path))
    expected = os.stat(str(tmp_path / 'data.img')).st_blocks * 512 + os.stat(str(tmp_path / 'sparse.img')).st_blocks * 512
    assert used == expected
    assert 3 * 1024 * 1024 <= used < 4 * 1024 * 1024
    assert storage.used_bytes(str(tmp_path / 'missing')) == 0
    assert storage.to_gb(used) == 0.0 and storage.to_gb(int(1.556 * storage.GIB)) == 1.56


def test_test_driver_pool_shows_as_defined_outside_us(test_ctx):
    listed = test_ctx.run(pools.read)
    assert [p['name'] for p in listed] == ['default-pool']
    assert listed[0]['max_gb'] is None and listed[0]['created_at'] is None
    assert set(listed[0]) == {'name', 'uuid', 'path', 'max_gb', 'used_gb', 'created_at'}
    assert test_ctx.run(image_pool.read) == {'path': None, 'max_gb': None, 'used_gb': 0.0}


def test_bad_bodies_are_refused_before_libvirt_is_asked(test_ctx, state_dir):
    with pytest.raises(InvalidInput, match='max_gb is required'):
        test_ctx.run(pools_apply.create, {'name': 'p', 'path': '/srv/p'})
    with pytest.raises(InvalidInput, match='uuid is read-only'):
        test_ctx.run(pools_apply.create, {'name': 'p', 'path': '/srv/p', 'max_gb': 1, 'uuid': 'x'})
    with pytest.raises(InvalidInput, match='never moved'):
        test_ctx.run(pools_apply.update, 'whatever', {'path': '/srv/q'})
    with pytest.raises(InvalidInput, match='state must be present or absent'):
        test_ctx.run(pools_apply.apply, {'name': 'p', 'state': 'gone'})
    with pytest.raises(Conflict, match='reserved for the image store'):
        test_ctx.run(pools_apply.create, {'name': storage.IMAGE_STORE_NAME, 'path': '/srv/p', 'max_gb': 1})
    assert not (state_dir / 'state.json').exists()
