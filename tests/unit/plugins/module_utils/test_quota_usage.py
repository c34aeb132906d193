"""Quota and usages on libvirt's test driver: 16 host CPUs, 3072 MiB, and one
domain "test" holding 2 vCPUs and 8192 MiB."""

import json

import pytest

from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota, quota_apply, usage
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.errors import Conflict, InvalidInput


def test_quota_defaults_to_the_host_size(test_ctx):
    assert test_ctx.run(quota.read) == {'cpu_max': 16, 'memory_max_mb': 3072, 'enforce': 'off', 'enforced': False}


def test_usages_count_the_domain_against_the_quota(test_ctx):
    assert test_ctx.run(usage.read) == {
        'instances': 1, 'cpu_used': 2, 'memory_used_mb': 8192,
        'cpu_total': 16, 'memory_total_mb': 3072,
    }


def test_partial_update_keeps_the_other_field(test_ctx, state_dir):
    change = test_ctx.run(quota_apply.apply, {'memory_max_mb': 16384})
    assert change.changed
    off = {'enforce': 'off', 'enforced': False}
    assert change.before == dict(off, cpu_max=16, memory_max_mb=3072)
    assert change.after == dict(off, cpu_max=16, memory_max_mb=16384)
    assert json.loads((state_dir / 'state.json').read_text()) == {'quota': {'memory_max_mb': 16384}}
    assert test_ctx.run(usage.read)['memory_total_mb'] == 16384


def test_check_mode_reports_and_writes_nothing(test_ctx, state_dir):
    change = test_ctx.run(quota_apply.apply, {'cpu_max': 32}, check_mode=True)
    assert change.changed and change.after['cpu_max'] == 32
    assert not (state_dir / 'state.json').exists()
    assert test_ctx.run(quota.read)['cpu_max'] == 16


def test_second_apply_is_unchanged(test_ctx):
    assert test_ctx.run(quota_apply.apply, {'cpu_max': 32}).changed
    again = test_ctx.run(quota_apply.apply, {'cpu_max': 32})
    assert not again.changed and again.before == again.after


def test_value_equal_to_host_size_is_pinned_without_a_change(test_ctx, state_dir):
    change = test_ctx.run(quota_apply.apply, {'cpu_max': 16})
    assert not change.changed
    assert json.loads((state_dir / 'state.json').read_text()) == {'quota': {'cpu_max': 16}}


def test_below_allocation_is_refused_naming_it(test_ctx, state_dir):
    with pytest.raises(Conflict) as caught:
        test_ctx.run(quota_apply.apply, {'cpu_max': 1})
    assert caught.value.status == 409
    assert caught.value.field == 'cpu_max'
    assert 'below the 2 vCPUs already allocated' in caught.value.detail
    assert caught.value.extra['allocated'] == {'cpu_used': 2, 'memory_used_mb': 8192, 'instances': 1}
    assert not (state_dir / 'state.json').exists()


def test_force_accepts_below_allocation(test_ctx):
    change = test_ctx.run(quota_apply.apply, {'cpu_max': 1}, force=True)
    assert change.after['cpu_max'] == 1


def test_bad_value_changes_nothing(test_ctx, state_dir):
    with pytest.raises(InvalidInput):
        test_ctx.run(quota_apply.apply, {'cpu_max': 0})
    assert not (state_dir / 'state.json').exists()
