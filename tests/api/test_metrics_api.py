"""GET /hypervisor/metrics and GET /metrics over real HTTP: envelopes, the
Prometheus text parsed back, errors and auth."""

import json
import subprocess
import time

import libvirt
import pytest
from openapi_schema_validator import OAS30Validator
from prometheus_client.parser import text_string_to_metric_families

import vpetest
from vpetest import assert_problem
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics import metrics
from ansible_collections.vpe.hypervisor.api_shim import metrics_query
from ansible_collections.vpe.hypervisor.api_shim import metrics_ranges as ranges
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import MetricsStore, bucket_of
from metricstest import FakeStateCtx, seed

pytestmark = [pytest.mark.api, pytest.mark.libvirtd]

MIB = 2 ** 20
GIB = 2 ** 30
ALLOWED_Q = 'today, yesterday, thisweek, lastweek, thismonth, lastmonth'


@pytest.fixture(scope='module')
def seeded_shim(tmp_path_factory):
    """A shim whose state dir holds 40 days of buckets up to now, with a gap 3 days ago 06:00-08:00 UTC."""
    tmp_path = tmp_path_factory.mktemp('metrics-api')
    state_dir = tmp_path / 'state'
    now = int(time.time())
    day = now - now % 86400 - 3 * 86400
    seed(state_dir, now - 40 * 86400, now + 1, gaps=[(day + 6 * 3600, day + 8 * 3600)])
    server = vpetest.Shim(tmp_path, state_dir=state_dir)
    yield server, state_dir
    server.stop()


POOL = vpetest.PREFIX + 'metrics-pool'


def remove_pool(name=POOL):
    """Stop and undefine the test pool if it exists; its files stay."""
    conn = libvirt.open(vpetest.SYSTEM_URI)
    try:
        vpetest.stop_and_undefine(conn.storagePoolLookupByName(name))
    except libvirt.libvirtError:
        pass
    finally:
        conn.close()


@pytest.fixture
def metrics_pool():
    remove_pool()
    yield POOL
    remove_pool()


def families(text):
    return dict((f.name, f) for f in text_string_to_metric_families(text))


def value(fams, name, **labels):
    found = [s.value for s in fams[name].samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, fams.get(name))
    return found[0]


@pytest.mark.parametrize('query,q,step', [
    ('', 'today', 300), ('?q=', 'today', 300), ('?q=lastweek', 'lastweek', 1800),
    ('?q=lastmonth', 'lastmonth', 7200), ('?q=thisweek&step=3600', 'thisweek', 3600),
])
def test_metrics_envelope_matches_the_service(seeded_shim, query, q, step):
    shim, state_dir = seeded_shim
    before = len(ranges.points(q, step, time.time()))
    resp = shim.request('GET', '/hypervisor/metrics' + query, token='read')
    after = len(ranges.points(q, step, time.time()))
    assert resp.status_code == 200, resp.text
    assert resp.headers['Content-Type'] == 'application/json' and resp.headers['ETag']
    doc = resp.json()
    assert list(doc) == ['metrics']
    body = doc['metrics']
    assert body['duration'] == q and body['step'] == step
    assert {name: body[name]['unit'] for name in metrics.SERIES_NAMES} == {
        'cpu': '%', 'memory': 'MB', 'network_in': 'B/s', 'network_out': 'B/s', 'disk_read': 'B/s',
        'disk_write': 'B/s'}
    assert len(body['cpu']['datas']) in (before, after)
    if q in ('lastweek', 'lastmonth'):  # not moving while the request runs
        assert body == metrics_query.query(FakeStateCtx(state_dir), q, step)


def test_a_seeded_gap_is_null_over_http(seeded_shim):
    shim, _state_dir = seeded_shim
    now = time.time()
    day = int(now) - int(now) % 86400 - 3 * 86400
    gap = dict((ranges.label(t), None) for t in range(day + 6 * 3600, day + 8 * 3600, 300))
    q = 'thismonth' if ranges.range_bounds('thismonth', now)[0] <= day else 'lastmonth'
    datas = shim.request('GET', '/hypervisor/metrics?step=300&q=' + q).json()['metrics']['memory']['datas']
    assert {k: datas[k] for k in gap} == gap
    assert None not in [v for k, v in datas.items() if k not in gap][:-1]


def test_a_new_sample_shows_in_an_answer_already_given(seeded_shim):
    """Answers are kept while the store is unchanged; a collector's write ends that."""
    shim, state_dir = seeded_shim
    first = shim.request('GET', '/hypervisor/metrics?q=thismonth').json()['metrics']['memory']['datas']
    assert shim.request('GET', '/hypervisor/metrics?q=thismonth').json()['metrics']['memory']['datas'] == first
    store = MetricsStore(str(state_dir), create=True)
    try:
        # one sample with a huge memory reading, every series covered (later tests read the newest point)
        store.add({bucket_of(time.time()): {'mem_n': 1, 'mem_sum': 10.0 ** 7, 'cpu_s': 60, 'cpu_sum': 600,
                                            'net_s': 60, 'net_in': 60, 'net_out': 60,
                                            'disk_s': 60, 'disk_read': 60, 'disk_write': 60}})
    finally:
        store.close()
    deadline = time.time() + 10
    while True:
        now = shim.request('GET', '/hypervisor/metrics?q=thismonth').json()['metrics']['memory']['datas']
        last = max(now)
        if now[last] != first.get(last) or time.time() > deadline:
            break
        time.sleep(0.1)
    assert now[last] > first.get(last, 0) + 1000


def test_etag_gives_304(seeded_shim):
    shim = seeded_shim[0]
    first = shim.request('GET', '/hypervisor/metrics?q=lastweek')
    again = shim.request('GET', '/hypervisor/metrics?q=lastweek', headers={'If-None-Match': first.headers['ETag']})
    assert again.status_code == 304


@pytest.mark.parametrize('query,field,words', [
    ('?q=week', 'q', "q must be one of %s, got 'week'" % ALLOWED_Q),
    ('?q=TODAY', 'q', ALLOWED_Q),
    ('?step=301', 'step', 'multiple of 300 from 300 to 86400'),
    ('?step=0', 'step', 'multiple of 300 from 300 to 86400'),
    ('?q=today&step=90000', 'step', 'got 90000'),
    ('?step=5m', 'step', "got '5m'"),
    ('?range=today', 'range', 'unknown query parameter'),
])
def test_bad_queries_are_400_naming_the_allowed_values(seeded_shim, query, field, words):
    shim = seeded_shim[0]
    assert_problem(shim.request('GET', '/hypervisor/metrics' + query, token='read'), 400, field, words)


@pytest.mark.parametrize('path', ['/hypervisor/metrics', '/metrics'])
def test_both_routes_need_a_token_and_are_read_only(seeded_shim, path):
    shim = seeded_shim[0]
    assert_problem(shim.request('GET', path, token=None), 401)
    assert_problem(shim.request('GET', path, token='x' * 32), 401, words='not accepted')
    assert shim.request('GET', path, token='read').status_code == 200
    assert_problem(shim.request('POST', path, data='{}', headers={'Content-Type': 'application/json'}), 405)


def test_prometheus_text_parses_back_and_matches_the_api(seeded_shim, domains):
    shim, state_dir = seeded_shim
    domains.define('metrics-prom', vcpus=2, memory_mib=128)
    counted = vpetest.virsh_allocation()['instances']
    vpetest.eventually(lambda: shim.request('GET', '/hypervisor/usages').json()['usages']['instances'],
                       lambda v: v == counted)
    resp = shim.request('GET', '/metrics', token='read')
    assert resp.status_code == 200
    assert resp.headers['Content-Type'] == 'text/plain; version=0.0.4; charset=utf-8'
    fams = families(resp.text)
    usages = shim.request('GET', '/hypervisor/usages').json()['usages']
    quota = shim.request('GET', '/hypervisor/quota').json()['quota']
    assert value(fams, 'vpe_libvirt_up') == 1
    assert value(fams, 'vpe_usages_instances') == usages['instances']
    assert value(fams, 'vpe_usages_cpu_used') == usages['cpu_used']
    assert value(fams, 'vpe_usages_cpu_allocatable') == usages['cpu_total']
    assert value(fams, 'vpe_usages_memory_used_bytes') == usages['memory_used_mb'] * MIB
    assert value(fams, 'vpe_usages_memory_allocatable_bytes') == usages['memory_total_mb'] * MIB
    assert value(fams, 'vpe_quota_cpu_max') == quota['cpu_max']
    assert value(fams, 'vpe_quota_memory_max_bytes') == quota['memory_max_mb'] * MIB
    latest = metrics.latest(str(state_dir))
    assert value(fams, 'vpe_host_cpu_percent') == latest['cpu']
    assert value(fams, 'vpe_host_memory_used_bytes') == latest['memory'] * MIB
    assert value(fams, 'vpe_host_network_receive_bytes_per_second') == latest['network_in']
    assert value(fams, 'vpe_host_network_transmit_bytes_per_second') == latest['network_out']
    assert value(fams, 'vpe_host_disk_read_bytes_per_second') == latest['disk_read']
    assert value(fams, 'vpe_host_disk_write_bytes_per_second') == latest['disk_write']
    assert ranges.label(value(fams, 'vpe_host_metrics_point_start_seconds')) == latest['time']
    for fam in fams.values():
        assert fam.type == 'gauge' and fam.documentation


def test_promtool_accepts_the_exposition(seeded_shim, metrics_pool, tmp_path):
    """Prometheus' own linter: names, types and help of every family (a gauge
    named *_total, for one, is refused)."""
    shim = seeded_shim[0]
    made = shim.request('POST', '/hypervisor/pools', data=json.dumps(
        {'pool': {'name': metrics_pool, 'path': str(tmp_path), 'max_gb': 3}}),
        headers={'Content-Type': 'application/json'})
    assert made.status_code == 200, made.text
    text = shim.request('GET', '/metrics', token='read').text
    assert 'vpe_pool_used_bytes{' in text and 'vpe_host_cpu_percent ' in text
    proc = subprocess.run(['promtool', 'check', 'metrics'], input=text, capture_output=True, text=True,
                          timeout=60, check=False)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, '')


def test_prometheus_exports_pools_and_no_host_gauges_without_a_store(shim, tmp_path, metrics_pool):
    pool_dir = tmp_path / 'pool'
    pool_dir.mkdir()
    (pool_dir / 'disk.img').write_bytes(b'\1' * (16 * MIB))
    made = shim.request('POST', '/hypervisor/pools', data=json.dumps(
        {'pool': {'name': metrics_pool, 'path': str(pool_dir), 'max_gb': 3}}),
        headers={'Content-Type': 'application/json'})
    assert made.status_code == 200, made.text
    fams = families(shim.request('GET', '/metrics', token='read').text)
    listed = dict((p['name'], p) for p in shim.request('GET', '/hypervisor/pools').json()['pools'])
    mine = listed[metrics_pool]
    assert value(fams, 'vpe_pool_max_bytes', pool=mine['name']) == 3 * GIB
    assert value(fams, 'vpe_pool_used_bytes', pool=mine['name'], uuid=mine['uuid']) == mine['used_gb'] * GIB
    assert mine['used_gb'] > 0
    assert not [name for name in fams if name.startswith('vpe_host_')]
    # a second scrape is a fresh registry: the same families, no duplicates
    again = families(shim.request('GET', '/metrics', token='read').text)
    assert sorted(again) == sorted(fams)
    assert len(again['vpe_usages_instances'].samples) == 1


def test_scrape_without_libvirt_still_answers_with_host_gauges(tmp_path):
    state_dir = tmp_path / 'state'
    now = int(time.time())
    seed(state_dir, now - 3600, now + 1)
    server = vpetest.Shim(tmp_path, uri='qemu:///system?socket=%s' % (tmp_path / 'no-such.sock'), state_dir=state_dir)
    try:
        resp = server.request('GET', '/metrics', token='read')
        assert resp.status_code == 200, resp.text
        fams = families(resp.text)
        assert value(fams, 'vpe_libvirt_up') == 0
        assert value(fams, 'vpe_host_memory_used_bytes') == metrics.latest(str(state_dir))['memory'] * MIB
        assert 'vpe_usages_instances' not in fams
        assert_problem(server.request('GET', '/hypervisor/usages', token='read'), 503)
        assert server.request('GET', '/hypervisor/metrics', token='read').status_code == 200
    finally:
        server.stop()


def test_answers_match_the_openapi_document(seeded_shim):
    shim = seeded_shim[0]
    spec = shim.request('GET', '/openapi.json', token=None).json()
    params = dict((p['name'], p) for p in spec['paths']['/hypervisor/metrics']['get']['parameters'])
    assert set(params) == {'q', 'step'}
    assert '/metrics' in spec['paths'] and 'text/plain' in spec['paths']['/metrics']['get']['responses']['200']['content']
    validator = OAS30Validator({'$ref': '#/components/schemas/Metrics', 'components': spec['components']})
    for q in ranges.QUERIES:
        validator.validate(shim.request('GET', '/hypervisor/metrics?q=' + q, token='read').json()['metrics'])
