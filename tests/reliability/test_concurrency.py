"""32 clients against one shim for a fixed time while ansible-playbook runs
the modules against the same state_dir: no lost update, no duplicate pool
name, the state file always valid JSON, no 5xx.

Writes are designed so the end state is checkable:
- quota clients increment cpu_max by compare-and-swap (GET, PUT +1 with
  If-Match); the final cpu_max is the start value plus the acknowledged PUTs;
- the playbook sets only memory_max_mb, to a fresh value each run; the final
  value is the last acknowledged one;
- pool clients each own their pool names: every acknowledged create is listed
  at the end with its last acknowledged max_gb, every acknowledged delete is
  gone;
- race clients all POST the same name: at most one create per name succeeds.
"""

import collections
import json
import os
import random
import threading
import time

import pytest
import requests

import relkit
import vpetest

pytestmark = [pytest.mark.api, pytest.mark.libvirtd, pytest.mark.playbook, pytest.mark.slow]

DURATION = float(os.environ.get('VPE_CONCURRENCY_SECONDS', '15'))
CLIENTS = 32
START_CPU = 1000


def has_pools():
    return ('POST', '/hypervisor/pools') in {(m, p) for m, p, _o in relkit.spec_operations()}


class Run(object):

    def __init__(self, shim, tree):
        self.shim = shim
        self.tree = tree
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.status = collections.Counter()
        self.errors = []
        self.cpu_acks = 0
        self.pools = {}        # name -> {'uuid', 'max_gb'} acknowledged present
        self.deleted = set()   # names acknowledged deleted
        self.race_wins = collections.Counter()
        self.memory_set = None
        self.playbook_runs = 0
        self.playbook_writes = 0
        self.state_parses = 0
        self.state_bad = []

    def call(self, session, method, path, **kwargs):
        headers = dict(self.shim.headers('admin'), **kwargs.pop('headers', {}))
        try:
            resp = session.request(method, self.shim.url + path, headers=headers, timeout=60, **kwargs)
        except requests.RequestException as exc:
            with self.lock:
                self.errors.append('%s %s: %s' % (method, path, exc))
            return None
        with self.lock:
            self.status[resp.status_code] += 1
            if resp.status_code >= 500:
                self.errors.append('%s %s -> %d %s' % (method, path, resp.status_code, resp.text[:300]))
        return resp

    # -- clients ---------------------------------------------------------------

    def quota_client(self, _n):
        session = requests.Session()
        while not self.stop.is_set():
            got = self.call(session, 'GET', '/hypervisor/quota')
            if got is None or got.status_code != 200:
                continue
            cpu = got.json()['quota']['cpu_max']
            put = self.call(session, 'PUT', '/hypervisor/quota', json={'quota': {'cpu_max': cpu + 1}},
                            headers={'If-Match': got.headers['ETag']})
            if put is not None and put.status_code == 200:
                with self.lock:
                    self.cpu_acks += 1

    def pool_client(self, n):
        session = requests.Session()
        rnd = random.Random(n)
        mine = {}
        k = 0
        while not self.stop.is_set():
            action = rnd.random()
            if not mine or action < 0.4:
                k += 1
                name = '%s-c%02d-%03d' % (relkit.REL, n, k)
                max_gb = rnd.randint(1, 100)
                resp = self.call(session, 'POST', '/hypervisor/pools', json={'pool': {
                    'name': name, 'path': str(self.tree / ('c%02d' % n) / str(k)), 'max_gb': max_gb}})
                if resp is not None and resp.status_code == 200:
                    mine[name] = {'uuid': resp.json()['pool']['uuid'], 'max_gb': max_gb}
                    with self.lock:
                        self.pools[name] = dict(mine[name])
            elif action < 0.8:
                name = rnd.choice(sorted(mine))
                max_gb = rnd.randint(1, 100)
                resp = self.call(session, 'PUT', '/hypervisor/pools/' + mine[name]['uuid'],
                                 json={'pool': {'max_gb': max_gb}})
                if resp is not None and resp.status_code == 200:
                    mine[name]['max_gb'] = max_gb
                    with self.lock:
                        self.pools[name]['max_gb'] = max_gb
            else:
                name = rnd.choice(sorted(mine))
                resp = self.call(session, 'DELETE', '/hypervisor/pools/' + mine[name]['uuid'])
                if resp is not None and resp.status_code == 200:
                    del mine[name]
                    with self.lock:
                        del self.pools[name]
                        self.deleted.add(name)

    def race_client(self, n):
        session = requests.Session()
        round_ = 0
        while not self.stop.is_set():
            round_ += 1
            name = '%s-race-%03d' % (relkit.REL, round_)
            resp = self.call(session, 'POST', '/hypervisor/pools', json={'pool': {
                'name': name, 'path': str(self.tree / 'race' / ('%03d-%02d' % (round_, n))), 'max_gb': 1}})
            if resp is not None and resp.status_code == 200:
                with self.lock:
                    self.race_wins[name] += 1
                    self.pools[name] = {'uuid': resp.json()['pool']['uuid'], 'max_gb': 1}
            time.sleep(0.05)

    def state_reader(self):
        path = self.shim.state_dir / 'state.json'
        while not self.stop.is_set():
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                continue
            try:
                doc = json.loads(raw.decode('utf-8'))
                assert isinstance(doc, dict)
                self.state_parses += 1
            except (ValueError, AssertionError) as exc:
                self.state_bad.append('%s: %r' % (exc, raw[:200]))

    def playbooks(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            memory = 1048576 + n
            tasks = '''
            - name: quota from a playbook
              vpe.hypervisor.vpe_quota:
                state_dir: {state}
                memory_max_mb: {memory}
              register: r_quota
            '''.format(state=self.shim.state_dir, memory=memory)
            name = '%s-ans-%03d' % (relkit.REL, n)
            if has_pools():
                tasks += '''
            - name: pool from a playbook
              vpe.hypervisor.vpe_pool:
                state_dir: {state}
                name: {name}
                path: {path}
                max_gb: 3
              register: r_pool
            - name: and one removed again
              vpe.hypervisor.vpe_pool:
                state_dir: {state}
                name: {name}-gone
                path: {path}-gone
                max_gb: 3
              register: r_make
            - name: remove it
              vpe.hypervisor.vpe_pool:
                state_dir: {state}
                name: {name}-gone
                state: absent
              register: r_gone
            '''.format(state=self.shim.state_dir, name=name, path=self.tree / 'ans' / str(n))
            rc, results, out = vpetest.run_playbook(tasks)
            with self.lock:
                self.playbook_runs += 1
                if rc != 0:
                    self.errors.append('playbook run %d failed:\n%s' % (n, out[-2000:]))
                    continue
                self.memory_set = memory
                self.playbook_writes += 1
                if has_pools():
                    self.pools[name] = {'uuid': results['r_pool']['pool']['uuid'], 'max_gb': 3}
                    self.deleted.add(name + '-gone')
                    self.playbook_writes += 3


def test_32_clients_and_playbooks_lose_nothing(tmp_path):
    tree = tmp_path / 'tree'
    tree.mkdir()
    with relkit.shim_at(tmp_path / 'shim', state_dir=tmp_path / 'state', extra_args=('--threads', '32')) as shim:
        put = shim.request('PUT', '/hypervisor/quota', json={'quota': {'cpu_max': START_CPU}})
        assert put.status_code == 200, put.text
        run = Run(shim, tree)
        roles = []
        for n in range(CLIENTS):
            if not has_pools():
                roles.append(run.quota_client)
            else:
                roles.append((run.quota_client, run.pool_client, run.pool_client, run.race_client)[n % 4])
        threads = [threading.Thread(target=role, args=(n,)) for n, role in enumerate(roles)]
        threads += [threading.Thread(target=run.state_reader), threading.Thread(target=run.playbooks)]
        for thread in threads:
            thread.start()
        time.sleep(DURATION)
        run.stop.set()
        for thread in threads:
            thread.join(300)
        assert not any(t.is_alive() for t in threads)

        final_quota = shim.request('GET', '/hypervisor/quota').json()['quota']
        listed = shim.request('GET', '/hypervisor/pools').json()['pools'] if has_pools() else []
        on_libvirt = relkit.rel_pools()
        log = shim.output()

    requests_sent = sum(run.status.values())
    ours = [p for p in listed if p['name'].startswith(relkit.REL)]
    names = [p['name'] for p in ours]
    by_name = {p['name']: p for p in ours}
    lost = []
    if run.cpu_acks + START_CPU != final_quota['cpu_max']:
        lost.append('cpu_max %d after %d acknowledged increments from %d'
                    % (final_quota['cpu_max'], run.cpu_acks, START_CPU))
    if run.memory_set is not None and final_quota['memory_max_mb'] != run.memory_set:
        lost.append('memory_max_mb %d, last playbook set %d' % (final_quota['memory_max_mb'], run.memory_set))
    for name, want in sorted(run.pools.items()):
        got = by_name.get(name)
        if got is None:
            lost.append('acknowledged pool %s is missing' % name)
        elif (got['uuid'], got['max_gb']) != (want['uuid'], want['max_gb']):
            lost.append('pool %s is %s, acknowledged %s' % (name, got, want))
    resurrected = sorted(run.deleted & set(names))
    relkit.record('concurrency', clients=CLIENTS, seconds=DURATION, requests=requests_sent,
                  status_counts={str(k): v for k, v in sorted(run.status.items())},
                  acknowledged_writes=run.cpu_acks + len(run.pools) + len(run.deleted) + run.playbook_writes,
                  cpu_increments=run.cpu_acks, pools_at_end=len(ours), pools_deleted=len(run.deleted),
                  playbook_runs=run.playbook_runs, state_file_parses=run.state_parses,
                  state_file_invalid=len(run.state_bad),
                  server_errors=sum(v for k, v in run.status.items() if k >= 500),
                  lost_updates=len(lost) + len(resurrected), data_lost=len(lost) + len(resurrected))
    assert not run.errors, '\n'.join(run.errors[:20])
    assert not run.state_bad, run.state_bad[:5]
    assert run.state_parses > 0
    assert not lost, '\n'.join(lost)
    assert not resurrected, 'acknowledged deletes are back: %s' % resurrected
    assert len(names) == len(set(names)), 'duplicate pool names: %s' % [
        n for n, c in collections.Counter(names).items() if c > 1]
    assert all(wins == 1 for wins in run.race_wins.values()), run.race_wins
    assert set(on_libvirt) == set(names), 'libvirt and the API disagree: %s' % (set(on_libvirt) ^ set(names))
    assert run.cpu_acks > 0 and requests_sent > CLIENTS
    assert 'unhandled error' not in log, log[-3000:]
