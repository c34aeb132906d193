"""libvirtd stopped and started again under load, without restarting the
shim: while it is down every request that needs libvirt gets a 503 saying so
(and nothing else: no 500, no hang), and within a second of its return
requests succeed again.

This is the one test of the tier that stops the shared libvirtd; deselect it
with -m "not libvirtd_restart" when other suites use the daemon at the same
time."""

import collections
import os
import threading
import time

import pytest
import requests

import relkit
import vpetest

pytestmark = [pytest.mark.api, pytest.mark.libvirtd, pytest.mark.libvirtd_restart, pytest.mark.slow]

CLIENTS = 8
DOWN_SECONDS = float(os.environ.get('VPE_LIBVIRTD_DOWN_SECONDS', '3'))
READS = ('/hypervisor/usages', '/hypervisor/quota')


def test_libvirtd_restart_under_load_gives_503_then_recovers_within_a_second(tmp_path):
    with relkit.shim_at(tmp_path / 'shim', state_dir=tmp_path / 'state') as shim:
        assert shim.request('PUT', '/hypervisor/quota', json={'quota': {'cpu_max': 64}}).status_code == 200
        stop = threading.Event()
        lock = threading.Lock()
        seen = collections.Counter()
        bad = []
        phase = {'now': 'up'}

        def client(n):
            session = requests.Session()
            i = 0
            while not stop.is_set():
                i += 1
                path = READS[(n + i) % len(READS)]
                try:
                    if n % 4 == 0:
                        resp = session.put(shim.url + '/hypervisor/quota', headers=shim.headers('admin'),
                                           json={'quota': {'cpu_max': 64 + (i % 3)}}, timeout=30)
                    else:
                        resp = session.get(shim.url + path, headers=shim.headers('read'), timeout=30)
                except requests.RequestException as exc:
                    with lock:
                        bad.append('%s: %s' % (phase['now'], exc))
                    continue
                with lock:
                    seen[(phase['now'], resp.status_code)] += 1
                    if resp.status_code == 503:
                        doc = resp.json()
                        if 'libvirt' not in doc.get('detail', '') or resp.headers.get('Retry-After') != '1':
                            bad.append('unclear 503: %s' % doc)
                    elif resp.status_code != 200:
                        bad.append('%s: %d %s' % (phase['now'], resp.status_code, resp.text[:200]))
                time.sleep(0.01)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(1)
        recovery = None
        try:
            phase['now'] = 'stopping'
            vpetest.stop_libvirtd()
            phase['now'] = 'down'
            time.sleep(DOWN_SECONDS)
            down = shim.request('GET', '/hypervisor/usages')
            relkit.assert_problem(down, 503)
            assert 'libvirt' in down.json()['detail'] and 'qemu:///system' in down.json()['detail']
            assert shim.request('GET', '/healthz', token=None).status_code == 503
        finally:
            phase['now'] = 'starting'
            vpetest.start_libvirtd()
            back = time.time()
            phase['now'] = 'back'
            while time.time() - back < 10:
                if shim.request('GET', '/hypervisor/usages').status_code == 200:
                    recovery = time.time() - back
                    break
                time.sleep(0.02)
            time.sleep(1)
            stop.set()
            for thread in threads:
                thread.join(60)
        assert shim.proc.poll() is None, 'the shim died'
        log = shim.output()
    relkit.record('libvirtd_restart', clients=CLIENTS, seconds_down=DOWN_SECONDS,
                  requests=sum(seen.values()), faults_injected=1,
                  answered_503_while_down=seen[('down', 503)], answered_200_while_down=seen[('down', 200)],
                  recovery_seconds=round(recovery, 3) if recovery is not None else None,
                  unexpected=len(bad), status_by_phase={'%s %d' % k: v for k, v in sorted(seen.items())})
    assert not bad, bad[:10]
    assert seen[('down', 503)] > 0, seen
    assert recovery is not None and recovery < 1.0, 'recovered after %s s' % recovery
    assert seen[('back', 200)] > 0, seen
    assert 'unhandled error' not in log, log[-3000:]
