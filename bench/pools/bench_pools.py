"""Pools bench: 20 pools x 500 volumes on this machine, side by side in one run.

Times, on the same directories and the same libvirtd (qemu:///system):
  - GET /hypervisor/pools from a running shim (one scandir walk per pool);
  - vpe_facts (gather=pools) as an ad-hoc `ansible` run, and the same
    read in-process (no Ansible start-up);
  - `du -s` over the 20 directories (the floor for bytes on disk);
  - community.libvirt's `virt_pool command=facts` (from the `ansible`
    package, in the peer venv bench/out/.venv-peer, bench/requirements-peer.txt);
  - `ansible -m ping` (what any ad-hoc run costs before the module works);
  - the alternative we did not take: one libvirt vol.info() per volume,
    after pool.refresh(), in-process.

Sizes are checked to agree (ours vs du vs libvirt's allocation sum). Writes
the table to bench/README.md between its markers and to bench/out/.
Everything in libvirt is named vpetest-bp-* and removed at the end (files in
a temp dir under /var/tmp, removed too). Needs root and a running libvirtd.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
REPO = BENCH.parent
sys.path[:0] = [str(REPO / '.collections'), str(REPO / 'tests')]

import libvirt  # noqa: E402
import vpetest  # noqa: E402
from ansible_collections.vpe.hypervisor.plugins.module_utils.core import facts
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import pools_apply  # noqa: E402
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context  # noqa: E402

NAME = vpetest.PREFIX + 'bp-'
PEER_VENV = BENCH / 'out' / '.venv-peer'
README = BENCH / 'README.md'
MARK_START = '<!-- bench-pools:start -->'
MARK_END = '<!-- bench-pools:end -->'
GIB = 1024 ** 3


def log(msg):
    print('[bench-pools] %s' % msg, file=sys.stderr, flush=True)


def ensure_peer_venv():
    ansible = PEER_VENV / 'bin' / 'ansible'
    if not ansible.exists():
        log('creating the peer venv %s' % PEER_VENV)
        subprocess.run([sys.executable, '-m', 'venv', str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / 'bin' / 'pip'), 'install', '-q', '-r',
                        str(BENCH / 'requirements-peer.txt')], check=True)
    return ansible


def remove_bench_pools(conn, uuids=()):
    """Our pools by name, and by uuid (another suite's fuzzer may have renamed them)."""
    for pool in conn.listAllStoragePools(0):
        if pool.name().startswith(NAME) or pool.UUIDString() in uuids:
            vpetest.stop_and_undefine(pool)


def lookup(conn, uuid):
    """The pool with `uuid`, waiting out a rename by someone else (undefine + define)."""
    for attempt in range(20):
        try:
            return conn.storagePoolLookupByUUIDString(uuid)
        except libvirt.libvirtError:
            if attempt == 19:
                raise
            time.sleep(0.1)
    return None


def build(ctx, root, count, volumes, allocated_kib):
    """`count` pools through our service, `volumes` sparse files each, refreshed in libvirt."""
    made = []
    for i in range(count):
        path = root / ('pool%02d' % i)
        pool = ctx.run(pools_apply.create, {'name': '%s%02d' % (NAME, i), 'path': str(path), 'max_gb': 1000}).after
        for j in range(volumes):
            vol = path / ('vol%04d.qcow2' % j)
            fd = os.open(str(vol), os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.ftruncate(fd, GIB)  # 1 GiB apparent size, sparse
                os.posix_fallocate(fd, 0, allocated_kib * 1024)  # a little really on disk
            finally:
                os.close(fd)
        made.append((pool['uuid'], path))
    conn = ctx.conn.get()
    for uuid, _path in made:
        lookup(conn, uuid).refresh(0)
    return made


def timed(fn, rounds):
    fn()  # warm-up (caches, imports, connections)
    walls = []
    for _round in range(rounds):
        start = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
    return {'median': statistics.median(walls), 'min': min(walls), 'rounds': rounds}


def run(cmd, env=None, attempts=1):
    """stdout of cmd. attempts > 1 retries a failure (virt_pool fails outright when
    another pool on the shared libvirtd vanishes while it lists them)."""
    for attempt in range(attempts):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return proc.stdout
        log('%s failed (attempt %d of %d)' % (cmd[0], attempt + 1, attempts))
    raise RuntimeError('%s failed (%d):\n%s%s' % (' '.join(cmd), proc.returncode, proc.stdout[-3000:],
                                                  proc.stderr[-3000:]))


def adhoc(ansible, module, args, env, python):
    return [str(ansible), 'localhost', '-c', 'local', '-i', 'localhost,', '-m', module, '-a', args,
            '-e', 'ansible_python_interpreter=%s' % python], env


def peer_env():
    env = dict(os.environ)
    for key in ('ANSIBLE_COLLECTIONS_PATH', 'PYTHONPATH', 'LIBVIRT_DEFAULT_URI'):
        env.pop(key, None)
    env.update({'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_LOCALHOST_WARNING': '0',
                'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0'})
    return env


def measure(ctx, made, state_dir, work, rounds):
    dirs = [str(path) for _uuid, path in made]
    uuids = set(uuid for uuid, _path in made)
    conn = ctx.conn.get()
    results = {}
    sizes = {}
    counts = {'volume files on disk': sum(len(os.listdir(d)) for d in dirs)}

    shim = vpetest.Shim(work / 'shim', state_dir=state_dir)
    try:
        def get_pools():
            resp = shim.request('GET', '/hypervisor/pools', token='read')
            assert resp.status_code == 200, resp.text
            return resp.json()['pools']
        results['shim'] = timed(get_pools, rounds)
        everything = get_pools()
        counts['pools in the GET answer (all on the host)'] = len(everything)
        ours = [p for p in everything if p['uuid'] in uuids]
        assert len(ours) == len(made)
        sizes['ours (sum of the used_gb, each rounded to 2 decimals)'] = round(sum(p['used_gb'] for p in ours), 2)
    finally:
        shim.stop()

    results['facts_inproc'] = timed(lambda: facts.gather(ctx, ['pools']), rounds)

    ours_env = vpetest.ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'minimal', 'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1'})
    cmd, env = adhoc(vpetest.ansible_bin('ansible'), 'vpe.hypervisor.vpe_facts',
                     'gather=pools state_dir=%s' % state_dir, ours_env, vpetest.PYTHON)
    results['facts_adhoc'] = timed(lambda: run(cmd, env), rounds)
    cmd_ping, env_ping = adhoc(vpetest.ansible_bin('ansible'), 'ansible.builtin.ping', '', ours_env, vpetest.PYTHON)
    results['ping_adhoc'] = timed(lambda: run(cmd_ping, env_ping), rounds)

    du_cmd = ['du', '-s', '--block-size=1'] + dirs
    results['du'] = timed(lambda: run(du_cmd), rounds)
    du_bytes = sum(int(line.split()[0]) - os.stat(d).st_blocks * 512
                   for line, d in zip(run(du_cmd).splitlines(), dirs))
    sizes['du -s (minus the directory entries)'] = round(du_bytes / float(GIB), 2)

    peer_ansible = ensure_peer_venv()
    peer_cmd, penv = adhoc(peer_ansible, 'community.libvirt.virt_pool', 'command=facts uri=qemu:///system',
                           dict(peer_env(), ANSIBLE_STDOUT_CALLBACK='json', ANSIBLE_LOAD_CALLBACK_PLUGINS='1'),
                           str(PEER_VENV / 'bin' / 'python'))
    results['peer_facts'] = timed(lambda: run(peer_cmd, penv, attempts=3), rounds)
    peer_doc = json.loads(run(peer_cmd, penv, attempts=3))
    peer_facts = peer_doc['plays'][0]['tasks'][0]['hosts']['localhost']['ansible_facts']['ansible_libvirt_pools']
    peer_ours = [v for v in peer_facts.values() if v.get('uuid') in uuids]
    counts['virt_pool facts (volume_count, summed)'] = sum(max(v.get('volume_count', 0), 0) for v in peer_ours)
    sizes['virt_pool facts (size_used of the first pool)'] = round(int(peer_ours[0]['size_used']) / float(GIB), 2)

    lv_pools = [lookup(conn, u) for u, _p in made]

    def per_volume():
        return sum(vol.info()[2] for pool in lv_pools for vol in pool.listAllVolumes(0))
    results['per_volume'] = timed(per_volume, rounds)
    sizes['libvirt (sum of vol.info() allocation)'] = round(per_volume() / float(GIB), 2)
    counts['libvirt (volumes listed after refresh)'] = sum(p.numOfVolumes() for p in lv_pools)
    results['refresh'] = timed(lambda: [p.refresh(0) for p in lv_pools], rounds)
    return results, sizes, counts


def table(results, sizes, counts, args):
    vols = args.pools * args.volumes
    rows = [
        ('GET /hypervisor/pools (shim, HTTP; every pool on the host, see below)', 'shim'),
        ('vpe_facts gather=pools, in-process (the same read, no Ansible)', 'facts_inproc'),
        ('vpe_facts gather=pools, ad-hoc `ansible` run', 'facts_adhoc'),
        ('community.libvirt virt_pool command=facts, ad-hoc `ansible` run (peer venv)', 'peer_facts'),
        ('`ansible -m ping`, ad-hoc (the start-up any ad-hoc run pays)', 'ping_adhoc'),
        ('`du -s` over the %d directories' % args.pools, 'du'),
        ('not taken: one libvirt vol.info() per volume (%d round trips), in-process' % vols, 'per_volume'),
        ('libvirt pool.refresh() of the %d pools (what libvirt needs to see new files)' % args.pools, 'refresh'),
    ]
    lines = [MARK_START, '## Pools: %d pools x %d volumes' % (args.pools, args.volumes), '',
             '`make bench-pools` (bench/pools/bench_pools.py), one run on %s, %s CPUs, libvirt %s; '
             'median (min) of %d rounds after one warm-up. Each volume is a 1 GiB sparse file with %d KiB '
             'allocated. Load average (1 min) when the table was written: %.1f.' % (
                 time.strftime('%Y-%m-%d %H:%M'), os.cpu_count(), '.'.join(
                     str(libvirt.getVersion() // d % 1000) for d in (1000000, 1000, 1)), args.rounds, args.kib,
                 os.getloadavg()[0]), '',
             '| what | median s | min s |', '| --- | ---: | ---: |']
    for label, key in rows:
        lines.append('| %s | %.3f | %.3f |' % (label, results[key]['median'], results[key]['min']))
    lines += ['', 'Bytes on disk of the same %d volumes, as each side counts them (GiB):' % vols, '',
              '| counted by | GiB |', '| --- | ---: |']
    for label, value in sizes.items():
        lines.append('| %s | %.2f |' % (label, value))
    lines += ['', 'Counts:', '', '| what | count |', '| --- | ---: |']
    for label, value in counts.items():
        lines.append('| %s | %d |' % (label, value))
    lines += ['', 'Reading: `used_gb` costs one `os.scandir` walk per pool (one lstat per file, no libvirt '
              'round trip per volume), so GET /hypervisor/pools stays in the range of `du -s` on the same '
              'directories. The ad-hoc `vpe_facts` run is mostly Ansible start-up (compare `ping`). '
              "virt_pool's facts list volume names but give no per-pool bytes on disk: its `size_used` is the "
              "whole file system's allocation (the same for every pool on it), and a volume added since the "
              "pool's last refresh is not in its list. The per-volume libvirt way needs a refresh first and "
              'a round trip per volume.', MARK_END]
    return '\n'.join(lines)


def write_readme(section):
    text = README.read_text() if README.exists() else '# Benchmarks\n'
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        text = head + section + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip('\n') + '\n\n' + section + '\n'
    README.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--pools', type=int, default=20)
    parser.add_argument('--volumes', type=int, default=500)
    parser.add_argument('--kib', type=int, default=128, help='KiB really allocated per volume')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--no-readme', action='store_true')
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench-pools needs root (libvirt pools on qemu:///system)')
    vpetest.ensure_collection_link()
    work = Path(tempfile.mkdtemp(prefix='vpebench-pools-', dir='/var/tmp'))
    state_dir = work / 'state'
    ctx = Context(uri=vpetest.SYSTEM_URI, state_dir=str(state_dir))
    conn = ctx.conn.get()
    made = []
    try:
        remove_bench_pools(conn)
        log('building %d pools x %d volumes under %s' % (args.pools, args.volumes, work))
        start = time.perf_counter()
        made.extend(build(ctx, work / 'pools', args.pools, args.volumes, args.kib))
        log('built in %.1fs; measuring (%d rounds each)' % (time.perf_counter() - start, args.rounds))
        (work / 'shim').mkdir()
        results, sizes, counts = measure(ctx, made, state_dir, work, args.rounds)
    finally:
        remove_bench_pools(conn, set(uuid for uuid, _path in made))
        ctx.close()
        shutil.rmtree(str(work), ignore_errors=True)
    section = table(results, sizes, counts, args)
    out = BENCH / 'out'
    out.mkdir(exist_ok=True)
    (out / ('pools-%s.json' % time.strftime('%Y%m%d-%H%M%S'))).write_text(
        json.dumps({'args': vars(args), 'results': results, 'sizes': sizes, 'counts': counts}, indent=2))
    print(section)
    if not args.no_readme:
        write_readme(section)
        log('table written to %s' % README)


if __name__ == '__main__':
    main()
