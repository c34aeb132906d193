"""The collector as the real subprocess on the real host: what it stores,
restarts, the one-collector lock, SIGTERM, and vpe_facts reading its point."""

import os
import signal
import sqlite3
import subprocess
import time

import psutil
import pytest

import vpetest
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics import metrics
from ansible_collections.vpe.hypervisor.api_shim import metrics_collect, metrics_query
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import COLUMNS, MetricsStore, db_path
from metricstest import FakeStateCtx


def collect(state_dir, *args, **kwargs):
    return subprocess.Popen(vpetest.shim_command('collect', '--state-dir', str(state_dir), '--interval', '1', *args),
                            env=vpetest.shim_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)


def totals(state_dir):
    store = MetricsStore(str(state_dir))
    try:
        rows = store.rows(0, 2 ** 40)
    finally:
        store.close()
    return dict((c, sum(r[i + 1] for r in rows)) for i, c in enumerate(COLUMNS))


def wait_for_samples(state_dir, count, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        if os.path.exists(db_path(str(state_dir))) and totals(state_dir)['mem_n'] >= count:
            return
        time.sleep(0.2)
    raise AssertionError('the collector wrote fewer than %d samples' % count)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=20)[0]
    return proc.returncode, out


def test_collector_samples_the_real_host_and_stops_cleanly_on_sigterm(tmp_path):
    state_dir = tmp_path / 'state'
    proc = collect(state_dir)
    try:
        wait_for_samples(state_dir, 2, proc)
        # 32 MiB written and fsynced to a file on a physical disk while it samples
        with open(tmp_path / 'ballast', 'wb') as handle:
            handle.write(os.urandom(32 * 1024 * 1024))
            handle.flush()
            os.fsync(handle.fileno())
        wait_for_samples(state_dir, 6, proc)
    finally:
        rc, out = stop(proc)
    assert rc == 0, out
    assert 'collecting every 1s' in out and 'stopped after' in out

    conn = sqlite3.connect(db_path(str(state_dir)))
    assert conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    assert conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    conn.close()

    sums = totals(state_dir)
    assert sums['mem_n'] >= 6 and sums['cpu_s'] > 0
    if metrics_collect.physical_disks():
        assert sums['disk_s'] > 0
        assert sums['disk_write'] >= 32 * 1024 * 1024
    if metrics_collect.physical_nics():
        assert sums['net_s'] > 0 and sums['net_in'] >= 0 and sums['net_out'] >= 0

    point = metrics.latest(str(state_dir))
    total_mib = psutil.virtual_memory().total / 2 ** 20
    assert 0 <= point['cpu'] <= 100
    assert 0 < point['memory'] < total_mib
    used_now = (psutil.virtual_memory().total - psutil.virtual_memory().available) / 2 ** 20
    assert abs(point['memory'] - used_now) < 0.25 * total_mib
    for name in ('network_in', 'network_out', 'disk_read', 'disk_write'):
        assert point[name] is None or 0 <= point[name] < 10 * 2 ** 30
    today = metrics_query.query(FakeStateCtx(state_dir), 'today')
    assert list(today['cpu']['datas'].values())[-1] is not None  # the current, unfinished point


def test_a_restart_gives_no_rate_across_the_gap_and_keeps_the_store(tmp_path):
    state_dir = tmp_path / 'state'
    first = collect(state_dir, '--count', '2')
    assert first.wait(30) == 0, first.communicate()[0]
    time.sleep(4)
    second = collect(state_dir, '--count', '2')
    assert second.wait(30) == 0, second.communicate()[0]
    sums = totals(state_dir)
    assert sums['mem_n'] == 4
    # two 1-second intervals, one per run; a rate across the 4-second gap would add 4 s and more
    assert 0 < sums['cpu_s'] < 4


def test_a_killed_collector_leaves_a_sound_store_and_the_next_one_carries_on(tmp_path):
    state_dir = tmp_path / 'state'
    first = collect(state_dir)
    wait_for_samples(state_dir, 3, first)
    first.kill()  # SIGKILL: no chance to close anything
    first.wait(20)
    before = totals(state_dir)['mem_n']
    second = collect(state_dir, '--count', '2')
    assert second.wait(30) == 0, second.communicate()[0]
    conn = sqlite3.connect(db_path(str(state_dir)))
    assert conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    conn.close()
    assert totals(state_dir)['mem_n'] == before + 2


def test_one_collector_per_state_dir(tmp_path):
    state_dir = tmp_path / 'state'
    first = collect(state_dir)
    try:
        wait_for_samples(state_dir, 1, first)
        second = collect(state_dir, '--count', '1')
        out = second.communicate(timeout=30)[0]
        assert second.returncode == 2
        assert 'another collector already runs on %s' % state_dir in out
    finally:
        rc, out = stop(first)
    assert rc == 0, out


@pytest.mark.parametrize('args,words', [
    (['--interval', '0'], '--interval must be between 0.2 and 300 seconds'),
    (['--interval', 'x'], 'invalid float value'),
])
def test_bad_interval_is_refused(tmp_path, args, words):
    proc = subprocess.run(vpetest.shim_command('collect', '--state-dir', str(tmp_path / 's'), *args),
                          env=vpetest.shim_env(), capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 2 and words in proc.stderr
    assert not (tmp_path / 's').exists()


@pytest.mark.playbook
def test_vpe_facts_returns_the_latest_point(tmp_path):
    state_dir = tmp_path / 'state'
    proc = collect(state_dir, '--count', '2')
    assert proc.wait(30) == 0
    rc, results, output = vpetest.run_playbook('''
        - name: Gather the metrics point
          vpe.hypervisor.vpe_facts:
            gather: [metrics]
            state_dir: %s
          register: r_facts
        ''' % state_dir)
    assert rc == 0, output
    gathered = results['r_facts']['ansible_facts']['vpe']
    assert set(gathered) == {'metrics'}
    assert gathered['metrics'] == metrics.latest(str(state_dir))
    assert gathered['metrics']['time'] and gathered['metrics']['memory'] > 0
