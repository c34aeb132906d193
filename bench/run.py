"""Performance bench, side by side on this machine, in one run:

1. overhead: a no-change run of roles/hypervisor (quota, VM bridge, image
   store, 5 pools) against the same configuration written with
   community.libvirt (bench/peer/site.yml) and against the floor (one
   ansible.builtin.ping task per part, 4); vpe_facts alone against ping.
2. fleet: a no-change run of quota + pools + vpe_facts over 1, 8, 32 and 128
   local inventory hosts (bench/fleet), forks 8 and 32: seconds per host.
3. shim: every read endpoint (usages with 200 domains, quota, pools with 20
   pools x 500 volumes, image-pool, network, metrics for every q on a 62-day
   store, Prometheus /metrics) at 16 connections with wrk, each straight after
   a constant Bottle endpoint on the same server (bench/constant_app.py), its
   share taken against that run; usages and pools also at 1 connection; the
   shim's RSS after 1,000 and after 100,000 requests.

Exits 1 when a goal (GOALS) is missed, naming each one.

Writes bench/out/perf-<time>.json and, unless --no-readme, the table in
bench/README.md. Needs root, a running libvirtd (qemu:///system), wrk, the
venv and the peer venv (`make bench` sets them up; `make bench-short` runs
a quick mode).

Everything it creates is named vpebench-* (libvirt pools and networks),
vpetest-bench-N (domains) or vb* (network
interfaces: a veth pair and a bridge in the root namespace) and is removed
at the end, also after a failure.
"""

import argparse
import datetime
import glob
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / 'tests'))
sys.path.insert(0, str(REPO / '.collections'))
sys.path.insert(0, str(BENCH))

import libvirt  # noqa: E402

import load  # noqa: E402
import vpetest  # noqa: E402
from fleet import gen as fleet_gen  # noqa: E402

PYTHON = sys.executable
ANSIBLE_PLAYBOOK = str(Path(PYTHON).parent / 'ansible-playbook')
PEER_VENV = BENCH / 'out' / '.venv-peer'
OUT = BENCH / 'out'
README = BENCH / 'README.md'
URI = 'qemu:///system'
# libvirt pools and networks the bench makes. Not vpetest-: the test suites
# sweep vpetest-* pools before and after their tests, and they may run at
# the same time as the bench. Domains are vpetest-bench-N.
NAME = 'vpebench-'
DOMAIN_NAME = 'vpetest-bench-'
BRIDGE = 'vbbr0'                 # the bench's bridge and veth pair (root namespace)
VETH = ('vbv0a', 'vbv0b')
IMAGE_STORE = 'vpe-image-store'
MARK_START = '<!-- perf:start (bench/run.py writes this section) -->'
MARK_END = '<!-- perf:end -->'
# Timings of one task (vpe_facts, ping, the empty playbook) per overhead round.
SINGLE_REPEATS = 3

GOALS = {
    'facts_vs_ping': 1.10,       # vpe_facts task <= 1.1 x a ping task
    'role_vs_floor': 1.25,       # the role's no-change run <= 1.25 x as many ping tasks
    'peer_vs_role': 2.0,         # community.libvirt version >= 2 x the role's no-change run
    'fleet_flat': 0.20,          # per-host time 8 -> 128 hosts within 20 %
    'read_vs_constant': 0.5,     # every read endpoint's req/s >= half the constant endpoint's (16 connections)
    'usages_vs_constant': 0.5,   # usages req/s >= half the constant endpoint's (1 connection)
    'p99_ms': 50.0,              # every read endpoint's p99 at 16 connections
    'rss_growth': 0.10,          # shim RSS after 100,000 requests within 10 % of after 1,000
}
# The shim's read endpoints, each measured at 16 connections right after the
# constant endpoint (the ratio is to that run, so a load change between cells
# on this shared machine moves both).
READ_ENDPOINTS = (
    ('usages', '/hypervisor/usages'),
    ('quota', '/hypervisor/quota'),
    ('pools', '/hypervisor/pools'),
    ('image-pool', '/hypervisor/image-pool'),
    ('network', '/hypervisor/network'),
) + tuple(('metrics %s' % q, '/hypervisor/metrics?q=%s' % q)
          for q in ('today', 'yesterday', 'thisweek', 'lastweek', 'thismonth', 'lastmonth')) + (
    ('/metrics', '/metrics'),
)
RSS_REQUESTS = (1000, 100000)

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def log(msg):
    sys.stderr.write('[bench %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


# -- running playbooks ---------------------------------------------------------

def peer_collections():
    found = glob.glob(str(PEER_VENV / 'lib' / 'python3*' / 'site-packages'))
    if not found or not os.path.isdir(os.path.join(found[0], 'ansible_collections', 'community', 'libvirt')):
        raise SystemExit('the peer venv %s has no community.libvirt; run `make bench-peer-venv`' % PEER_VENV)
    return found[0]


def peer_python():
    return str(PEER_VENV / 'bin' / 'python')


def ansible_env(peer=False, extra=None):
    """One controller for every side (the venv's ansible-core); the peer's
    collection comes from the peer venv's `ansible` package, and its modules
    run on the peer venv's Python (community.libvirt needs lxml)."""
    env = vpetest.ansible_env()
    paths = [str(REPO / '.collections')]
    if peer:
        paths.append(peer_collections())
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': ':'.join(paths),
        'ANSIBLE_PYTHON_INTERPRETER': peer_python() if peer else PYTHON,
        'ANSIBLE_DEPRECATION_WARNINGS': '0',
        'ANSIBLE_SYSTEM_WARNINGS': '0',
        'ANSIBLE_HOST_KEY_CHECKING': '0',
        'ANSIBLE_GATHERING': 'explicit',
    })
    env.update(extra or {})
    return env


RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)',
                   re.M)


def playbook(path, inventory, extra_vars=None, forks=None, peer=False, env=None, check_rc=True, retries=1,
             before_retry=None):
    """Run a playbook; returns wall and CPU seconds (the whole process tree) and the recap totals.

    Other jobs share this libvirtd (test suites create and sweep pools while
    we list them), so a failed run is retried once and the retry logged.
    """
    for attempt in range(retries + 1):
        try:
            return _playbook(path, inventory, extra_vars, forks, peer, env, check_rc)
        except RuntimeError as exc:
            if attempt == retries:
                raise
            why = [ln for ln in str(exc).splitlines() if ln.startswith(('failed:', 'fatal:', '[ERROR]'))]
            log('retrying %s after a failure: %s' % (path.name, (why or str(exc).strip().splitlines())[-1][:400]))
            if before_retry is not None:
                before_retry()
    return None


def _playbook(path, inventory, extra_vars, forks, peer, env, check_rc):
    cmd = [ANSIBLE_PLAYBOOK, '-i', str(inventory), str(path)]
    if extra_vars:
        cmd += ['-e', '@' + str(extra_vars)]
    if forks:
        cmd += ['-f', str(forks)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=ansible_env(peer, env), capture_output=True, text=True, cwd=str(path.parent),
                          check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    totals = {'ok': 0, 'changed': 0, 'failed': 0, 'skipped': 0, 'unreachable': 0, 'hosts': 0}
    for m in RECAP.finditer(proc.stdout):
        totals['hosts'] += 1
        for key, idx in (('ok', 2), ('changed', 3), ('unreachable', 4), ('failed', 5), ('skipped', 6)):
            totals[key] += int(m.group(idx))
    if check_rc and (proc.returncode != 0 or totals['failed'] or totals['unreachable']):
        raise RuntimeError('%s failed (rc %d):\n%s\n%s' % (path.name, proc.returncode, proc.stdout[-6000:],
                                                           proc.stderr[-3000:]))
    return {'wall': wall, 'cpu': cpu, 'totals': totals, 'stdout': proc.stdout}


def write_json(path, doc):
    path.write_text(json.dumps(doc, indent=1))
    return path


def median(values):
    return statistics.median(values) if values else float('nan')


# -- libvirt / network housekeeping -------------------------------------------

def sh(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


def link_exists(name):
    return sh('ip', 'link', 'show', 'dev', name, check=False).returncode == 0


def make_veth():
    remove_interfaces()
    sh('ip', 'link', 'add', VETH[0], 'type', 'veth', 'peer', 'name', VETH[1])
    for name in VETH:
        sh('ip', 'link', 'set', 'dev', name, 'up')


def remove_interfaces():
    """Only the bench's own names: the bridge and the veth pair (deleting one end drops both)."""
    for name in (BRIDGE, VETH[0], VETH[1]):
        if link_exists(name):
            sh('ip', 'link', 'del', 'dev', name, check=False)


def safe_close(conn):
    try:
        conn.close()
    except libvirt.libvirtError:
        pass  # died with a libvirtd restart


def remove_bench_objects(_conn=None, prefix=None, domains=True):
    """Every vpebench-* pool (files stay) and network (or those starting with
    `prefix`), and every vpetest-bench-* domain (NAME, DOMAIN_NAME). On a connection of its own:
    the caller's may have died with a libvirtd restart."""
    conn = libvirt.open(URI)
    try:
        _remove_bench_objects(conn, NAME if prefix is None else prefix, domains)
    finally:
        conn.close()


def _remove_bench_objects(conn, prefix, domains):
    for obj in conn.listAllStoragePools(0) + conn.listAllNetworks(0):
        if obj.name().startswith(prefix):
            vpetest.stop_and_undefine(obj)
    for dom in conn.listAllDomains(0) if domains else ():
        if dom.name().startswith(DOMAIN_NAME):
            vpetest.remove_domain(conn, dom.name())


def all_active(_conn, names, work):
    """True when the bench's pools are all there and running. Pools of ours
    that another job renamed (an API fuzzer on this libvirtd does) are
    removed, so the next converge can make them again (files stay)."""
    conn = libvirt.open(URI)
    try:
        return _all_active(conn, names, work)
    finally:
        conn.close()


def _all_active(conn, names, work):
    for pool in conn.listAllStoragePools(0):
        try:
            path = ET.fromstring(pool.XMLDesc(0)).findtext('target/path') or ''
            if path.startswith(str(work) + '/') and not pool.name().startswith(NAME) and pool.name() != IMAGE_STORE:
                log('pool %s at %s is ours under another name: removing it' % (pool.name(), path))
                vpetest.stop_and_undefine(pool)
        except libvirt.libvirtError:
            continue
    try:
        return all(conn.storagePoolLookupByName(n).isActive() for n in names)
    except libvirt.libvirtError:
        return False


class ImageStoreGuard(object):
    """Puts the host's image store pool back as it was (the bench points it elsewhere)."""

    def __init__(self, conn):
        self.conn = conn
        self.saved = None
        try:
            pool = conn.storagePoolLookupByName(IMAGE_STORE)
            self.saved = (pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE), pool.isActive(), pool.autostart())
        except libvirt.libvirtError:
            pass

    def restore(self):
        self.conn = libvirt.open(URI)  # the first one may have died with a libvirtd restart
        try:
            vpetest.stop_and_undefine(self.conn.storagePoolLookupByName(IMAGE_STORE))
        except libvirt.libvirtError:
            pass
        if self.saved is not None:
            pool = self.conn.storagePoolDefineXML(self.saved[0], 0)
            if self.saved[2]:
                pool.setAutostart(1)
            if self.saved[1]:
                try:
                    pool.create(0)
                except libvirt.libvirtError as exc:  # its directory went away meanwhile (a test's temp dir)
                    log('the image store was put back but cannot start: %s' % exc.get_error_message())


# -- 1. module overhead --------------------------------------------------------

def gathered_facts(inventory, state_dir):
    """ansible_facts.vpe as vpe_facts returns it for the converged role's state."""
    cmd = [vpetest.ansible_bin('ansible'), '-i', str(inventory), 'localhost', '-o', '-m', 'vpe.hypervisor.vpe_facts',
           '-a', 'state_dir=%s' % state_dir]
    out = subprocess.run(cmd, env=ansible_env(), capture_output=True, text=True, check=True).stdout
    return json.loads(out.split('=>', 1)[1])['ansible_facts']['vpe']


def overhead(work, rounds, facts_count):
    conn = libvirt.open(URI)
    guard = ImageStoreGuard(conn)
    inventory = work / 'localhost.ini'
    inventory.write_text('localhost ansible_connection=local\n')
    ours_dir = work / 'ours'
    peer_dir = work / 'peer'
    pools = 5
    ours_vars = write_json(work / 'ours-vars.json', {
        'hypervisor_state_dir': str(ours_dir / 'state'),
        'hypervisor_manage_packages': False,
        'hypervisor_quota': {'cpu_max': 512, 'memory_max_mb': 1048576},
        'hypervisor_network': {'bridge': BRIDGE, 'bridge_interface': VETH[0], 'persist': 'none',
                               'libvirt_network': NAME + 'net'},
        'hypervisor_image_pool': {'path': str(ours_dir / 'images'), 'max_gb': 100},
        'hypervisor_pools': [{'name': '%sours-p%d' % (NAME, i), 'path': str(ours_dir / 'pools' / ('p%d' % i)),
                              'max_gb': 10} for i in range(1, pools + 1)],
    })
    peer_vars = write_json(work / 'peer-vars.json', {
        'peer_state_dir': str(peer_dir / 'state'),
        'peer_quota': {'cpu_max': 512, 'memory_max_mb': 1048576},
        'peer_network': {'bridge': BRIDGE, 'bridge_interface': VETH[0], 'libvirt_network': NAME + 'peer-net'},
        'peer_image_pool': {'name': NAME + 'peer-images', 'path': str(peer_dir / 'images'), 'max_gb': 100},
        'peer_pools': [{'name': '%speer-p%d' % (NAME, i), 'path': str(peer_dir / 'pools' / ('p%d' % i)),
                        'max_gb': 10} for i in range(1, pools + 1)],
    })
    sides = {
        'role': (BENCH / 'suite' / 'ours.yml', ours_vars, False),
        'peer': (BENCH / 'peer' / 'site.yml', peer_vars, True),
        'floor': (BENCH / 'suite' / 'floor.yml', None, False),
    }
    repeat = BENCH / 'suite' / 'repeat.yml'
    facts_file = work / 'vpe-facts.json'

    def single_vars(task, count):
        return write_json(work / ('r-%s.json' % task),
                          {'bench_task': task, 'bench_count': count, 'bench_state_dir': str(ours_dir / 'state'),
                           'bench_facts_file': str(facts_file)})
    # libvirt_floor: a module that loads libvirt and returns vpe_facts' facts
    # (bench/suite/library): what any libvirt-backed facts module costs.
    single = {'vpe_facts': single_vars('vpe_facts', facts_count), 'libvirt_floor': single_vars('libvirt_floor', facts_count),
              'ping': single_vars('ping', facts_count), 'empty': single_vars('none', 0)}
    result = {'pools': pools, 'rounds': rounds, 'single_runs': rounds * SINGLE_REPEATS, 'facts_count': facts_count,
              'runs': {}, 'converge': {}}

    def repair():
        all_active(conn, [], work)

    def run(path, evars, peer=False):
        return playbook(path, inventory, evars, peer=peer, before_retry=repair)
    try:
        make_veth()
        for side in ('role', 'peer'):
            path, evars, peer = sides[side]
            all_active(conn, [], work)
            first = run(path, evars, peer)
            second = run(path, evars, peer)
            result['converge'][side] = {'first_changed': first['totals']['changed'],
                                        'second_changed': second['totals']['changed'],
                                        'tasks': second['totals']['ok'], 'skipped': second['totals']['skipped']}
            log('%s converged: first run changed %d, second run changed %d (%d ok, %d skipped)'
                % (side, first['totals']['changed'], second['totals']['changed'], second['totals']['ok'],
                   second['totals']['skipped']))
        write_json(facts_file, gathered_facts(inventory, ours_dir / 'state'))
        runs = result['runs']
        expected = {
            'role': ['%sours-p%d' % (NAME, i) for i in range(1, pools + 1)],
            'peer': ['%speer-p%d' % (NAME, i) for i in range(1, pools + 1)] + [NAME + 'peer-images'],
        }
        for rnd in range(rounds):
            for side in ('role', 'peer', 'floor'):
                path, evars, peer = sides[side]
                if side in expected and not all_active(conn, expected[side], work):
                    # another job on this libvirtd removed some (it happens while
                    # API fuzzers run): converge again, untimed, so the timed run is a no-change run
                    log('%s: bench pools went missing; converging again before the timed run' % side)
                    run(path, evars, peer)
                res = run(path, evars, peer)
                runs.setdefault(side, []).append({'wall': res['wall'], 'cpu': res['cpu'],
                                                  'changed': res['totals']['changed']})
            # A task's own cost is a small difference of two playbook runs, so
            # the trio is timed SINGLE_REPEATS times a round, interleaved.
            for _rep in range(SINGLE_REPEATS):
                for name, evars in single.items():
                    res = run(repeat, evars)
                    runs.setdefault(name, []).append({'wall': res['wall'], 'cpu': res['cpu']})
            log('overhead round %d/%d: role %.2fs peer %.2fs floor %.2fs | %d x vpe_facts %.2fs, libvirt floor %.2fs, '
                'ping %.2fs, empty %.2fs' % (rnd + 1, rounds, runs['role'][-1]['wall'], runs['peer'][-1]['wall'],
                                             runs['floor'][-1]['wall'], facts_count, runs['vpe_facts'][-1]['wall'],
                                             runs['libvirt_floor'][-1]['wall'], runs['ping'][-1]['wall'],
                                             runs['empty'][-1]['wall']))
    finally:
        remove_interfaces()
        remove_bench_objects(conn, NAME + 'ours-', domains=False)
        remove_bench_objects(conn, NAME + 'peer-', domains=False)
        remove_bench_objects(conn, NAME + 'net', domains=False)
        guard.restore()
        safe_close(conn)
    summary = {}
    for key in ('wall', 'cpu'):
        m = dict((name, median([r[key] for r in runs])) for name, runs in result['runs'].items())
        per_facts = (m['vpe_facts'] - m['empty']) / facts_count
        per_ping = (m['ping'] - m['empty']) / facts_count
        per_floor = (m['libvirt_floor'] - m['empty']) / facts_count
        summary[key] = {
            'role': m['role'], 'peer': m['peer'], 'floor': m['floor'],
            'peer_over_role': m['peer'] / m['role'],
            'role_over_floor': m['role'] / m['floor'],
            'vpe_facts_task': per_facts, 'ping_task': per_ping,
            'facts_over_ping': per_facts / per_ping,
            'libvirt_floor_task': per_floor, 'floor_over_ping': per_floor / per_ping,
            'facts_over_libvirt_floor': per_facts / per_floor,
        }
    result['summary'] = summary
    return result


# -- 2. fleet scaling ----------------------------------------------------------

def fleet(work, sizes, forks_list, reps, pools_per_host):
    """Converges the largest fleet first (all hosts' pools exist throughout,
    so every size runs against the same libvirtd), then times no-change runs
    from the smallest fleet up."""
    conn = libvirt.open(URI)
    play = BENCH / 'fleet' / 'fleet.yml'
    root = work / 'fleet'
    result = {'pools_per_host': pools_per_host, 'reps': reps, 'runs': []}
    try:
        biggest = max(sizes)
        inv = fleet_gen.write(str(work / ('fleet-%d.json' % biggest)), biggest, str(root), pools_per_host, PYTHON)
        started = time.perf_counter()
        playbook(play, inv, forks=max(forks_list))
        log('fleet: %d hosts converged in %.1fs (%d pools)' % (biggest, time.perf_counter() - started,
                                                               biggest * pools_per_host))
        for size in sorted(sizes):
            inv = fleet_gen.write(str(work / ('fleet-%d.json' % size)), size, str(root), pools_per_host, PYTHON)
            for forks in forks_list:
                walls, cpus, changed = [], [], 0
                for _rep in range(reps):
                    res = playbook(play, inv, forks=forks)
                    walls.append(res['wall'])
                    cpus.append(res['cpu'])
                    changed += res['totals']['changed']
                row = {'hosts': size, 'forks': forks, 'wall': median(walls), 'cpu': median(cpus),
                       'per_host': median(walls) / size, 'cpu_per_host': median(cpus) / size,
                       'changed': changed}
                result['runs'].append(row)
                log('fleet %3d hosts forks %2d: %.1fs, %.3f s/host (cpu %.3f s/host), changed %d'
                    % (size, forks, row['wall'], row['per_host'], row['cpu_per_host'], changed))
    finally:
        remove_bench_objects(conn, fleet_gen.POOL_PREFIX + 'h', domains=False)
        safe_close(conn)
    flat = {}
    for forks in forks_list:
        by = dict((r['hosts'], r['per_host']) for r in result['runs'] if r['forks'] == forks)
        if 8 in by and max(by) > 8:
            flat[forks] = by[max(by)] / by[8] - 1
    result['growth_8_to_max'] = flat
    return result


# -- 3. shim throughput ----------------------------------------------------------

def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def define_domains(conn, count):
    names = []
    for i in range(count):
        name = '%s%d' % (DOMAIN_NAME, i)
        conn.defineXML(vpetest.domain_xml(name, 1, 64))
        names.append(name)
    return names


def build_pools(state_dir, root, pools, volumes):
    """`pools` pools of `volumes` volumes (1 GiB sparse files, 128 KiB on disk
    each), made by the storage bench's builder (bench/pools) through our pool
    service, under our own names."""
    from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
    bench_pools = load_module('bench_pools', BENCH / 'pools' / 'bench_pools.py')
    bench_pools.NAME = NAME + 'shim-'  # not vpetest-: concurrent test runs sweep those
    ctx = Context(URI, str(state_dir))
    try:
        return bench_pools.build(ctx, root, pools, volumes, 128)
    finally:
        ctx.close()


def seed_metrics(state_dir):
    bench_metrics = load_module('bench_metrics', BENCH / 'metrics' / 'bench_metrics.py')
    rows, size = bench_metrics.seed_store(state_dir)
    return rows, size


def wait_http(url, proc, timeout=20):
    import requests
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('%s exited with %s' % (url, proc.returncode))
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError('%s did not answer' % url)


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS for %d' % pid)


def warm_up(targets, count, clients):
    """`count` GETs spread over `targets`, from `clients` keep-alive sessions at once."""
    import concurrent.futures
    import requests

    def client(share):
        session = requests.Session()
        for i in range(share):
            _name, url, headers = targets[i % len(targets)]
            session.get(url, headers=dict(h.split(': ', 1) for h in headers), timeout=30).raise_for_status()
        return share
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return sum(pool.map(client, [count // clients + 1] * clients))


def shim(work, duration, domains, pools, volumes):
    import requests
    conn = libvirt.open(URI)
    state_dir = work / 'shim-state'
    shim_proc = None
    const_proc = None
    const_log = None
    result = {'domains': domains, 'pools': pools, 'volumes_per_pool': volumes, 'duration': duration, 'rows': [],
              'loadavg': []}
    try:
        started = time.perf_counter()
        define_domains(conn, domains)
        build_pools(state_dir, work / 'shim-pools', pools, volumes)
        rows, size = seed_metrics(state_dir)
        result['metrics_rows'] = rows
        log('shim: %d domains, %d pools x %d volumes, %d metric buckets (%.1f MiB) in %.1fs'
            % (domains, pools, volumes, rows, size / 2.0 ** 20, time.perf_counter() - started))
        (work / 'shim').mkdir()
        shim_proc = vpetest.Shim(work / 'shim', state_dir=state_dir)
        port = vpetest.free_port()
        const_log = open(str(work / 'constant.log'), 'w')
        const_proc = subprocess.Popen([PYTHON, str(BENCH / 'constant_app.py'), '--listen', '127.0.0.1:%d' % port],
                                      env=vpetest.shim_env(), stdout=const_log, stderr=subprocess.STDOUT)
        const_url = 'http://127.0.0.1:%d' % port
        wait_http(const_url + '/healthz', const_proc)
        auth = 'Authorization: Bearer %s' % shim_proc.read_token
        constant = ('constant', const_url + '/constant', [])
        targets = [(name, shim_proc.url + path, [auth]) for name, path in READ_ENDPOINTS]
        served = [0]  # requests the shim answered so far

        def cell(name, url, headers, connections, seconds=duration):
            warm = load.run(url, connections, 1, headers)
            res = load.run(url, connections, seconds, headers)
            if url.startswith(shim_proc.url):
                served[0] += warm['requests']
            res['endpoint'] = name
            res['loadavg'] = round(os.getloadavg()[0], 2)
            if url.startswith(shim_proc.url):
                served[0] += res['requests']
            log('shim %-18s c=%-2d %8.1f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d non-2xx %d  load %.2f'
                % (name, connections, res['rps'], res['p50_ms'], res['p99_ms'], res['errors'], res['non2xx'],
                   res['loadavg']))
            return res

        for name, url, headers in targets:
            resp = requests.get(url, headers=dict(h.split(': ', 1) for h in headers), timeout=30)
            resp.raise_for_status()
            served[0] += 1
            if name == 'usages':
                result['usages_instances'] = resp.json()['usages']['instances']
            if name == 'pools':
                result['pools_listed'] = len(resp.json()['pools'])
        # RSS after the first 1,000 requests (every endpoint, 16 clients at once, so
        # every worker thread has run: what grows later is kept, not warm-up),
        # then after 100,000.
        served[0] += warm_up(targets, RSS_REQUESTS[0] - served[0], 16)
        result['rss_kib'] = [(served[0], rss_kib(shim_proc.proc.pid))]
        for connections in (1,):
            for name, url, headers in [constant] + targets[:1] + targets[2:3]:
                result['rows'].append(cell(name, url, headers, connections))
        for name, url, headers in targets:
            const_row = cell(*constant, connections=16)
            row = cell(name, url, headers, 16)
            row['constant_rps'] = const_row['rps']
            result['rows'].append(const_row)
            result['rows'].append(row)
        while served[0] < RSS_REQUESTS[1]:
            for name, url, headers in targets:
                served[0] += load.run(url, 16, 2, headers)['requests']
        result['rss_kib'].append((served[0], rss_kib(shim_proc.proc.pid)))
        log('shim RSS %s' % result['rss_kib'])
    finally:
        if shim_proc is not None:
            shim_proc.stop()
        if const_proc is not None:
            const_proc.terminate()
            const_proc.wait(10)
        if const_log is not None:
            const_log.close()
        remove_bench_objects(conn, NAME + 'shim-')
        safe_close(conn)
    by = dict(((r['endpoint'], r['connections']), r) for r in result['rows'])
    result['usages_over_constant'] = {1: by[('usages', 1)]['rps'] / by[('constant', 1)]['rps']}
    return result


# -- machine and report --------------------------------------------------------

def machine():
    cpu = 'unknown'
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            cpu = line.split(':', 1)[1].strip()
            break
    mem_kib = int(re.search(r'MemTotal:\s+(\d+)', Path('/proc/meminfo').read_text()).group(1))
    conn = libvirt.open(URI)
    try:
        ver = conn.getLibVersion()
    finally:
        conn.close()

    def version_of(cmd):
        try:
            return sh(*cmd, check=False).stdout.strip().splitlines()[0]
        except (OSError, subprocess.CalledProcessError, IndexError):
            return 'unknown'

    peer_manifest = glob.glob(str(PEER_VENV / 'lib' / 'python3*' / 'site-packages' / 'ansible_collections' /
                                  'community' / 'libvirt' / 'MANIFEST.json'))
    peer_version = json.loads(Path(peer_manifest[0]).read_text())['collection_info']['version'] \
        if peer_manifest else 'unknown'
    return {
        'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M %Z').strip(),
        'nproc': os.cpu_count(),
        'cpu': cpu,
        'memory_gib': round(mem_kib / 1024.0 ** 2, 1),
        'libvirt': '%d.%d.%d' % (ver // 1000000, ver // 1000 % 1000, ver % 1000),
        'kernel': platform.release(),
        'python': platform.python_version(),
        'ansible_core': version_of([ANSIBLE_PLAYBOOK, '--version']),
        'community_libvirt': peer_version,
        'wrk': version_of(['wrk', '--version']).split(' [')[0] if shutil.which('wrk') else 'missing',
        'loadavg_start': Path('/proc/loadavg').read_text().split()[:3],
    }


def settle(below=1.5, limit=180):
    """Wait until the 1-minute load average is under `below` (at most `limit` s).

    The fleet runs 32 forks on this machine and then undefines its 256 pools;
    a shim measured straight after it (at load average 9) served a third fewer
    requests than the same code a few minutes later."""
    started = time.monotonic()
    while os.getloadavg()[0] >= below and time.monotonic() - started < limit:
        time.sleep(5)
    waited = {'seconds': round(time.monotonic() - started), 'loadavg': round(os.getloadavg()[0], 2)}
    log('settled for %(seconds)d s: load average %(loadavg).2f' % waited)
    return waited


def verdict(ok):
    return 'met' if ok else '**missed**'


def report(doc):
    m = doc['machine']
    ran_now = not doc.get('merged') or len(doc['merged']) < 3
    lines = [MARK_START, '## Performance against the peers (bench/run.py)', '',
             '%s, `%s`%s. Machine: %d CPUs (%s), %.1f GiB RAM, libvirt %s, kernel %s, Python %s, %s, '
             'community.libvirt %s, %s.%s'
             % (m['date'], doc['command'], ' (short mode)' if doc['short'] else '', m['nproc'], m['cpu'],
                m['memory_gib'], m['libvirt'], m['kernel'], m['python'], m['ansible_core'], m['community_libvirt'],
                m['wrk'], ' Load average at start: %s (other jobs share this machine).' % ' '.join(m['loadavg_start'])
                if ran_now else ''), '']
    if doc.get('merged'):
        lines += ['Sections taken from an earlier run on the same machine: %s.' % '; '.join(doc['merged']), '']
    goals = []
    ov = doc.get('overhead')
    if ov:
        w, c = ov['summary']['wall'], ov['summary']['cpu']
        lines += ['### 1. Module overhead (one host, no-change runs, median of %d)' % ov['rounds'], '',
                  '| run | wall s | CPU s | changed |', '|---|---:|---:|---:|']
        for side, label in (('role', 'roles/hypervisor (quota, bridge, image store, %d pools; one vpe_host task)'
                             % ov['pools']),
                            ('peer', 'community.libvirt + ansible.builtin, same configuration'),
                            ('floor', 'floor: one ansible.builtin.ping task per part (quota, bridge, image store, '
                                      'pools: 4)')):
            changed = max(r['changed'] for r in ov['runs'][side])
            lines.append('| %s | %.2f | %.2f | %d |' % (label, w[side], c[side], changed))
        lines += ['| one `vpe_facts` task (all sections; %d in a loop, minus the empty playbook; median of %d) | %.3f | %.3f | |'
                  % (ov['facts_count'], ov.get('single_runs', ov['rounds']), w['vpe_facts_task'], c['vpe_facts_task']),
                  '| one `ansible.builtin.ping` task (same way) | %.3f | %.3f | |'
                  % (w['ping_task'], c['ping_task'])]
        if 'libvirt_floor_task' in w:
            lines += ['| one task of a module that loads libvirt and returns the same facts (bench/suite/library; '
                      'same way) | %.3f | %.3f | |' % (w['libvirt_floor_task'], c['libvirt_floor_task']), '',
                      'That libvirt-backed floor is %.2fx a ping task (wall; %.2fx CPU); vpe_facts, which reads the '
                      'local daemon over its own wire client and loads no binding, is %.2fx it (wall; %.2fx CPU).'
                      % (w['floor_over_ping'], c['floor_over_ping'], w['facts_over_libvirt_floor'],
                         c['facts_over_libvirt_floor'])]
        lines.append('')
        conv = ov['converge']
        lines += ['Tasks that ran (ok) in a no-change run: role %d, peer %d (skipped: role %d, peer %d).'
                  % (conv['role']['tasks'], conv['peer']['tasks'], conv['role']['skipped'], conv['peer']['skipped']),
                  '']
        goals += [('vpe_facts / ping task (wall; CPU)', '%.2fx; %.2fx' % (w['facts_over_ping'], c['facts_over_ping']),
                   '<= %.1fx' % GOALS['facts_vs_ping'], verdict(w['facts_over_ping'] <= GOALS['facts_vs_ping'])),
                  ('community.libvirt / role no-change run (wall; CPU)',
                   '%.2fx; %.2fx' % (w['peer_over_role'], c['peer_over_role']),
                   '>= %.1fx' % GOALS['peer_vs_role'], verdict(w['peer_over_role'] >= GOALS['peer_vs_role'])),
                  ('role / floor (wall)', '%.2fx' % w['role_over_floor'], '<= %.2fx' % GOALS['role_vs_floor'],
                   verdict(w['role_over_floor'] <= GOALS['role_vs_floor']))]
    fl = doc.get('fleet')
    if fl:
        lines += ['### 2. Fleet scaling (no-change run of quota + %d pools + vpe_facts per host, local connection)'
                  % fl['pools_per_host'], '',
                  '| hosts | forks | wall s | s / host | CPU s / host |', '|---:|---:|---:|---:|---:|']
        for r in fl['runs']:
            lines.append('| %d | %d | %.1f | %.3f | %.3f |'
                         % (r['hosts'], r['forks'], r['wall'], r['per_host'], r['cpu_per_host']))
        lines.append('')
        for forks, growth in sorted(fl['growth_8_to_max'].items()):
            biggest = max(r['hosts'] for r in fl['runs'])
            # the goal is that a host does not cost more in a bigger fleet; it costs less
            # when the playbook's fixed start-up is spread over more hosts
            goals.append(('per-host time 8 -> %d hosts, forks %s' % (biggest, forks), '%+.0f%%' % (growth * 100),
                          'at most +20%', verdict(growth <= GOALS['fleet_flat'])))
    sh_ = doc.get('shim')
    if sh_:
        lines += ['### 3. Shim throughput and latency (wrk, %d s per cell, keep-alive, loopback)' % sh_['duration'],
                  '',
                  'usages counts %s domains (%d of them the bench\'s), pools lists %s pools (%d x %d volumes the '
                  'bench\'s), metrics answers from a %d-bucket (62-day) store. At 16 connections each endpoint '
                  'is measured straight after the constant endpoint, and its share is of that run.'
                  % (sh_.get('usages_instances'), sh_['domains'], sh_.get('pools_listed'), sh_['pools'],
                     sh_['volumes_per_pool'], sh_.get('metrics_rows', 0)), '',
                  '| GET | conns | req/s | constant req/s | share | p50 ms | p99 ms | errors | load |',
                  '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
        for r in sh_['rows']:
            if r['endpoint'] == 'constant' and r['connections'] == 16:
                continue
            const = r.get('constant_rps')
            lines.append('| %s | %d | %.1f | %s | %s | %.2f | %.2f | %d | %s |'
                         % (r['endpoint'], r['connections'], r['rps'], '%.1f' % const if const else '',
                            '%.2f' % (r['rps'] / const) if const else '', r['p50_ms'], r['p99_ms'],
                            r['errors'] + r['non2xx'], r.get('loadavg', '')))
        lines.append('')
        ratio = sh_['usages_over_constant'].get(1, sh_['usages_over_constant'].get('1'))  # str after JSON
        goals.append(('usages / constant req/s, 1 conn', '%.2f' % ratio, '>= 0.5',
                      verdict(ratio >= GOALS['usages_vs_constant'])))
        for r in sh_['rows']:
            if r['connections'] != 16 or not r.get('constant_rps'):
                continue
            share = r['rps'] / r['constant_rps']
            goals.append(('%s / constant req/s, 16 conns (load %s)' % (r['endpoint'], r.get('loadavg')),
                          '%.2f' % share, '>= 0.5', verdict(share >= GOALS['read_vs_constant'])))
            goals.append(('%s p99 at 16 conns' % r['endpoint'], '%.1f ms' % r['p99_ms'], '< 50 ms',
                          verdict(r['p99_ms'] < GOALS['p99_ms'] and not r['errors'] + r['non2xx'])))
        if sh_.get('rss_kib'):
            (n0, rss0), (n1, rss1) = sh_['rss_kib']
            growth = (rss1 - rss0) / float(rss0)
            goals.append(('shim RSS after %d requests against after %d (%.1f -> %.1f MiB)'
                          % (n1, n0, rss0 / 1024.0, rss1 / 1024.0), '%+.1f%%' % (growth * 100), 'at most +10%',
                          verdict(n1 >= RSS_REQUESTS[1] and growth <= GOALS['rss_growth'])))
    if goals:
        lines += ['### Goals', '', '| goal | measured | target | |', '|---|---:|---:|---|']
        lines += ['| %s | %s | %s | %s |' % g for g in goals]
        lines.append('')
    notes = BENCH / 'suite' / 'NOTES.md'
    if notes.exists():
        lines += [notes.read_text().rstrip(), '']
    lines.append(MARK_END)
    return '\n'.join(lines), [g for g in goals if g[3] == verdict(False)]


def write_readme(section):
    text = README.read_text() if README.exists() else '# Benchmarks\n'
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip('\n') + '\n\n' + section + '\n'
    README.write_text(text)


def main():
    global NAME, DOMAIN_NAME
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--short', action='store_true', help='quick mode: fewer rounds, smaller fleets, shorter loads')
    parser.add_argument('--only', default='overhead,fleet,shim', help='comma-separated sections to run')
    parser.add_argument('--no-readme', action='store_true', help='do not write bench/README.md')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    parser.add_argument('--fleet-sizes', help='comma-separated host counts (default 1,8,32,128; short: 1,8,32)')
    parser.add_argument('--no-sweep', action='store_true',
                        help="do not remove vpebench-* leftovers first (another bench run is going on)")
    parser.add_argument('--prefix', default=NAME,
                        help='name prefix of every libvirt object the bench makes and sweeps (default %(default)s; '
                             'domains PREFIX-dom-N instead of vpetest-bench-N when given), for a run beside another')
    parser.add_argument('--domains', type=int, default=200, help='domains the shim section defines (default 200)')
    parser.add_argument('--duration', type=int, help='seconds per shim cell (default 10; short: 3)')
    parser.add_argument('--shim-collections', metavar='DIR',
                        help="serve the shim from the collection linked under DIR (another checkout's "
                             ".collections), to measure the code before a change")
    parser.add_argument('--with-results', metavar='JSON', action='append', default=[],
                        help='take the sections not run now from an earlier bench/out/perf-*.json of this '
                             'machine (repeatable; --only none writes the table from those alone)')
    args = parser.parse_args()
    if args.prefix != NAME:
        NAME, DOMAIN_NAME = args.prefix, args.prefix + 'dom-'
    if args.shim_collections:
        vpetest.COLLECTIONS = Path(args.shim_collections).resolve()
        doc_shim_code = str(vpetest.COLLECTIONS)
    else:
        doc_shim_code = None
    if os.geteuid() != 0:
        raise SystemExit('bench/run.py needs root (veth/bridge, qemu:///system)')
    if shutil.which('wrk') is None:
        raise SystemExit('wrk is missing: apt-get install wrk')
    vpetest.ensure_collection_link()
    # SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` removes what the bench made
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda _n, _f: sys.exit(143))
    sections = args.only.split(',')
    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='vpebench-'))
    doc = {'short': args.short, 'command': 'make bench-short' if args.short else 'make bench',
           'merged': [],
           'machine': machine()}
    log('work dir %s; machine %s' % (work, json.dumps(doc['machine'])))
    conn = libvirt.open(URI)
    if not args.no_sweep:
        remove_bench_objects(conn)  # a crashed run's leftovers
    conn.close()
    try:
        if 'overhead' in sections:
            doc['overhead'] = overhead(work, rounds=2 if args.short else 4, facts_count=5 if args.short else 10)
        if 'fleet' in sections:
            sizes = tuple(int(n) for n in args.fleet_sizes.split(',')) if args.fleet_sizes else \
                (1, 8, 32) if args.short else (1, 8, 32, 128)
            doc['fleet'] = fleet(work, sizes=sizes,
                                 forks_list=(8, 32), reps=1, pools_per_host=2)
        if 'shim' in sections:
            if 'fleet' in sections:
                doc['shim_settle'] = settle()
            doc['shim'] = shim(work, duration=args.duration or (3 if args.short else 10), domains=args.domains,
                               pools=20, volumes=100 if args.short else 500)
            doc['shim']['code'] = doc_shim_code
    finally:
        if not args.keep:
            shutil.rmtree(str(work), ignore_errors=True)
    if args.with_results:
        doc['command'] = 'bench/run.py --only %s --with-results ...' % args.only
    for path in args.with_results:
        earlier = json.loads(Path(path).read_text())
        for name in ('overhead', 'fleet', 'shim'):
            if name not in doc and name in earlier:
                doc[name] = earlier[name]
                doc.setdefault('merged', []).append('%s from %s (started %s, load average %s)' % (
                    name, Path(path).name, earlier['machine']['date'], ' '.join(earlier['machine']['loadavg_start'])))
    stamp = time.strftime('%Y%m%d-%H%M%S')
    out = OUT / ('perf-%s.json' % stamp)
    out.write_text(json.dumps(doc, indent=1, default=str))
    section, missed = report(doc)
    print(section)
    if not args.no_readme:
        write_readme(section)
        log('table written to %s' % README)
    log('results in %s' % out)
    for goal in missed:
        log('MISSED: %s: %s (goal %s)' % goal[:3])
    return 1 if missed else 0


if __name__ == '__main__':
    sys.exit(main())
