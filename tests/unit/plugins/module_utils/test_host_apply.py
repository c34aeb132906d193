"""vpe_host's run (host_apply) on libvirt's test driver: every part's input is
checked before any part runs, errors name the part, and a part that fails on
the host leaves the parts before it applied and in the result."""

import pytest

from ansible_collections.vpe.hypervisor.plugins.module_utils.core import host_apply
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota


def pool(name, path, max_gb=2, state='present'):
    return {'name': name, 'path': path, 'max_gb': max_gb, 'state': state}


@pytest.mark.parametrize('sections, field, words', [
    ({'quota': {'cpu_max': 0}}, 'quota.cpu_max', 'quota: cpu_max must be >= 1, got 0'),
    ({'image_pool': {'path': 'relative'}}, 'image_pool.path', 'image_pool: path must be an absolute path'),
    ({'network': {'bridge': 'x' * 16}}, 'network.bridge', 'network: bridge must be 1-15 characters'),
    ({'network': {'bridge': 'br1', 'confirm_timeout': 86401}}, 'network.confirm_timeout',
     'network: confirm_timeout must be 0 (no confirmation) to 86400 seconds'),
    ({'pools': [pool('a', '/srv/a'), pool('a', '/srv/b')]}, 'pools[1].name', 'name a is already given by pools[0]'),
])
def test_check_names_the_part_and_the_rule(sections, field, words):
    with pytest.raises(InvalidInput) as err:
        host_apply.check(dict({'quota': {'cpu_max': 4}}, **sections))
    assert err.value.field == field and words in err.value.detail


def test_check_looks_at_every_part_before_any_runs():
    """The bad part is the last one applied (the bridge); the check still stops it first."""
    with pytest.raises(InvalidInput) as err:
        host_apply.check({'quota': {'cpu_max': 4}, 'pools': [pool('a', '/srv/a')], 'network': {'bridge': '..'}})
    assert err.value.field == 'network.bridge'


def test_a_part_refused_by_the_host_keeps_what_came_before(test_ctx, tmp_path):
    """The second pool's path is inside the first's: the quota and the first pool stay applied."""
    run = host_apply.Run(diff=True)
    sections = {'quota': {'cpu_max': 64, 'memory_max_mb': 65536},
                'pools': [pool('vpetest-ha', str(tmp_path / 'a')), pool('vpetest-hb', str(tmp_path / 'a' / 'b'))]}
    host_apply.check(sections)
    with pytest.raises(Conflict) as err:
        host_apply.apply(test_ctx, sections, run)
    assert err.value.field == 'pools[1].path' and err.value.detail.startswith('pools[1] (vpetest-hb): ')
    result = run.done()
    assert result['changed'] and result['changed_sections'] == ['quota', 'pools']
    assert [p['name'] for p in result['pools']] == ['vpetest-ha']
    assert [d['after_header'] for d in result['diff']] == ['quota', 'pools[0] vpetest-ha']
    assert test_ctx.run(quota.read)['cpu_max'] == 64


def test_check_mode_changes_nothing_and_reports_each_part(test_ctx, tmp_path, state_dir):
    run = host_apply.Run(diff=False)
    host_apply.apply(test_ctx, {'quota': {'cpu_max': 64}, 'pools': [pool('vpetest-hc', str(tmp_path / 'c'))]}, run,
                     check_mode=True)
    result = run.done()
    assert result['changed_sections'] == ['quota', 'pools'] and 'diff' not in result
    assert not (state_dir / 'state.json').exists() and not (tmp_path / 'c').exists()
