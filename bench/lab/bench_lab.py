"""Fleet converge over SSH on the VM lab: this collection's role against the
community.libvirt + ansible.builtin version of the same configuration
(bench/peer/site.yml), no-change runs, pipelining on, become as the lab user.

    python bench/lab/bench_lab.py [--rounds 3]

Needs a running lab (make lab) and the peer venv (make bench-peer-venv). Each
side first runs once to converge (not timed), then `rounds` no-change runs on
the 3 hosts and as many on one host (--limit hv1): wall time of the run, and
per host. Prints a Markdown table and appends it to bench/README.md's lab
section (replacing an earlier one). Packages are not managed on the role side
(hypervisor_manage_packages: false): the peer installs none either.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'lab', 'out')
PEER_VENV = os.path.join(ROOT, 'bench', 'out', '.venv-peer')
VENV = os.environ.get('VPE_LAB_VENV', os.path.join(ROOT, '.venv'))
README = os.path.join(ROOT, 'bench', 'README.md')
MARK = '<!-- lab bench (bench/lab/bench_lab.py) -->'
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def peer_collections():
    for dirpath, dirnames, _files in os.walk(os.path.join(PEER_VENV, 'lib')):
        if dirpath.endswith('site-packages') and 'ansible_collections' in dirnames:
            return dirpath
    raise SystemExit('no community.libvirt in %s: make bench-peer-venv' % PEER_VENV)


def peer_vars(inventory):
    import yaml
    group = yaml.safe_load(open(inventory))['all']['vars']
    return {
        'peer_state_dir': '/var/lib/vpe-peer/state',
        'peer_quota': group['hypervisor_quota'],
        'peer_network': {'bridge': 'br100', 'bridge_interface': 'ens3', 'libvirt_network': 'br100'},
        'peer_image_pool': {'name': 'peer-images', 'path': '/var/lib/vpe-peer/images',
                            'max_gb': group['hypervisor_image_pool']['max_gb']},
        'peer_pools': [{'name': 'peer-' + p['name'], 'path': '/var/lib/vpe-peer/pools/' + p['name'],
                        'max_gb': p['max_gb']} for p in group['hypervisor_pools']],
    }


def run(side, limit=None):
    inventory = os.path.join(OUT, 'inventory.yml')
    netns = open(os.path.join(OUT, 'netns')).read().strip()
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(OUT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_PIPELINING='True')
    env.pop('PYTHONPATH', None)
    paths = [os.path.join(OUT, 'collections')]
    if side == 'role':
        argv = [os.path.join(ROOT, 'bench', 'lab', 'role.yml'), '-e', 'hypervisor_manage_packages=false']
    else:
        paths.append(peer_collections())
        extra = os.path.join(OUT, 'bench-peer-vars.json')
        with open(extra, 'w') as handle:
            json.dump(peer_vars(inventory), handle)
        argv = [os.path.join(ROOT, 'bench', 'peer', 'site.yml'), '--become', '-e', '@' + extra]
    env['ANSIBLE_COLLECTIONS_PATH'] = os.pathsep.join(paths)
    if limit:
        argv += ['--limit', limit]
    start = time.monotonic()
    proc = subprocess.run(['ip', 'netns', 'exec', netns, os.path.join(VENV, 'bin', 'ansible-playbook'),
                           '-i', inventory] + argv, env=env, capture_output=True, text=True, timeout=3600,
                          check=False)
    wall = time.monotonic() - start
    recap = dict((m.group(1), (int(m.group(3)), int(m.group(4)) + int(m.group(5))))
                 for m in RECAP.finditer(proc.stdout.split('PLAY RECAP', 1)[-1]))
    if proc.returncode != 0 or not recap or any(bad for _c, bad in recap.values()):
        sys.stderr.write(proc.stdout[-6000:] + proc.stderr[-3000:])
        raise SystemExit('%s run failed (rc %d)' % (side, proc.returncode))
    return wall, sum(c for c, _b in recap.values()), len(recap)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--no-readme', action='store_true')
    args = parser.parse_args()
    rows = []
    for side in ('role', 'peer'):
        run(side)   # converge first: the timed runs change nothing
        for limit, label in ((None, 'fleet of 3'), ('hv1', 'one host')):
            walls = []
            for _round in range(args.rounds):
                wall, changed, hosts = run(side, limit)
                if changed:
                    raise SystemExit('%s %s: a no-change run changed %d things' % (side, label, changed))
                walls.append(wall)
                print('%s %s: %.1fs' % (side, label, wall), flush=True)
            med = statistics.median(walls)
            rows.append((side, label, hosts, med, med / hosts, min(walls), max(walls)))
    names = {'role': 'vpe.hypervisor.hypervisor role', 'peer': 'community.libvirt + ansible.builtin'}
    load = os.getloadavg()[0]
    table = ['| side | hosts | wall (median of %d) | wall per host | min-max |' % args.rounds,
             '| --- | --- | --- | --- | --- |']
    for side, label, hosts, med, per, lo, hi in rows:
        table.append('| %s | %s | %.1f s | %.1f s | %.1f-%.1f s |' % (names[side], label, med, per, lo, hi))
    ratio = dict(((s, l), m) for s, l, _h, m, _p, _lo, _hi in rows)
    summary = ('peer / role, fleet of 3: %.2fx; one host: %.2fx (load average at the end: %.1f)'
               % (ratio[('peer', 'fleet of 3')] / ratio[('role', 'fleet of 3')],
                  ratio[('peer', 'one host')] / ratio[('role', 'one host')], load))
    print('\n'.join(table + ['', summary]))
    if not args.no_readme:
        write_readme(table, summary)


def write_readme(table, summary):
    text = open(README).read()
    head = text.split(MARK, 1)[0].rstrip('\n')
    section = [MARK, '', '## Fleet converge over SSH on the VM lab (make lab-bench)', '',
               'Measured %s by bench/lab/bench_lab.py on `make lab`\'s three Debian 12 VMs (QEMU TCG, 1 vCPU, '
               '1 GiB each, on the same 2 CPUs as the controller), no-change runs over SSH as the lab user with '
               'become and pipelining. Both sides apply the same configuration (quota, br100 over ens3 and its '
               'libvirt network, image store, one pool); the role side does not manage packages, the peer '
               'installs none. Wall time per host is the run\'s wall time divided by its hosts.'
               % time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), ''] + table + ['', summary, '']
    tmp = README + '.tmp'
    with open(tmp, 'w') as handle:
        handle.write(head + '\n\n' + '\n'.join(section))
    os.replace(tmp, README)


if __name__ == '__main__':
    main()
