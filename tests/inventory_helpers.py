"""Helpers for the shim inventory's tests: write a *.vpe_shim.yml config,
run ansible-inventory on it, and make test-driver "hosts" for real shims."""

import json
import subprocess
import tempfile
from pathlib import Path

import yaml

import vpetest

TOKEN = 'vpeinv-' + 'a1b2c3d4' * 4  # what the stand-ins accept; tests look for it in every output


def write_config(directory, hosts, name='fleet', **options):
    path = Path(directory) / ('%s.vpe_shim.yml' % name)
    config = {'plugin': 'vpe.hypervisor.shim', 'hosts': hosts}
    config.update(options)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def ansible_inventory(config, *args, extra_env=None):
    """(returncode, parsed --list JSON or None, stdout + stderr) of ansible-inventory."""
    env = dict({'ANSIBLE_INVENTORY_UNPARSED_FAILED': '1'}, **(extra_env or {}))
    with tempfile.TemporaryDirectory(prefix='vpeinv-') as tmp:
        out = Path(tmp) / 'inventory.json'
        proc = subprocess.run([vpetest.ansible_bin('ansible-inventory'), '-i', str(config), '--list',
                               '--output', str(out)] + list(args),
                              env=vpetest.ansible_env(env), capture_output=True, text=True, check=False)
        text = out.read_text() if out.exists() else ''
    doc = json.loads(text) if proc.returncode == 0 and text else None
    return proc.returncode, doc, proc.stdout + proc.stderr + text


def plain(value):
    """Inventory JSON with ansible-core's {"__ansible_unsafe": s} wrappers unwrapped.

    Strings from the network are untrusted (never templated); --list marks them so.
    """
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def hostvars(doc):
    return plain(doc['_meta']['hostvars'])


def group_hosts(doc, group):
    return sorted(doc.get(group, {}).get('hosts', []))


def driver_node(path, cpus, memory_mib, domains):
    """A libvirt test-driver file: a host of `cpus` and `memory_mib` with
    `domains` [(name, vcpus, memory_mib)] defined. A shim started on
    test:///<path> has it to itself, so its usages are exact."""
    doms = ''.join(
        '<domain type="test"><name>%s</name><memory unit="MiB">%d</memory><vcpu>%d</vcpu>'
        '<os><type>hvm</type></os></domain>' % (name, mem, vcpus) for name, vcpus, mem in domains)
    Path(path).write_text(
        '<node><cpu><mhz>2000</mhz><model>x86</model><active>%d</active><max>%d</max><nodes>1</nodes>'
        '<sockets>1</sockets><cores>%d</cores><threads>1</threads></cpu><memory>%d</memory>%s</node>'
        % (cpus, cpus, cpus, memory_mib * 1024, doms))
    return 'test://%s' % Path(path).resolve()
