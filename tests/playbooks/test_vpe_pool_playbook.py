"""vpe_pool run by ansible-playbook on localhost against the real libvirtd:
check mode, apply, idempotent second run, diff, refusals, removal. One play
keeps the tier fast; each task registers its result."""

import json

import pytest

import vpetest
from storage_helpers import module_task as task
from storage_helpers import pool_info, pool_names, pool_path
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


def list_task(state, register, items, extra=''):
    """A vpe_pool task with `pools: items`."""
    return task('vpe_pool', state, register, {'pools': items}, extra)


def test_vpe_pool_list_check_apply_idempotent_diff_and_remove(tmp_path):
    state = tmp_path / 'state'
    names = [P + 'pb-list-%s' % x for x in 'abc']
    targets = [tmp_path / 'pools' / x for x in 'abc']
    items = [{'name': n, 'path': str(t), 'max_gb': 10 + i} for i, (n, t) in enumerate(zip(names, targets))]
    items.append({'name': P + 'pb-list-never', 'state': 'absent'})

    rc, results, out = vpetest.run_playbook(list_task(state, 'r_check', items, 'check_mode: true'))
    assert rc == 0, out
    check = results['r_check']
    assert check['changed'] is True
    assert [p.get('name') for p in check['pools']] == names + [None]
    assert [p['uuid'] for p in check['pools'][:3]] == [None] * 3 and check['pools'][3] == {}
    assert [d['before'] for d in check['diff']] == [{}] * 4
    assert [d['after'] for d in check['diff']] == check['pools']
    # check mode made nothing: no libvirt pool, no directory, no state file
    assert not set(names) & pool_names() and not (tmp_path / 'pools').exists()
    assert not (state / 'state.json').exists()

    grown = [dict(items[1], max_gb=40)]
    tasks = (list_task(state, 'r_apply', items)
             + list_task(state, 'r_again', items)
             + list_task(state, 'r_grow', grown))
    rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out

    applied = results['r_apply']
    assert applied['changed'] is True and 'pool' not in applied
    made = applied['pools'][:3]
    wanted = [(i['name'], i['path'], i['max_gb']) for i in items[:3]]
    assert [(p['name'], p['path'], p['max_gb']) for p in made] == wanted
    assert applied['pools'][3] == {}
    headers = [(i['name'], i['name']) for i in items]
    assert [(d['before_header'], d['after_header']) for d in applied['diff']] == headers
    assert [d['after'] for d in applied['diff']] == applied['pools']
    for pool in made:  # libvirt's own view, and the directory on disk
        info = pool_info(pool['name'])
        assert (info['State'], info['Autostart'], info['UUID']) == ('running', 'yes', pool['uuid'])
        assert pool_path(pool['name']) == pool['path']
    assert all(t.is_dir() for t in targets)

    again = results['r_again']
    assert again['changed'] is False and again['pools'] == applied['pools']
    assert all(d['before'] == d['after'] for d in again['diff'])

    grow = results['r_grow']
    assert grow['changed'] is True and grow['pools'][0]['max_gb'] == 40
    assert grow['diff'] == [{'before': made[1], 'after': dict(made[1], max_gb=40),
                             'before_header': names[1], 'after_header': names[1]}]
    stored = json.loads((state / 'state.json').read_text())['pools']
    assert stored[made[1]['uuid']]['max_gb'] == 40 and stored[made[0]['uuid']]['max_gb'] == 10

    # the console diff names each pool
    assert '--- before: %s' % names[0] in out and '+++ after: %s' % names[2] in out

    rc, results, out = vpetest.run_playbook(
        list_task(state, 'r_remove', [{'name': names[2], 'state': 'absent'}, items[0]]))
    assert rc == 0, out
    removed = results['r_remove']
    assert removed['changed'] is True and removed['pools'] == [{}, made[0]]
    assert [d['before'] for d in removed['diff']] == [made[2], made[0]]
    assert names[2] not in pool_names() and targets[2].is_dir()  # undefined; its directory stays


def test_vpe_pool_list_refuses_bad_input_before_changing_anything(tmp_path):
    state = tmp_path / 'state'
    good = [{'name': P + 'pb-bad-%s' % x, 'path': str(tmp_path / 'pools' / x), 'max_gb': 5} for x in 'ab']
    tasks = (list_task(state, 'r_zero', good + [{'name': P + 'pb-bad-c', 'path': str(tmp_path / 'c'),
                                                 'max_gb': 0}])
             + list_task(state, 'r_name', good + [{'name': 'no spaces please', 'path': str(tmp_path / 'c'),
                                                   'max_gb': 5}])
             + list_task(state, 'r_dup', good + [{'name': good[0]['name'], 'state': 'absent'}])
             + list_task(state, 'r_relative', good + [{'name': P + 'pb-bad-c', 'path': 'pools/c', 'max_gb': 5}])
             + task('vpe_pool', state, 'r_both', {'name': good[0]['name'], 'pools': good}))
    rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out

    zero = results['r_zero']
    assert zero['failed'] is True and zero['changed'] is False and zero['status'] == 400
    assert zero['field'] == 'pools[2].max_gb'
    assert zero['msg'] == 'pools[2] (%spb-bad-c): max_gb must be >= 1, got 0' % P
    name = results['r_name']
    assert name['field'] == 'pools[2].name' and name['msg'].startswith('pools[2] (no spaces please): name must be')
    dup = results['r_dup']
    assert dup['field'] == 'pools[2].name' and dup['status'] == 400
    assert 'already given by pools[0]' in dup['msg'] and dup['msg'].startswith('pools[2] (%s)' % good[0]['name'])
    relative = results['r_relative']
    assert relative['field'] == 'pools[2].path' and 'absolute path' in relative['msg']
    both = results['r_both']
    assert both['failed'] is True and 'mutually exclusive' in both['msg']
    # none of the good items before the bad one was applied
    assert not any(r.get('pools') for r in results.values())
    assert not {g['name'] for g in good} & pool_names() and not (tmp_path / 'pools').exists()


def test_vpe_pool_list_failure_on_the_host_names_the_item_and_returns_what_was_done(tmp_path):
    state = tmp_path / 'state'
    first = {'name': P + 'pb-late-a', 'path': str(tmp_path / 'a'), 'max_gb': 5}
    new_without_path = {'name': P + 'pb-late-b', 'max_gb': 5}
    inside_first = {'name': P + 'pb-late-c', 'path': str(tmp_path / 'a' / 'c'), 'max_gb': 5}
    tasks = (list_task(state, 'r_late', [first, new_without_path])
             + list_task(state, 'r_overlap', [dict(first, max_gb=6), inside_first]))
    rc, results, out = vpetest.run_playbook(tasks)
    assert rc == 0, out

    late = results['r_late']
    assert late['failed'] is True and late['changed'] is True
    assert late['msg'] == 'pools[1] (%spb-late-b): path is required' % P and late['field'] == 'pools[1].path'
    assert [p['name'] for p in late['pools']] == [first['name']]
    assert late['diff'][0]['before'] == {} and late['diff'][0]['after'] == late['pools'][0]

    overlap = results['r_overlap']
    assert overlap['failed'] is True and overlap['changed'] is True and overlap['status'] == 409
    assert overlap['field'] == 'pools[1].path' and overlap['msg'].startswith('pools[1] (%spb-late-c): ' % P)
    assert overlap['pools'][0]['max_gb'] == 6  # the first item's change stays done
    assert pool_info(first['name'])['State'] == 'running'
    assert not {new_without_path['name'], inside_first['name']} & pool_names()
