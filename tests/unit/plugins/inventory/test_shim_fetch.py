"""Asking many shims (stand-ins on loopback, tests/standin_shims.py): the
answers, every way a shim can fail, and how many are asked at once."""

import pytest

from ansible_collections.vpe.hypervisor.plugins.plugin_utils.shim_fetch import Fetcher
from inventory_helpers import TOKEN
from standin_shims import DEFAULT_NETWORK, DEFAULT_POOLS, StandinFleet


@pytest.fixture
def fleet():
    made = []

    def start(hosts, token=TOKEN):
        made.append(StandinFleet(hosts, token))
        return made[-1]
    yield start
    for one in made:
        one.stop()


def targets(urls, token=TOKEN):
    return [{'name': 'hv%d' % i, 'url': url, 'token': token} for i, url in enumerate(urls)]


def test_each_host_gets_its_answers_and_free_room(fleet):
    usages = {'instances': 3, 'cpu_used': 10, 'cpu_total': 8, 'memory_used_mb': 4096, 'memory_total_mb': 16384}
    quota = {'cpu_max': 8, 'memory_max_mb': 16384, 'enforce': 'running'}
    shims = fleet([{}, {'usages': usages, 'quota': quota, 'pools': []}])
    first, second = Fetcher().fetch_all(targets(shims.urls))
    assert first['name'] == 'hv0' and first['url'] == shims.urls[0] and 'error' not in first
    assert first['state']['pools'] == DEFAULT_POOLS
    assert first['state']['network'] == DEFAULT_NETWORK
    assert first['state']['free'] == {'cpu': 12, 'memory_mb': 24576}
    # overcommitted (quota lowered with force): negative room, and enforce passed through
    assert second['state']['free'] == {'cpu': -2, 'memory_mb': 12288}
    assert second['state']['quota'] == quota and second['state']['usages'] == usages


def test_failures_land_in_error_saying_why_and_never_the_token(fleet):
    shims = fleet([{'mode': 'status', 'status': 503}, {'mode': 'garbage'}, {'mode': 'noenvelope'},
                   {'usages': {'cpu_used': 1}}, {}])
    hosts = targets(shims.urls)
    hosts[4]['token'] = 'wrong-' + 'x' * 26
    hosts.append({'name': 'dead', 'url': 'http://127.0.0.1:9', 'token': TOKEN})
    results = {r['name']: r for r in Fetcher(timeout=5).fetch_all(hosts)}
    errors = {name: r['error'] for name, r in results.items()}
    assert errors['hv0'] == ('GET /hypervisor/usages: HTTP 503 Service Unavailable: libvirt is unreachable at '
                             'qemu:///system (all 5 requests failed)')
    assert errors['hv1'] == ('GET /hypervisor/usages: the answer is not JSON (is %s a vpe.hypervisor shim?) '
                             '(all 5 requests failed)' % shims.urls[1])
    assert errors['hv2'].startswith('GET /hypervisor/usages: the answer has no "usages" envelope holding a JSON object')
    assert errors['hv3'] == 'GET /hypervisor/usages: field instances is missing or not an integer'
    assert errors['hv4'] == 'GET /hypervisor/usages: HTTP 401 Unauthorized: token not accepted (all 5 requests failed)'
    assert errors['dead'].startswith('GET /hypervisor/usages: cannot connect: [Errno 111] Connection refused')
    assert all('state' not in r for r in results.values())
    assert not any(TOKEN in e or 'wrong-' in e for e in errors.values())


def test_a_shim_slower_than_the_timeout_is_unreachable_and_the_others_load(fleet):
    shims = fleet([{'delay': 3}, {}])
    slow, fine = Fetcher(timeout=0.5).fetch_all(targets(shims.urls))
    assert slow['error'] == 'GET /hypervisor/usages: no answer within 0.5 s (all 5 requests failed)'
    assert 'state' in fine and 'error' not in fine


@pytest.mark.parametrize('concurrency', [1, 3, 16])
def test_concurrency_hosts_are_asked_at_once_each_with_its_five_requests_together(fleet, concurrency):
    # slow stand-ins keep every request in flight long enough to be counted
    shims = fleet([{'delay': 0.4}] * 8)
    results = Fetcher(concurrency=concurrency).fetch_all(targets(shims.urls))
    assert [r['name'] for r in results] == ['hv%d' % i for i in range(8)]  # in the order given
    assert all('state' in r for r in results)
    stats = shims.stats()
    assert stats['requests'] == 8 * 5
    # never more than asked for, and (a 0.4 s answer leaves time to overlap) really at once
    if concurrency == 1:
        assert stats['max_hosts_in_flight'] == 1
        assert 2 <= stats['max_requests_in_flight'] <= 5
    else:
        assert 2 <= stats['max_hosts_in_flight'] <= concurrency
        assert 6 <= stats['max_requests_in_flight'] <= 5 * concurrency


def test_no_targets_asks_nothing():
    assert Fetcher().fetch_all([]) == []
