"""Metrics benchmark: query time of every range against a 62-day store (in
the service and over HTTP), the store's bytes per month, and the collector's
CPU cost per sample, extrapolated to the default 60 s interval.

usage: bench/metrics/bench_metrics.py [--samples N] [--runs N]
(`make bench-metrics`; needs the venv and .collections link of `make venv link`.)
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tests'))
sys.path.insert(0, str(REPO / '.collections'))

import psutil  # noqa: E402

import metricstest  # noqa: E402
import vpetest  # noqa: E402
from ansible_collections.vpe.hypervisor.api_shim import metrics_query  # noqa: E402
from ansible_collections.vpe.hypervisor.api_shim import metrics_ranges as ranges  # noqa: E402
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics.metrics_store import (  # noqa: E402
    MetricsStore, db_path)

DEFAULT_INTERVAL = 60
GOAL_LASTMONTH_MS = 50
GOAL_COLLECTOR_PERCENT = 0.1


def ms(seconds):
    return '%.2f' % (seconds * 1000)


def timed(fn, runs, cpu=None):
    """(median wall seconds, max wall seconds); appends the median CPU seconds of this process to `cpu`."""
    fn()  # warm up (imports, page cache)
    times = []
    cpus = []
    for _run in range(runs):
        started = time.perf_counter()
        cpu_started = time.process_time()
        fn()
        cpus.append(time.process_time() - cpu_started)
        times.append(time.perf_counter() - started)
    if cpu is not None:
        cpu.append(statistics.median(cpus))
    return statistics.median(times), max(times)


def realistic(bucket):
    """Fractional values like a collector writes (integral ones would pack smaller)."""
    rnd = random.Random(bucket)
    return {'cpu': rnd.uniform(0, 100), 'memory': rnd.uniform(1000, 64000), 'net_in': rnd.uniform(0, 1e8),
            'net_out': rnd.uniform(0, 1e8), 'disk_read': rnd.uniform(0, 1e8), 'disk_write': rnd.uniform(0, 1e8)}


def seed_store(state_dir):
    now = int(time.time())
    rows = metricstest.seed(state_dir, now - 62 * 86400, now + 1, values=realistic)
    store = MetricsStore(str(state_dir))
    store.conn.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    store.conn.execute('VACUUM')
    store.close()
    size = os.path.getsize(db_path(str(state_dir)))
    return rows, size


def bench_queries(state_dir, runs):
    ctx = metricstest.FakeStateCtx(state_dir)
    cases = [(q, None) for q in ranges.QUERIES] + [('lastmonth', 300), ('thismonth', 300)]
    out = []
    for q, step in cases:
        cpu = []
        median, worst = timed(lambda: metrics_query.query(ctx, q, step), runs, cpu)
        points = len(metrics_query.query(ctx, q, step)['cpu']['datas'])
        out.append((q, step or ranges.DEFAULT_STEP[q], points, median, worst, cpu[0]))
    return out


def bench_http(state_dir, runs, workdir):
    shim = vpetest.Shim(workdir, state_dir=state_dir)
    try:
        out = []
        for q in ranges.QUERIES:
            path = '/hypervisor/metrics?q=%s' % q
            resp = shim.request('GET', path, token='read')
            assert resp.status_code == 200, resp.text
            median, worst = timed(lambda: shim.request('GET', path, token='read'), runs)
            out.append((q, len(resp.content), median, worst))
        median, worst = timed(lambda: shim.request('GET', '/metrics', token='read'), runs)
        out.append(('/metrics (Prometheus)', len(shim.request('GET', '/metrics', token='read').content),
                    median, worst))
        return out
    finally:
        shim.stop()


def samples_written(state_dir):
    store = MetricsStore(str(state_dir))
    try:
        row = store.conn.execute('SELECT COALESCE(SUM(mem_n), 0) FROM buckets').fetchone() if store.exists else (0,)
    except Exception:  # the collector has not created its table yet
        row = (0,)
    finally:
        store.close()
    return row[0]


def wait_samples(state_dir, count, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit('collector exited: %s' % proc.communicate()[0])
        if samples_written(state_dir) >= count:
            return
        time.sleep(0.05)
    raise SystemExit('collector too slow')


def bench_collector(state_dir, samples):
    """CPU seconds per sample of a collector at --interval 1, between sample 5 and 5 + samples."""
    proc = subprocess.Popen(vpetest.shim_command('collect', '--state-dir', str(state_dir), '--interval', '1'),
                            env=vpetest.shim_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        watched = psutil.Process(proc.pid)
        wait_samples(state_dir, 5, proc, 60)
        cpu0 = sum(watched.cpu_times()[:2])
        n0 = samples_written(state_dir)
        wait_samples(state_dir, 5 + samples, proc, samples * 3 + 60)
        cpu1 = sum(watched.cpu_times()[:2])
        n1 = samples_written(state_dir)
        rss = watched.memory_info().rss
    finally:
        proc.terminate()
        proc.wait(20)
    return (cpu1 - cpu0) / (n1 - n0), n1 - n0, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=60, help='collector samples to measure (default 60, 1 s each)')
    parser.add_argument('--runs', type=int, default=30, help='runs per query (default 30)')
    args = parser.parse_args()
    vpetest.ensure_collection_link()
    failed = []
    print('host: %d CPUs, load average %s, Python %s' % (os.cpu_count(), ' '.join(
        '%.2f' % x for x in os.getloadavg()), sys.version.split()[0]))
    with tempfile.TemporaryDirectory(prefix='vpebench-') as tmp:
        state_dir = Path(tmp) / 'state'
        rows, size = seed_store(state_dir)
        per_row = size / float(rows)
        per_month = per_row * 288 * 31
        print('store: %d buckets over 62 days = %d bytes (%.0f B/bucket); a 31-day month: %.2f MiB, '
              'the 62+ days kept: %.2f MiB' % (rows, size, per_row, per_month / 2 ** 20, size / 2 ** 20))
        print()
        print('service-level query (median / max of %d runs)' % args.runs)
        print('%-10s %6s %7s %10s %10s %8s' % ('q', 'step', 'points', 'median ms', 'max ms', 'CPU ms'))
        for q, step, points, median, worst, cpu in bench_queries(state_dir, args.runs):
            print('%-10s %6d %7d %10s %10s %8s' % (q, step, points, ms(median), ms(worst), ms(cpu)))
            if q == 'lastmonth' and step == 7200 and median * 1000 >= GOAL_LASTMONTH_MS:
                failed.append('lastmonth %.1f ms >= %d ms' % (median * 1000, GOAL_LASTMONTH_MS))
        print()
        print('over HTTP, read token, loopback (median / max of %d runs)' % args.runs)
        print('%-22s %8s %10s %10s' % ('GET', 'bytes', 'median ms', 'max ms'))
        for q, length, median, worst in bench_http(state_dir, args.runs, Path(tmp)):
            print('%-22s %8d %10s %10s' % (q, length, ms(median), ms(worst)))
        print()
        per_sample, measured, rss = bench_collector(Path(tmp) / 'collector', args.samples)
        percent = per_sample / DEFAULT_INTERVAL * 100
        print('collector: %.2f ms CPU per sample over %d samples (RSS %.1f MiB)'
              % (per_sample * 1000, measured, rss / 2 ** 20))
        print('  at the default %d s interval: %.3f s CPU per hour = %.4f%% of one core (goal < %.1f%%)'
              % (DEFAULT_INTERVAL, per_sample * 3600 / DEFAULT_INTERVAL, percent, GOAL_COLLECTOR_PERCENT))
        if percent >= GOAL_COLLECTOR_PERCENT:
            failed.append('collector %.4f%% >= %.1f%%' % (percent, GOAL_COLLECTOR_PERCENT))
    print()
    print('goals: ' + ('MISSED: ' + '; '.join(failed) if failed else 'met'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
