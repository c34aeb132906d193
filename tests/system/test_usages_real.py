"""Usages on the real libvirtd, checked against virsh's own numbers."""

import pytest

import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_apply, usage

pytestmark = pytest.mark.libvirtd


def test_usages_match_virsh_with_running_stopped_and_transient_domains(system_ctx, domains):
    before = system_ctx.run(usage.read)
    domains.define('usage-stopped', vcpus=2, memory_mib=128)
    domains.define('usage-running', vcpus=1, memory_mib=64, running=True)
    domains.define('usage-transient', vcpus=3, memory_mib=96, transient=True)

    after = system_ctx.run(usage.read)
    counted = vpetest.virsh_allocation()
    assert {k: after[k] for k in counted} == counted
    assert after['instances'] - before['instances'] == 3
    assert after['cpu_used'] - before['cpu_used'] == 6
    assert after['memory_used_mb'] - before['memory_used_mb'] == 128 + 64 + 96


def test_totals_follow_the_quota_and_default_to_the_host(system_ctx):
    info = system_ctx.conn.get().getInfo()
    assert system_ctx.run(usage.read)['cpu_total'] == info[2]
    assert system_ctx.run(usage.read)['memory_total_mb'] == info[1]
    system_ctx.run(quota_apply.apply, {'cpu_max': 64, 'memory_max_mb': 131072})
    totals = system_ctx.run(usage.read)
    assert (totals['cpu_total'], totals['memory_total_mb']) == (64, 131072)


def test_quota_refuses_to_go_below_real_allocation(system_ctx, domains):
    domains.define('alloc', vcpus=4, memory_mib=256)
    used = system_ctx.run(usage.read)['cpu_used']
    with pytest.raises(Exception) as caught:
        system_ctx.run(quota_apply.apply, {'cpu_max': used - 1})
    assert caught.value.status == 409
    assert 'below the %d vCPUs already allocated' % used in caught.value.detail
