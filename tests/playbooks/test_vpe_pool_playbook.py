"""vpe_pool run by ansible-playbook on localhost against the real libvirtd:
check mode, apply, idempotent second run, diff, refusals, removal. One play
keeps the tier fast; each task registers its result."""

import pytest

import vpetest
from storage_helpers import module_task as task
from storage_helpers import pool_names
from storage_helpers import storage_cleanup  # noqa: F401 pylint: disable=unused-import

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd, pytest.mark.usefixtures('storage_cleanup')]

P = vpetest.PREFIX


def test_vpe_pool_check_apply_idempotent_diff_and_remove(tmp_path):
    state = tmp_path / 'state'
    target = tmp_path / 'pools' / 'pb1'
    name = P + 'pb-one'
    spec = {'name': name, 'path': str(target), 'max_gb': 20}
    tasks = (task('vpe_pool', state, 'r_check', spec, 'check_mode: true')
             + task('vpe_pool', state, 'r_apply', spec)
             + task('vpe_pool', state, 'r_again', spec)
             + task('vpe_pool', state, 'r_grow', {'name': name, 'max_gb': 30})
             + task('vpe_pool', state, 'r_move', {'name': name, 'path': str(tmp_path / 'elsewhere'), 'max_gb': 30})
             + task('vpe_pool', state, 'r_new_no_path', {'name': P + 'pb-nopath', 'max_gb': 1})
             + task('vpe_pool', state, 'r_absent_check', {'name': name, 'state': 'absent'}, 'check_mode: true')
             + task('vpe_pool', state, 'r_absent', {'name': name, 'state': 'absent'})
             + task('vpe_pool', state, 'r_absent_again', {'name': name, 'state': 'absent'}))
    rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out

    check = results['r_check']
    assert check['changed'] is True and check['pool']['uuid'] is None
    assert check['diff'] == {'before': {}, 'after': check['pool']}

    applied = results['r_apply']
    assert applied['changed'] is True
    pool = applied['pool']
    assert (pool['name'], pool['path'], pool['max_gb'], pool['used_gb']) == (name, str(target), 20, 0.0)
    assert applied['diff']['before'] == {} and applied['diff']['after'] == pool

    again = results['r_again']
    assert again['changed'] is False and again['pool'] == pool
    assert again['diff']['before'] == again['diff']['after']

    grow = results['r_grow']
    assert grow['changed'] is True and grow['diff']['before']['max_gb'] == 20 and grow['pool']['max_gb'] == 30

    move = results['r_move']
    assert move['failed'] is True and move['status'] == 400 and move['field'] == 'path'
    assert 'never moved' in move['msg']
    nopath = results['r_new_no_path']
    assert nopath['failed'] is True and nopath['msg'] == 'path is required'

    assert results['r_absent_check']['changed'] is True, results
    removed = results['r_absent']
    assert removed['changed'] is True and removed['pool'] == {}, results
    assert removed['diff']['before']['uuid'] == pool['uuid']
    assert results['r_absent_again']['changed'] is False

    # the check runs changed nothing; the apply made it; the removal kept the directory
    assert name not in pool_names() and target.is_dir()
    assert not (tmp_path / 'elsewhere').exists()
    assert '+    "max_gb": 30,' in out.split('TASK [r_grow]')[1].split('TASK [r_move]')[0]
