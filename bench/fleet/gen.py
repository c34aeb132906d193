"""Inventory of N hosts for the fleet bench: every host is this machine
(local connection, all on the one libvirtd), with its own state_dir and
pools whose names carry the host's name.

    python bench/fleet/gen.py N ROOT [--pools 2] > inventory.yml
"""

import argparse
import json
import os

HOST_FORMAT = 'h%03d'
POOL_PREFIX = 'vpebench-'   # not vpetest-: concurrent test runs sweep those


def host_names(count):
    return [HOST_FORMAT % i for i in range(1, count + 1)]


def host_vars(name, root, pools=2):
    base = os.path.join(root, name)
    return {
        'hypervisor_state_dir': os.path.join(base, 'state'),
        'hypervisor_manage_packages': False,
        'hypervisor_quota': {'cpu_max': 512, 'memory_max_mb': 1048576},
        'hypervisor_pools': [{'name': '%s%s-p%d' % (POOL_PREFIX, name, i),
                              'path': os.path.join(base, 'pools', 'p%d' % i),
                              'max_gb': 10} for i in range(1, pools + 1)],
    }


def inventory(count, root, pools=2, python=None):
    """The inventory document (YAML is a superset of JSON: written as JSON)."""
    group_vars = {'ansible_connection': 'local'}
    if python:
        group_vars['ansible_python_interpreter'] = python
    return {'all': {'vars': group_vars,
                    'hosts': dict((name, host_vars(name, root, pools)) for name in host_names(count))}}


def pool_names(count, pools=2):
    return ['%s%s-p%d' % (POOL_PREFIX, name, i) for name in host_names(count) for i in range(1, pools + 1)]


def write(path, count, root, pools=2, python=None):
    with open(path, 'w') as handle:
        json.dump(inventory(count, root, pools, python), handle, indent=1)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('count', type=int)
    parser.add_argument('root')
    parser.add_argument('--pools', type=int, default=2)
    parser.add_argument('--python')
    args = parser.parse_args()
    print(json.dumps(inventory(args.count, os.path.abspath(args.root), args.pools, args.python), indent=1))


if __name__ == '__main__':
    main()
