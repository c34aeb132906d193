"""vpe.hypervisor.shim through ansible-inventory, as a user runs it, against
stand-in shims on loopback: groups, host variables, Constructable options,
the cache, config errors, and the token kept out of every output."""

import os

import pytest

from inventory_helpers import TOKEN, ansible_inventory, group_hosts, hostvars, write_config
from standin_shims import DEFAULT_IMAGE_POOL, DEFAULT_NETWORK, DEFAULT_POOLS, StandinFleet

pytestmark = pytest.mark.playbook

BUSY = {'instances': 5, 'cpu_used': 14, 'cpu_total': 16, 'memory_used_mb': 30720, 'memory_total_mb': 32768}


@pytest.fixture
def shims():
    fleet = StandinFleet([{}, {'usages': BUSY, 'network': {'bridge': 'br200', 'bridge_interface': 'bond0'},
                               'quota': {'cpu_max': 16, 'memory_max_mb': 32768, 'enforce': 'defined'}},
                          {'mode': 'status', 'status': 503}], TOKEN)
    yield fleet
    fleet.stop()


def fleet_hosts(shims):
    return [{'name': 'hv1', 'url': shims.urls[0]}, {'name': 'hv2', 'url': shims.urls[1]},
            {'name': 'hv3', 'url': shims.urls[2]}, {'name': 'hv-dead', 'url': 'http://127.0.0.1:9'}]


def test_hosts_groups_and_variables(shims, tmp_path):
    config = write_config(tmp_path, fleet_hosts(shims), token=TOKEN)
    rc, doc, output = ansible_inventory(config, '-vvvv')
    assert rc == 0, output
    assert group_hosts(doc, 'vpe_hypervisors') == ['hv-dead', 'hv1', 'hv2', 'hv3']
    assert group_hosts(doc, 'vpe_unreachable') == ['hv-dead', 'hv3']
    hv = hostvars(doc)
    assert hv['hv1'] == {
        'vpe_shim_url': shims.urls[0],
        'vpe_usages': {'instances': 2, 'cpu_used': 4, 'cpu_total': 16, 'memory_used_mb': 8192,
                       'memory_total_mb': 32768},
        'vpe_quota': {'cpu_max': 16, 'memory_max_mb': 32768},
        'vpe_free': {'cpu': 12, 'memory_mb': 24576},
        'vpe_pools': DEFAULT_POOLS,
        'vpe_image_pool': DEFAULT_IMAGE_POOL,
        'vpe_network': DEFAULT_NETWORK,
    }
    assert hv['hv2']['vpe_free'] == {'cpu': 2, 'memory_mb': 2048}
    assert hv['hv2']['vpe_quota']['enforce'] == 'defined'
    assert hv['hv3'] == {'vpe_shim_url': shims.urls[2], 'vpe_error': (
        'GET /hypervisor/usages: HTTP 503 Service Unavailable: libvirt is unreachable at qemu:///system '
        '(all 5 requests failed)')}
    assert hv['hv-dead']['vpe_error'].startswith('GET /hypervisor/usages: cannot connect: [Errno 111] Connection refused')
    assert '[WARNING]: vpe.hypervisor.shim: hv-dead is unreachable: GET /hypervisor/usages: cannot connect' in output
    assert TOKEN not in output


def test_compose_groups_and_keyed_groups(shims, tmp_path):
    config = write_config(
        tmp_path, fleet_hosts(shims), token=TOKEN,
        compose={'ansible_host': "vpe_shim_url | urlsplit('hostname')", 'free_share': 'vpe_free.cpu / vpe_usages.cpu_total'},
        groups={'roomy': 'vpe_free.cpu >= 4'},
        keyed_groups=[{'key': 'vpe_network.bridge', 'prefix': 'bridge'},
                      {'key': 'vpe_quota.enforce', 'prefix': 'enforce'}])
    rc, doc, output = ansible_inventory(config)
    assert rc == 0, output
    assert group_hosts(doc, 'roomy') == ['hv1']
    assert group_hosts(doc, 'bridge_br100') == ['hv1']
    assert group_hosts(doc, 'bridge_br200') == ['hv2']
    assert group_hosts(doc, 'enforce_defined') == ['hv2']  # hv1's shim has no enforce field: no group
    hv = hostvars(doc)
    assert hv['hv1']['ansible_host'] == '127.0.0.1'
    assert hv['hv1']['free_share'] == 0.75
    assert 'free_share' not in hv['hv3']  # strict: false skips what an unreachable host lacks


def test_token_from_a_file_an_entry_or_the_environment(shims, tmp_path):
    token_file = tmp_path / 'read.token'
    token_file.write_text(TOKEN + '\n')
    hosts = [{'name': 'hv1', 'url': shims.urls[0], 'token': 'not-the-token-' + 'x' * 20},
             {'name': 'hv2', 'url': shims.urls[1]}]
    rc, doc, output = ansible_inventory(write_config(tmp_path, hosts, token_file=str(token_file)))
    assert rc == 0, output
    assert group_hosts(doc, 'vpe_unreachable') == ['hv1']
    assert hostvars(doc)['hv1']['vpe_error'].startswith('GET /hypervisor/usages: HTTP 401 Unauthorized: token not accepted')
    rc, doc, output = ansible_inventory(write_config(tmp_path, [shims.urls[0]], name='env'),
                                        extra_env={'VPE_SHIM_TOKEN': TOKEN})
    assert rc == 0, output
    assert group_hosts(doc, 'vpe_hypervisors') == ['127.0.0.1'] and group_hosts(doc, 'vpe_unreachable') == []
    rc, doc, output = ansible_inventory(
        write_config(tmp_path, [shims.urls[0]], name='templated', token="{{ lookup('ansible.builtin.env', 'HV_TOKEN') }}"),
        extra_env={'HV_TOKEN': TOKEN})
    assert rc == 0, output
    assert group_hosts(doc, 'vpe_unreachable') == [] and TOKEN not in output


def test_the_cache_serves_the_last_answers_and_holds_no_token(tmp_path):
    shims = StandinFleet([{}], TOKEN)
    cache_dir = tmp_path / 'cache'
    config = write_config(tmp_path, [{'name': 'hv1', 'url': shims.urls[0]}], token=TOKEN, cache=True,
                          cache_plugin='ansible.builtin.jsonfile', cache_connection=str(cache_dir), cache_timeout=3600)
    try:
        rc, first, output = ansible_inventory(config)
        assert rc == 0, output
    finally:
        shims.stop()
    cached = [p.read_text() for p in cache_dir.iterdir()]
    assert len(cached) == 1 and '"vpe_shim_url"' not in cached[0] and shims.urls[0] in cached[0]
    assert TOKEN not in cached[0]
    rc, second, output = ansible_inventory(config)  # the shim is gone: answered from the cache
    assert rc == 0, output
    assert hostvars(second) == hostvars(first) and group_hosts(second, 'vpe_unreachable') == []
    rc, third, output = ansible_inventory(config, '--flush-cache')
    assert rc == 0, output
    assert group_hosts(third, 'vpe_unreachable') == ['hv1']


@pytest.mark.parametrize('hosts,options,words', [
    ([{'url': 'http://127.0.0.1:8470'}, {'url': 'http://127.0.0.1:8471'}], {},
     'vpe.hypervisor.shim: hosts[1]: host name "127.0.0.1" is already taken by hosts[0]'),
    (['http://hv1:8470'], {'token': None}, 'vpe.hypervisor.shim: hosts[0] (hv1) has no token'),
    (['http://hv1:8470'], {'concurrency': 0}, 'vpe.hypervisor.shim: concurrency must be >= 1, got 0'),
    (['http://hv1:8470'], {'timeout': 0}, 'vpe.hypervisor.shim: timeout must be > 0 seconds, got 0'),
    (['https://hv1:8470'], {'ca_path': '/nonexistent/ca.pem'},
     'vpe.hypervisor.shim: ca_path /nonexistent/ca.pem cannot be used: [Errno 2] No such file or directory'),
])
def test_a_bad_config_fails_naming_the_field(tmp_path, hosts, options, words):
    options = dict({'token': TOKEN}, **options)
    if options['token'] is None:
        del options['token']
    rc, _doc, output = ansible_inventory(write_config(tmp_path, hosts, **options))
    assert rc != 0
    assert words in output.replace('\n', ' ')
    assert TOKEN not in output


def test_only_files_named_vpe_shim_yml_are_taken(tmp_path):
    config = write_config(tmp_path, ['http://127.0.0.1:9'], token=TOKEN)
    other = tmp_path / 'fleet.yml'
    os.rename(config, other)
    rc, _doc, output = ansible_inventory(other)
    assert rc != 0 and 'vpe.hypervisor.shim' in output and 'Unable to parse' in output
