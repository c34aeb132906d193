"""A real Prometheus (Debian's package) on the controller side, inside the lab's
namespace, scrapes the three shims over TLS with a read token; PromQL over its
HTTP API returns every host's vpe_usages_* series."""

import json
import os
import shutil
import subprocess
import urllib.parse

import pytest

import labtier as lab

LISTEN = '127.0.0.1:9490'   # the namespace's own loopback


@pytest.fixture(scope='module')
def prometheus():
    binary = shutil.which('prometheus')
    assert binary, 'Debian package prometheus is missing (lab/host-deps.sh installs it)'
    work = os.path.join(lab.OUT, 'prometheus')
    os.makedirs(work, exist_ok=True)
    targets = ['%s:%d' % (hv['ansible_host'], lab.PORT) for hv in lab.hosts().values()]
    config = {
        'global': {'scrape_interval': '10s', 'scrape_timeout': '10s'},
        'scrape_configs': [{
            'job_name': 'vpe-shim', 'scheme': 'https', 'metrics_path': '/metrics',
            'authorization': {'type': 'Bearer', 'credentials': lab.tokens()['read']},
            'tls_config': {'ca_file': os.path.join(lab.OUT, 'pki', 'ca.crt')},
            'static_configs': [{'targets': targets}],
        }],
    }
    path = os.path.join(work, 'prometheus.yml')
    with open(path, 'w') as handle:
        json.dump(config, handle)   # YAML is a superset of JSON
    log = open(os.path.join(work, 'prometheus.log'), 'w')
    proc = subprocess.Popen(['ip', 'netns', 'exec', lab.netns(), binary, '--config.file=' + path,
                             '--storage.tsdb.path=' + os.path.join(work, 'data'),
                             '--web.listen-address=' + LISTEN], stdout=log, stderr=subprocess.STDOUT)
    try:
        yield targets
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def query(expr):
    proc = lab.in_ns(['curl', '-sS', '--max-time', '10', 'http://%s/api/v1/query?query=%s'
                      % (LISTEN, urllib.parse.quote(expr))], check=False)
    if proc.returncode != 0:
        return None
    doc = json.loads(proc.stdout)
    assert doc['status'] == 'success', doc
    return doc['data']['result']


def test_prometheus_scrapes_every_shim_and_promql_returns_each_hosts_usages(prometheus):
    targets = set(prometheus)

    def all_up():
        result = query('up')
        return result if result and set(s['metric']['instance'] for s in result
                                        if s['value'][1] == '1') == targets else None
    up = lab.wait_until('all three shims up in Prometheus', all_up, timeout=240, interval=5)
    assert len(up) == 3
    for metric in ('vpe_usages_cpu_allocatable', 'vpe_usages_memory_allocatable_bytes', 'vpe_usages_instances'):
        result = lab.wait_until(metric, lambda metric=metric: query(metric), timeout=60, interval=5)
        assert set(s['metric']['instance'] for s in result) == targets
    cpu = dict((s['metric']['instance'], float(s['value'][1])) for s in query('vpe_usages_cpu_allocatable'))
    assert set(cpu.values()) == {8.0}   # the inventory's quota on every host
