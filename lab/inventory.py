"""Write lab/out/inventory.yml, lab/out/ansible.cfg and lab/out/tokens.json for the running lab.

    python lab/inventory.py OUT_DIR

Hosts hv1..hv3 (lab.conf's LAB_VMS) in groups `hypervisors` and `shim`, as
playbooks/site.yml expects: SSH as the lab user with its key and become; the
VM bridge br100 over the NIC that carries SSH, persisted by the VM's own
network stack; the shim on the lab address with TLS from the lab's CA and
tokens the lab chose (tokens.json: the lab tier and Prometheus read them).
"""

import json
import os
import secrets
import subprocess
import sys

import yaml

LAB = os.path.dirname(os.path.abspath(__file__))
PERSIST = {'networkd': 'networkd', 'ifupdown': 'ifupdown', 'nm': 'nmcli'}
NIC = 'ens3'   # virtio-net at PCI slot 3 (lab/boot.sh), predictable name


def lab_conf():
    """LAB_* settings of lab.conf, as bash sees them."""
    script = ('. ./lab.conf; printf "%s\\n" "$LAB_NETNS" "$LAB_NET" "$LAB_PREFIX" "$LAB_USER";'
              ' printf "%s\\n" "${LAB_VMS[@]}"')
    lines = subprocess.run(['bash', '-c', script], cwd=LAB, check=True, capture_output=True,
                           text=True).stdout.splitlines()
    netns, net, prefix, user = lines[:4]
    vms = [line.split() for line in lines[4:] if line.strip()]
    return {'netns': netns, 'net': net, 'prefix': int(prefix), 'user': user, 'vms': vms}


def tokens(out):
    path = os.path.join(out, 'tokens.json')
    if os.path.exists(path):
        with open(path) as handle:
            return json.load(handle)
    value = {'admin': secrets.token_hex(16), 'read': secrets.token_hex(16)}
    tmp = path + '.tmp'
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as handle:
        json.dump(value, handle)
    os.replace(tmp, path)
    return value


def read(path):
    with open(path) as handle:
        return handle.read()


def inventory(out, conf, toks):
    pki = os.path.join(out, 'pki')
    hosts = {}
    for name, stack, octet in conf['vms']:
        hosts[name] = {
            'ansible_host': '%s.%s' % (conf['net'], octet),
            'lab_network_stack': stack,
            'hypervisor_network': {'bridge': 'br100', 'bridge_interface': NIC, 'persist': PERSIST[stack],
                                   'libvirt_network': 'br100'},
            'api_shim_listen_host': '%s.%s' % (conf['net'], octet),
            'api_shim_tls_cert': read(os.path.join(pki, name + '.crt')),
            'api_shim_tls_key': read(os.path.join(pki, name + '.key')),
        }
    group_vars = {
        'ansible_user': conf['user'],
        'ansible_ssh_private_key_file': os.path.join(out, 'ssh', 'id_ed25519'),
        'ansible_ssh_common_args': '-o UserKnownHostsFile=%s -o StrictHostKeyChecking=accept-new'
                                   % os.path.join(out, 'ssh', 'known_hosts'),
        'ansible_python_interpreter': '/usr/bin/python3',
        'hypervisor_quota': {'cpu_max': 8, 'memory_max_mb': 4096},
        'hypervisor_image_pool': {'path': '/var/lib/vpe-images', 'max_gb': 2},
        'hypervisor_pools': [{'name': 'labpool', 'path': '/var/lib/vpe-pools/labpool', 'max_gb': 1}],
        'api_shim_tokens': [{'scope': 'admin', 'token': toks['admin']}, {'scope': 'read', 'token': toks['read']}],
        # The shim may write the pools' directories too (ProtectSystem=strict).
        'api_shim_read_write_paths': ['-/etc/systemd/network', '-/etc/network/interfaces.d',
                                      '-/etc/NetworkManager/system-connections', '/var/lib/vpe-images',
                                      '/var/lib/vpe-pools'],
    }
    names = dict((vm[0], None) for vm in conf['vms'])
    return {'all': {'vars': group_vars, 'children': {
        'hypervisors': {'hosts': hosts},
        'shim': {'hosts': names}}}}


ANSIBLE_CFG = """\
# The lab's controller settings (lab/inventory.py writes this file).
[defaults]
inventory = {out}/inventory.yml
collections_path = {out}/collections
host_key_checking = True
forks = 5
timeout = 30
interpreter_python = /usr/bin/python3
# Under TCG fact gathering costs 15-20 s a host: the minimal subset, once per
# converge (site.yml has two plays), from a cache.
gathering = smart
gather_subset = min
fact_caching = jsonfile
fact_caching_connection = {out}/facts
fact_caching_timeout = 600

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=120s -o ServerAliveInterval=10
control_path_dir = {out}/ssh/cp
"""


class Literal(str):
    pass


def literal(dumper, value):
    return dumper.represent_scalar('tag:yaml.org,2002:str', value, style='|')


def main():
    out = os.path.abspath(sys.argv[1])
    conf = lab_conf()
    doc = inventory(out, conf, tokens(out))
    for host in doc['all']['children']['hypervisors']['hosts'].values():
        for key in ('api_shim_tls_cert', 'api_shim_tls_key'):
            host[key] = Literal(host[key])
    yaml.SafeDumper.add_representer(Literal, literal)
    text = '# The lab (lab/inventory.py); ansible runs inside netns %s.\n' % conf['netns']
    text += yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    for name, content in (('inventory.yml', text), ('ansible.cfg', ANSIBLE_CFG.format(out=out))):
        tmp = os.path.join(out, name + '.tmp')
        with open(tmp, 'w') as handle:
            handle.write(content)
        os.replace(tmp, os.path.join(out, name))


if __name__ == '__main__':
    main()
