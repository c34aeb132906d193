"""Probe of the shim's RSS growth (the `rss_growth` goal of bench/run.py), standalone.

A shim on a fresh state dir with --domains stopped domains, --pools pools of
--volumes volumes and a 62-day metrics store; 1,000 requests over every read
endpoint from 16 clients at once (as bench/run.py's warm-up), then 2-second
wrk runs at 16 connections over the endpoints, printing VmRSS (and the
anonymous heap mappings) at each --at count of requests.

    bench/rss_probe.py [--domains 20] [--at 1000,10000,30000,60000,100000,150000]
                       [--only metrics,pools] [--env MALLOC_ARENA_MAX=2] [--trace 25]

--env sets a variable in the shim's environment only. --trace N runs the shim
under tracemalloc (N frames) and writes a snapshot at the first and the last
count, then prints the top differences by traceback.

Domains are vpetest-bench-rss-N, pools vpebench-rss-NN (files in a temp
dir); all removed at the end, also after a failure. Needs root, libvirtd,
wrk and the venv with the .collections link (`make venv link`).
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO / 'tests'), str(REPO / '.collections'), str(BENCH)]

DOMAIN_PREFIX = 'vpetest-bench-rss-'
POOL_PREFIX = 'vpebench-rss-'
SNAPSHOT_ENV = 'VPE_RSS_PROBE_SNAPSHOT'


def shim_wrapper(argv):
    """The shim's own main; SIGUSR1 starts tracemalloc (argv[0] frames) the first
    time, and writes a snapshot (plus counts of live objects by type) to
    $VPE_RSS_PROBE_SNAPSHOT.N every time: what a snapshot holds was allocated
    after the first signal and is still alive."""
    import collections
    import ctypes
    import gc
    import tracemalloc
    frames = int(argv[0])
    taken = [0]

    def snapshot(_signum, _frame):
        if frames and not tracemalloc.is_tracing():
            tracemalloc.start(frames)
        taken[0] += 1
        path = '%s.%d' % (os.environ[SNAPSHOT_ENV], taken[0])
        libc = ctypes.CDLL(None)
        libc.fopen.restype = ctypes.c_void_p
        libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
        libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
        libc.fclose.argtypes = (ctypes.c_void_p,)
        out = libc.fopen((path + '.malloc').encode(), b'w')
        libc.malloc_info(0, out)
        libc.fclose(out)
        err = os.dup(2)
        with open(path + '.pymalloc', 'w') as stats:
            os.dup2(stats.fileno(), 2)
            sys._debugmallocstats()
        os.dup2(err, 2)
        os.close(err)
        types = collections.Counter(type(o).__name__ for o in gc.get_objects())
        with open(path + '.types', 'w') as out:
            json.dump(dict(types), out)
        if frames:
            tracemalloc.take_snapshot().dump(path + '.part')
            os.rename(path + '.part', path)
        else:
            open(path, 'w').close()

    signal.signal(signal.SIGUSR1, snapshot)
    from ansible_collections.vpe.hypervisor.api_shim.cli import main
    return main(argv[1:])


def rss_of(pid):
    """(VmRSS KiB, anonymous KiB of [heap] + unnamed mappings, unnamed mappings >= 1 MiB) of pid."""
    rss = None
    with open('/proc/%d/status' % pid) as status:
        for line in status:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1])
    anon = 0
    big = 0
    name = None
    size = 0
    with open('/proc/%d/smaps' % pid) as smaps:
        for line in smaps:
            fields = line.split()
            if '-' in fields[0] and len(fields) >= 5:
                start, end = (int(x, 16) for x in fields[0].split('-'))
                name = fields[5] if len(fields) > 5 else ''
                size = end - start
            elif fields[0] == 'Rss:' and name in ('', '[heap]'):
                anon += int(fields[1])
                if name == '' and size >= 1 << 20:
                    big += 1
    return rss, anon, big


def remove_objects():
    """The probe's pools and domains, on a connection of its own (libvirtd may have restarted)."""
    import libvirt
    import vpetest
    conn = libvirt.open('qemu:///system')
    try:
        for pool in conn.listAllStoragePools(0):
            if pool.name().startswith(POOL_PREFIX):
                vpetest.stop_and_undefine(pool)
        for dom in conn.listAllDomains(0):
            if dom.name().startswith(DOMAIN_PREFIX):
                vpetest.remove_domain(conn, dom.name())
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--domains', type=int, default=20)
    parser.add_argument('--pools', type=int, default=20)
    parser.add_argument('--volumes', type=int, default=500)
    parser.add_argument('--at', default='1000,10000,30000,60000,100000,150000')
    parser.add_argument('--only', default='', help='comma-separated endpoint names (substrings) to load after the warm-up')
    parser.add_argument('--env', action='append', default=[], help='NAME=VALUE in the shim environment')
    parser.add_argument('--trace', type=int, default=-1,
                        help='tracemalloc frames (0: no tracemalloc, only the counts by type, malloc_info and '
                             'pymalloc statistics, kept with --keep; -1: none of it)')
    parser.add_argument('--keep', default=None, help='copy the snapshots to this directory')
    parser.add_argument('--threads', type=int, default=None, help='shim --threads')
    parser.add_argument('--json', default=None, help='write the results here too')
    args = parser.parse_args()

    import libvirt
    import load
    import run as benchrun
    import vpetest

    class Shim(vpetest.Shim):
        """Up to 2 minutes to start: under tracemalloc on a loaded machine 20 s is short."""

        def _wait_ready(self):
            import requests
            deadline = time.time() + 120
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError('shim exited with %s:\n%s' % (self.proc.returncode, self.output()))
                try:
                    requests.get(self.url + '/healthz', timeout=1)
                    return
                except requests.ConnectionError:
                    time.sleep(0.1)
            raise RuntimeError('shim did not start:\n' + self.output())

    checkpoints = [int(x) for x in args.at.split(',')]
    work = Path(tempfile.mkdtemp(prefix='vpe-rss-probe-', dir='/var/tmp'))
    conn = libvirt.open(benchrun.URI)
    shim = None
    saved_env = dict(os.environ)
    results = {'args': vars(args), 'rss': []}
    try:
        for i in range(args.domains):
            conn.defineXML(vpetest.domain_xml('%s%d' % (DOMAIN_PREFIX, i), 1, 64))
        state_dir = work / 'state'
        bench_pools = benchrun.load_module('bench_pools', BENCH / 'pools' / 'bench_pools.py')
        bench_pools.NAME = POOL_PREFIX
        from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
        ctx = Context(benchrun.URI, str(state_dir))
        try:
            bench_pools.build(ctx, work / 'pools', args.pools, args.volumes, 128)
        finally:
            ctx.close()
        benchrun.seed_metrics(state_dir)
        (work / 'shim').mkdir()
        for item in args.env:
            name, _sep, value = item.partition('=')
            os.environ[name] = value
        extra = ['--threads', str(args.threads)] if args.threads else []
        if args.trace >= 0:
            os.environ[SNAPSHOT_ENV] = str(work / 'snap')
            real = vpetest.shim_command
            vpetest.shim_command = lambda *a: [sys.executable, str(Path(__file__).resolve()), '--shim-wrapper',
                                               str(args.trace)] + list(a)
            try:
                shim = Shim(work / 'shim', state_dir=state_dir, extra_args=extra)
            finally:
                vpetest.shim_command = real
        else:
            shim = Shim(work / 'shim', state_dir=state_dir, extra_args=extra)
        os.environ.clear()
        os.environ.update(saved_env)
        pid = shim.proc.pid
        auth = 'Authorization: Bearer %s' % shim.read_token
        targets = [(name, shim.url + path, [auth]) for name, path in benchrun.READ_ENDPOINTS]
        served = benchrun.warm_up(targets, checkpoints[0], 16)
        only = [w for w in args.only.split(',') if w]
        loaded = [t for t in targets if not only or any(w in t[0] for w in only)]
        snaps = []

        def note():
            rss, anon, big = rss_of(pid)
            load1 = os.getloadavg()[0]
            results['rss'].append({'requests': served, 'rss_kib': rss, 'anon_kib': anon, 'big_anon_maps': big,
                                   'load1': round(load1, 2)})
            base = results['rss'][0]['rss_kib']
            print('%8d requests  RSS %7.1f MiB (%+5.1f%%)  anon %7.1f MiB  anon maps>=1MiB %3d  load %.2f'
                  % (served, rss / 1024.0, 100.0 * (rss - base) / base, anon / 1024.0, big, load1), flush=True)
            if args.trace >= 0:
                shim.proc.send_signal(signal.SIGUSR1)
                path = '%s.%d' % (work / 'snap', len(snaps) + 1)
                deadline = time.time() + 120
                while not os.path.exists(path) and time.time() < deadline:
                    time.sleep(0.2)
                snaps.append(path)

        note()
        turn = 0
        for mark in checkpoints[1:]:
            while served < mark:
                _name, url, headers = loaded[turn % len(loaded)]
                served += load.run(url, 16, 2, headers)['requests']
                turn += 1
            note()
        if args.trace >= 0 and len(snaps) >= 2:
            types = [json.loads(Path(p + '.types').read_text()) for p in (snaps[0], snaps[-1])]
            grown = sorted(((types[1].get(k, 0) - types[0].get(k, 0), k) for k in types[1]), reverse=True)
            print('live objects grown by type: %s' % ', '.join('%s %+d' % (k, n) for n, k in grown[:12]))
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                for path in snaps:
                    for suffix in ('.types', '.malloc', '.pymalloc'):
                        shutil.copy(path + suffix, args.keep)
        if args.trace > 0 and len(snaps) >= 2:
            import tracemalloc
            first = tracemalloc.Snapshot.load(snaps[0])
            last = tracemalloc.Snapshot.load(snaps[-1])
            filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
            first, last = first.filter_traces(filters), last.filter_traces(filters)
            print('tracemalloc: traced %.1f MiB -> %.1f MiB' % (
                sum(s.size for s in first.statistics('filename')) / 2.0 ** 20,
                sum(s.size for s in last.statistics('filename')) / 2.0 ** 20))
            for stat in last.compare_to(first, 'traceback')[:15]:
                print('%+9.1f KiB %+7d blocks' % (stat.size_diff / 1024.0, stat.count_diff))
                for line in stat.traceback.format()[-12:]:
                    print('      ' + line)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        if shim is not None:
            shim.stop()
        remove_objects()
        try:
            conn.close()
        except libvirt.libvirtError:
            pass  # died with a libvirtd restart
        shutil.rmtree(str(work), ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    first, last = results['rss'][0]['rss_kib'], results['rss'][-1]['rss_kib']
    print('growth %d -> %d requests: %+.1f%%' % (results['rss'][0]['requests'], results['rss'][-1]['requests'],
                                                 100.0 * (last - first) / first))


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--shim-wrapper':
        sys.exit(shim_wrapper(sys.argv[2:]))
    main()
