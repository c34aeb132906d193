"""vpe_image_pool (and vpe_facts' storage sections) run by ansible-playbook on
localhost against the real libvirtd: check mode, apply, idempotent second
run, diff, a refusal, and re-pointing that leaves the old files in place."""

import json

import pytest

from storage_helpers import module_task as task
from storage_helpers import allocated, pool_path, tree_snapshot
from storage_helpers import image_store_guard, storage_cleanup  # noqa: F401 pylint: disable=unused-import
import vpetest

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd, pytest.mark.usefixtures('storage_cleanup')]


def test_vpe_image_pool_check_apply_idempotent_diff_and_repoint(tmp_path, image_store_guard):
    state = tmp_path / 'state'
    first, second = tmp_path / 'img1', tmp_path / 'img2'
    first.mkdir()
    second.mkdir()
    allocated(first / 'base.img', 1024 ** 2)
    tasks = (task('vpe_image_pool', state, 'r_check', {'path': str(first), 'max_gb': 100}, 'check_mode: true')
             + task('vpe_image_pool', state, 'r_apply', {'path': str(first), 'max_gb': 100})
             + task('vpe_image_pool', state, 'r_again', {'path': str(first), 'max_gb': 100})
             + task('vpe_image_pool', state, 'r_missing', {'path': str(tmp_path / 'missing')})
             + task('vpe_image_pool', state, 'r_move', {'path': str(second)})
             + task('vpe_facts', state, 'r_facts', {'gather': ['image_pool', 'pools']}))
    rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out

    check = results['r_check']
    assert check['changed'] is True and check['image_pool']['path'] == str(first)
    assert check['diff']['before']['path'] != str(first)
    applied = results['r_apply']
    assert applied['changed'] is True
    assert applied['image_pool'] == {'path': str(first), 'max_gb': 100, 'used_gb': 0.0}
    assert applied['diff']['after'] == applied['image_pool']
    assert results['r_again']['changed'] is False
    missing = results['r_missing']
    assert missing['failed'] is True and missing['status'] == 400 and 'does not exist' in missing['msg']
    moved = results['r_move']
    assert moved['changed'] is True and moved['diff']['before']['path'] == str(first)
    assert moved['image_pool'] == {'path': str(second), 'max_gb': 100, 'used_gb': 0.0}

    facts = results['r_facts']['ansible_facts']['vpe']
    assert set(facts) == {'image_pool', 'pools'}
    assert facts['image_pool'] == moved['image_pool']
    assert 'vpe-image-store' not in [p['name'] for p in facts['pools']]

    assert pool_path('vpe-image-store') == str(second)
    assert tree_snapshot(first) == {str(first / 'base.img'): 1024 ** 2}
    assert json.loads((state / 'state.json').read_text())['image_pool'] == {'path': str(second), 'max_gb': 100}


def test_vpe_image_pool_create_makes_a_missing_directory_and_check_mode_does_not(tmp_path, image_store_guard):
    state = tmp_path / 'state'
    target = tmp_path / 'new' / 'images'  # the parent is missing too
    wanted = {'path': str(target), 'max_gb': 50, 'create': True}

    rc, results, out = vpetest.run_playbook(task('vpe_image_pool', state, 'r_check', wanted, 'check_mode: true'))
    assert rc == 0, out
    check = results['r_check']
    assert check['changed'] is True
    assert check['image_pool'] == {'path': str(target), 'max_gb': 50, 'used_gb': 0.0}
    assert check['diff']['after'] == check['image_pool']
    assert not (tmp_path / 'new').exists() and not (state / 'state.json').exists()

    tasks = (task('vpe_image_pool', state, 'r_apply', wanted)
             + task('vpe_image_pool', state, 'r_again', wanted)
             + task('vpe_image_pool', state, 'r_no_create', {'path': str(tmp_path / 'other')}))
    rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out
    applied = results['r_apply']
    assert applied['changed'] is True and applied['image_pool'] == check['image_pool']
    assert target.is_dir() and pool_path('vpe-image-store') == str(target)
    assert [oct(d.stat().st_mode & 0o777) for d in (target, target.parent)] == ['0o755', '0o755']
    assert results['r_again']['changed'] is False
    no_create = results['r_no_create']  # create defaults to false: a missing path stays an error
    assert no_create['failed'] is True and no_create['status'] == 400 and 'does not exist' in no_create['msg']
    assert not (tmp_path / 'other').exists()
