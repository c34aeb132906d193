"""vpe.hypervisor.placement and .placements on hand-made host lists: the
choice, ties, pools, unreachable hosts, refusals and bad input."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vpe.hypervisor.plugins.filter.placement import placement
from ansible_collections.vpe.hypervisor.plugins.filter.placements import placements


def host(name, cpu_used, cpu_total, mem_used, mem_total, pools=(), enforce=None, **extra):
    """Host variables as the vpe.hypervisor.shim inventory sets them."""
    quota = {'cpu_max': cpu_total, 'memory_max_mb': mem_total}
    if enforce:
        quota['enforce'] = enforce
    hv = {
        'inventory_hostname': name,
        'group_names': ['vpe_hypervisors'],
        'vpe_usages': {'instances': 1, 'cpu_used': cpu_used, 'cpu_total': cpu_total,
                       'memory_used_mb': mem_used, 'memory_total_mb': mem_total},
        'vpe_quota': quota,
        'vpe_free': {'cpu': cpu_total - cpu_used, 'memory_mb': mem_total - mem_used},
        'vpe_pools': [{'name': p, 'max_gb': max_gb, 'used_gb': used} for p, max_gb, used in pools],
    }
    hv.update(extra)
    return hv


def refusal(call):
    with pytest.raises(AnsibleFilterError) as info:
        call()
    return str(info.value)


# -- choosing -----------------------------------------------------------------

def test_spread_takes_the_least_loaded_host_and_pack_the_most_loaded():
    hosts = [host('hv1', 6, 8, 4096, 16384),    # after 1/1024: 1/8 cpu left
             host('hv2', 2, 8, 4096, 16384),    # after: 5/8 cpu, 11264/16384 mem -> 5/8
             host('hv3', 4, 8, 8192, 16384)]    # after: 3/8
    assert placement(hosts, 1, 1024) == 'hv2'
    assert placement(hosts, 1, 1024, strategy='spread') == 'hv2'
    assert placement(hosts, 1, 1024, strategy='pack') == 'hv1'


def test_room_is_the_scarcer_resource_as_a_share_of_the_quota():
    # hv-big has more vCPUs and MiB left in absolute terms, but its memory is 7/8 allocated
    big = host('hv-big', 0, 64, 229376, 262144)       # after 2/4096: 62/64 cpu, 28672/262144 mem ~ 0.11
    small = host('hv-small', 2, 8, 2048, 16384)        # after: 4/8 cpu, 10240/16384 mem -> 0.5
    assert placement([big, small], 2, 4096) == 'hv-small'
    assert placement([big, small], 2, 4096, strategy='pack') == 'hv-big'


def test_ties_go_to_more_memory_left_then_more_vcpus_then_the_first_name():
    # same share left (1/2 on the scarcer side), the bigger host keeps more MiB
    assert placement([host('a', 2, 8, 8192, 32768), host('b', 1, 4, 4096, 16384)], 2, 8192) == 'a'
    assert placement([host('a', 2, 8, 8192, 32768), host('b', 1, 4, 4096, 16384)], 2, 8192, strategy='pack') == 'b'
    # identical hosts: alphabetical, whatever the order given and the strategy
    twins = [host('hv-b', 0, 4, 0, 4096), host('hv-c', 0, 4, 0, 4096), host('hv-a', 0, 4, 0, 4096)]
    assert placement(twins, 1, 512) == 'hv-a'
    assert placement(twins, 1, 512, strategy='pack') == 'hv-a'
    assert placement(list(reversed(twins)), 1, 512) == 'hv-a'
    # same share and MiB left, vCPUs decide
    cpus = [host('x', 0, 8, 0, 8192), host('y', 0, 16, 0, 8192)]
    assert placement(cpus, 1, 4096) == 'y'   # both 1/2 left on memory; y keeps 15 vCPUs
    assert placement(cpus, 1, 4096, strategy='pack') == 'x'


def test_a_vm_that_fills_the_quota_exactly_fits():
    assert placement([host('hv1', 6, 8, 8192, 16384)], 2, 8192) == 'hv1'


def test_pool_room_is_checked_and_a_pool_without_max_gb_has_no_limit():
    hosts = [host('hv1', 0, 8, 0, 16384, pools=[('fast', 100, 95.5)]),          # 4.5 GiB free
             host('hv2', 4, 8, 0, 16384, pools=[('fast', 100, 20)]),            # 80 free
             host('hv3', 0, 16, 0, 16384, pools=[('slow', 1000, 0)]),           # no fast
             host('hv4', 6, 8, 0, 16384, pools=[('fast', None, 500)])]          # no limit known
    assert placement(hosts, 1, 1024, pool='fast', disk_gb=10) == 'hv2'
    assert placement(hosts, 1, 1024, pool='fast', disk_gb=10, strategy='pack') == 'hv4'
    assert placement(hosts, 1, 1024, pool='fast', disk_gb=4.5) == 'hv1'
    assert placement(hosts, 1, 1024, pool='slow') == 'hv3'  # disk_gb 0: the pool must exist
    assert 'no host has room for 1 vCPU and 1024 MiB (on pool none): hv1: no pool none (it has: fast)' in \
        refusal(lambda: placement(hosts, 1, 1024, pool='none'))


def test_unreachable_hosts_are_never_chosen():
    roomy = host('hv0-roomy', 0, 128, 0, 1048576)
    hosts = [dict(roomy, vpe_error='GET /hypervisor/usages: cannot connect: [Errno 111] Connection refused'),
             dict(host('hv1-also', 0, 128, 0, 1048576), group_names=['vpe_hypervisors', 'vpe_unreachable']),
             host('hv2', 7, 8, 0, 2048)]
    assert placement(hosts, 1, 1024) == 'hv2'
    assert placement(hosts, 1, 1024, strategy='pack') == 'hv2'
    message = refusal(lambda: placement(hosts, 2, 1024))
    assert 'hv0-roomy: unreachable (GET /hypervisor/usages: cannot connect: [Errno 111] Connection refused)' in message
    assert 'hv1-also: unreachable (in group vpe_unreachable)' in message


def test_an_inventory_host_without_vars_from_the_shim_is_skipped_with_a_reason():
    hosts = [{'inventory_hostname': 'plain'}, host('hv1', 0, 4, 0, 4096)]
    assert placement(hosts, 1, 512) == 'hv1'
    assert 'plain: no usages known' in refusal(lambda: placement(hosts, 8, 512))


def test_facts_from_vpe_facts_work_too():
    facts = {'vpe': {'usages': {'instances': 0, 'cpu_used': 1, 'cpu_total': 4, 'memory_used_mb': 0,
                                'memory_total_mb': 8192},
                     'pools': [{'name': 'p', 'max_gb': 10, 'used_gb': 1}]}}
    hosts = [{'inventory_hostname': 'fact-host', 'ansible_facts': facts}, host('hv1', 3, 4, 0, 8192)]
    assert placement(hosts, 2, 1024, pool='p', disk_gb=9) == 'fact-host'


def test_enforce_running_still_counts_every_defined_domain():
    # The shim reports the allocation of all defined domains; with enforce
    # `running` stopped ones would not count at start, but placement stays
    # conservative: a host it picks can always start the VM.
    hosts = [host('hv-running', 8, 8, 4096, 16384, enforce='running'),
             host('hv-defined', 6, 8, 4096, 16384, enforce='defined')]
    assert placement(hosts, 2, 1024) == 'hv-defined'
    assert 'hv-running: 0 vCPUs free of a quota of 8 (3 needed)' in refusal(lambda: placement(hosts, 3, 1024))


# -- refusals and bad input -----------------------------------------------------

def test_no_room_names_every_host_and_why():
    hosts = [host('hv1', 7, 8, 1024, 16384),
             host('hv2', 0, 8, 15360, 16384, pools=[('fast', 100, 99)]),
             host('hv3', 10, 8, 0, 4096)]   # overcommitted (quota lowered with force)
    message = refusal(lambda: placement(hosts, 2, 2048, pool='fast', disk_gb=5))
    assert message.startswith('vpe.hypervisor.placement: no host has room for 2 vCPUs and 2048 MiB (5 GiB in pool fast): ')
    assert 'hv1: 1 vCPUs free of a quota of 8 (2 needed) and no pool fast (it has: none)' in message
    assert 'hv2: 1024 MiB free of a quota of 16384 (2048 needed) and pool fast has 1 GiB free (5 needed)' in message
    assert 'hv3: 0 vCPUs free of a quota of 8 (2 needed)' in message


@pytest.mark.parametrize('args,kwargs,words', [
    ((0, 1024), {}, 'vcpus must be an integer >= 1, got 0'),
    ((1, 'lots'), {}, "memory_mb must be an integer >= 1, got 'lots'"),
    ((True, 1024), {}, 'vcpus must be an integer >= 1, got True'),
    ((1, 1024), {'strategy': 'random'}, "strategy must be one of spread, pack, got 'random'"),
    ((1, 1024), {'disk_gb': 10}, 'disk_gb needs pool'),
    ((1, 1024), {'pool': 'p', 'disk_gb': -1}, 'disk_gb must be a number >= 0, got -1'),
    ((1, 1024), {'pool': ''}, "pool must be a pool name (a non-empty string), got ''"),
])
def test_bad_requests_name_the_field_and_the_rule(args, kwargs, words):
    message = refusal(lambda: placement([host('hv1', 0, 8, 0, 8192)], *args, **kwargs))
    assert words in message


def test_extra_vars_strings_of_digits_are_numbers():
    assert placement([host('hv1', 0, 8, 0, 8192)], '2', '1024', pool=None, disk_gb='0') == 'hv1'


@pytest.mark.parametrize('hosts,words', [
    ([], 'hosts is empty'),
    (['hv1', 'hv2'], "hosts[0] is a str, not a host's variables; pass host variables, e.g. groups.vpe_hypervisors"),
    ([{'vpe_usages': {}}], 'hosts[0] has no inventory_hostname'),
    ('hv1', 'hosts must be a list of host variables'),
])
def test_bad_host_lists_say_what_to_pass(hosts, words):
    assert words in refusal(lambda: placement(hosts, 1, 512))


# -- several VMs, one after another ----------------------------------------------

def test_placements_count_the_vms_placed_before():
    hosts = [host('hv1', 0, 4, 0, 8192), host('hv2', 0, 4, 0, 8192)]
    vms = [{'name': 'web%d' % i, 'vcpus': 2, 'memory_mb': 2048, 'image': 'debian-12'} for i in range(4)]
    spread = placements(hosts, vms)
    assert [vm['host'] for vm in spread] == ['hv1', 'hv2', 'hv1', 'hv2']
    assert spread[0] == {'name': 'web0', 'vcpus': 2, 'memory_mb': 2048, 'image': 'debian-12', 'host': 'hv1'}
    assert [vm['host'] for vm in placements(hosts, vms, strategy='pack')] == ['hv1', 'hv1', 'hv2', 'hv2']
    # the input is not changed
    assert 'host' not in vms[0]
    # and hostvars are not either: the next call starts from the inventory again
    assert placement(hosts, 4, 8192) == 'hv1'


def test_placements_count_pool_room_too():
    hosts = [host('hv1', 0, 64, 0, 65536, pools=[('fast', 100, 50)]),
             host('hv2', 61, 64, 0, 65536, pools=[('fast', 100, 0)])]
    vms = [{'name': 'db%d' % i, 'vcpus': 1, 'memory_mb': 1024, 'pool': 'fast', 'disk_gb': 30} for i in range(4)]
    assert [vm['host'] for vm in placements(hosts, vms)] == ['hv1', 'hv2', 'hv2', 'hv2']
    message = refusal(lambda: placements(hosts, vms + [{'name': 'db4', 'vcpus': 1, 'memory_mb': 1024,
                                                        'pool': 'fast', 'disk_gb': 30}]))
    assert message.startswith('vpe.hypervisor.placements: vms[4] (db4): no host has room for 1 vCPU and 1024 MiB')
    assert 'hv1: pool fast has 20 GiB free (30 needed)' in message
    assert 'hv2: 0 vCPUs free of a quota of 64 (1 needed) and pool fast has 10 GiB free (30 needed)' in message
    assert '(after placing db0 on hv1, db1 on hv2, db2 on hv2, db3 on hv2)' in message


@pytest.mark.parametrize('vms,words', [
    ([{'vcpus': 1}], 'vms[0].memory_mb must be an integer >= 1, got None'),
    ([{'vcpus': 1, 'memory_mb': 512}, 'web2'], 'vms[1] must be a mapping with vcpus and memory_mb, got str'),
    ([{'vcpus': 1, 'memory_mb': 512, 'host': 'hv9'}], 'vms[0].host is set; placements chooses the host'),
    ([{'vcpus': 1, 'memory_mb': 512, 'disk_gb': 5}], 'vms[0].disk_gb needs vms[0].pool'),
    ({'vcpus': 1, 'memory_mb': 512}, 'vms must be a list of mappings'),
])
def test_placements_bad_vms_name_the_item(vms, words):
    assert words in refusal(lambda: placements([host('hv1', 0, 8, 0, 8192)], vms))


def test_placements_of_no_vms_is_an_empty_list():
    assert placements([host('hv1', 0, 8, 0, 8192)], []) == []
