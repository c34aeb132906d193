"""Helpers the test tiers share: real libvirt domains, a running shim, and
ansible runs against localhost. Everything a test creates carries PREFIX so a
crashed run can be cleaned up by name."""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import requests

REPO = Path(__file__).resolve().parents[1]
# What holds ansible_collections/vpe/hypervisor: a checkout's .collections
# link, or the tree the collection is installed in (ansible-test units).
INSTALLED = REPO.parent.name == 'vpe' and REPO.parents[1].name == 'ansible_collections'
COLLECTIONS = REPO.parents[2] if INSTALLED else REPO / '.collections'
PREFIX = 'vpetest-'
SYSTEM_URI = 'qemu:///system'
PYTHON = sys.executable

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def eventually(read, check, timeout=2.0):
    """read() until check(value) holds or `timeout` seconds passed; the last value.

    For a change made beside the shim (virsh, another libvirt client): the
    shim shows it once libvirt's event has reached it, a fraction of a
    millisecond after the call returned, not at the return itself.
    """
    deadline = time.monotonic() + timeout
    value = read()
    while not check(value) and time.monotonic() < deadline:
        time.sleep(0.005)
        value = read()
    return value


def ensure_collection_link():
    """.collections/ansible_collections/vpe/hypervisor -> this checkout.

    In an installed collection tree the collection is already importable
    under its own name, and nothing is written there.
    """
    if INSTALLED:
        return REPO
    link = COLLECTIONS / 'ansible_collections' / 'vpe' / 'hypervisor'
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(REPO, link.parent))
    return link


# -- libvirt domains ---------------------------------------------------------

def domain_xml(name, vcpus=1, memory_mib=64):
    """A disk-less TCG guest: boots SeaBIOS and idles, enough to be 'running'."""
    dom = ET.Element('domain', type='qemu')
    ET.SubElement(dom, 'name').text = name
    ET.SubElement(dom, 'memory', unit='MiB').text = str(memory_mib)
    ET.SubElement(dom, 'vcpu').text = str(vcpus)
    os_el = ET.SubElement(dom, 'os')
    ET.SubElement(os_el, 'type', arch='x86_64', machine='pc').text = 'hvm'
    devices = ET.SubElement(dom, 'devices')
    ET.SubElement(devices, 'emulator').text = '/usr/bin/qemu-system-x86_64'
    return ET.tostring(dom, encoding='unicode')


class Domains:
    """Defines test domains on a real libvirtd and removes them afterwards."""

    def __init__(self, uri=SYSTEM_URI):
        self.conn = libvirt.open(uri)
        self.names = []

    def define(self, suffix, vcpus=1, memory_mib=64, running=False, transient=False):
        name = PREFIX + suffix
        xml = domain_xml(name, vcpus, memory_mib)
        if transient:
            dom = self.conn.createXML(xml, 0)
        else:
            dom = self.conn.defineXML(xml)
            if running:
                dom.create()
        self.names.append(name)
        return dom

    def cleanup(self):
        for name in self.names:
            remove_domain(self.conn, name)
        self.conn.close()


def stop_and_undefine(obj):
    """Stop a libvirt pool or network if it runs and undefine it if it is
    persistent (a transient one is gone once stopped). A pool's files stay."""
    if obj.isActive():
        obj.destroy()
    if obj.isPersistent():
        obj.undefine()


def remove_domain(conn, name):
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    persistent = dom.isPersistent()
    if dom.isActive():
        dom.destroy()  # a transient domain is gone after this
    if persistent:
        dom.undefine()


def remove_leftovers(uri=SYSTEM_URI):
    conn = libvirt.open(uri)
    try:
        for dom in conn.listAllDomains(0):
            if dom.name().startswith(PREFIX):
                remove_domain(conn, dom.name())
    finally:
        conn.close()


def virsh_allocation(uri=SYSTEM_URI):
    """instances / vCPUs / MiB counted with virsh, independently of our code."""
    names = subprocess.run(['virsh', '-c', uri, 'list', '--all', '--name'], check=True,
                           capture_output=True, text=True).stdout.split()
    cpus = 0
    kib = 0
    for name in names:
        info = subprocess.run(['virsh', '-c', uri, 'dominfo', name], check=True,
                              capture_output=True, text=True).stdout
        fields = dict(line.split(':', 1) for line in info.splitlines() if ':' in line)
        cpus += int(fields['CPU(s)'].strip())
        kib += int(fields['Max memory'].strip().split()[0])
    return {'instances': len(names), 'cpu_used': cpus, 'memory_used_mb': kib // 1024}


# -- libvirtd ------------------------------------------------------------------

def _under_systemd():
    try:
        return Path('/proc/1/comm').read_text().strip() == 'systemd'
    except OSError:
        return False


def stop_libvirtd():
    if _under_systemd():
        subprocess.run(['systemctl', 'stop', 'libvirtd', 'libvirtd.socket', 'libvirtd-ro.socket',
                        'libvirtd-admin.socket'], check=True)
        return
    subprocess.run(['pkill', '-x', 'libvirtd'], check=False)
    for _attempt in range(100):
        if subprocess.run(['pgrep', '-x', 'libvirtd'], capture_output=True, check=False).returncode != 0:
            return
        time.sleep(0.05)
    raise AssertionError('libvirtd did not stop')


def start_libvirtd():
    if _under_systemd():
        subprocess.run(['systemctl', 'start', 'libvirtd'], check=True)
    else:
        subprocess.run(['libvirtd', '-d'], check=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        if subprocess.run(['virsh', '-c', SYSTEM_URI, 'version'], capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.05)
    raise AssertionError('libvirtd did not come back')


# -- the shim ------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_token_file(directory, mode=0o600):
    admin = secrets.token_hex(16)
    read = secrets.token_hex(16)
    path = Path(directory) / 'tokens'
    path.write_text('# scope token\nadmin %s\nread %s\n' % (admin, read))
    path.chmod(mode)
    return path, admin, read


def shim_command(*args):
    return [PYTHON, '-m', 'ansible_collections.vpe.hypervisor.api_shim'] + list(args)


def shim_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = str(COLLECTIONS)
    return env


class Shim:
    """A shim process on a free loopback port, with its own token file."""

    # Suites that send hundreds of bad tokens on purpose (auth, fuzzing) would
    # meet the shim's 429 for repeated failures; its own test sets this lower.
    AUTH_FAILURES = 1000000

    def __init__(self, workdir, uri=SYSTEM_URI, state_dir=None, extra_args=(), scheme='http', auth_failures=None):
        self.workdir = Path(workdir)
        self.state_dir = Path(state_dir or self.workdir / 'state')
        self.token_file, self.admin_token, self.read_token = write_token_file(self.workdir)
        self.port = free_port()
        self.url = '%s://127.0.0.1:%d' % (scheme, self.port)
        self.verify = scheme == 'http'  # https: a throw-away self-signed certificate
        self.log = open(self.workdir / 'shim.log', 'w+')
        self.proc = subprocess.Popen(
            shim_command('serve', '--listen', '127.0.0.1:%d' % self.port, '--uri', uri,
                         '--state-dir', str(self.state_dir), '--token-file', str(self.token_file),
                         *(['--auth-failures', str(auth_failures or self.AUTH_FAILURES)]
                           if auth_failures or self.AUTH_FAILURES else []), *extra_args),
            env=shim_env(), stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('shim exited with %s:\n%s' % (self.proc.returncode, self.output()))
            try:
                requests.get(self.url + '/healthz', timeout=1, verify=self.verify)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise AssertionError('shim did not start:\n' + self.output())

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def headers(self, token='admin'):
        value = {'admin': self.admin_token, 'read': self.read_token}.get(token, token)
        return {'Authorization': 'Bearer %s' % value}

    def request(self, method, path, token='admin', **kwargs):
        headers = dict(self.headers(token) if token else {}, **kwargs.pop('headers', {}))
        kwargs.setdefault('verify', self.verify)
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        # A PUT with quota.enforce (schemathesis sends them too) installed
        # the hook in the real /etc/libvirt/hooks: it must not outlive the shim.
        remove_quota_hook(self.state_dir)


def remove_quota_hook(state_dir=None):
    """Remove the vpe-quota hook installed for `state_dir` (None: for any
    state dir under the temp directory, i.e. a test's), and the hooks
    directories when that leaves them empty. libvirtd needs no restart: it
    runs what is in qemu.d at each event."""
    from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_hook
    for path in (quota_hook.dropin_path(), quota_hook.single_path()):
        settings = quota_hook.settings_of(path)
        if settings is None:
            continue
        owner = str(settings.get('state_dir', ''))
        if (owner == os.path.abspath(str(state_dir)) if state_dir is not None
                else owner.startswith(tempfile.gettempdir() + os.sep)):
            os.unlink(path)
    for directory in (os.path.dirname(quota_hook.dropin_path()), quota_hook.HOOKS_DIR):
        try:
            os.rmdir(directory)
        except OSError:
            pass  # not empty (someone else's hooks), or not there


PROBLEM = 'application/problem+json'


def assert_problem(resp, status, field=None, words=None):
    """resp is an RFC 9457 problem with `status`, naming `field`, saying `words`."""
    assert resp.status_code == status, resp.text
    assert resp.headers['Content-Type'].startswith(PROBLEM)
    doc = resp.json()
    assert doc['status'] == status and doc['title'] and doc['detail']
    if field is not None:
        assert doc.get('field') == field, doc
    if words is not None:
        assert words in doc['detail'], doc
    return doc


# -- ansible -------------------------------------------------------------------

def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': str(COLLECTIONS),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_RETRY_FILES_ENABLED': '0',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
        'ANSIBLE_PYTHON_INTERPRETER': PYTHON,
        'PYTHONPATH': '',
    })
    env.pop('LIBVIRT_DEFAULT_URI', None)
    env.update(extra or {})
    return env


def run_playbook(tasks, check=False, diff=True, extra_env=None, play_extra=''):
    """Run `tasks` (YAML text, each result registered) on localhost.

    Returns (returncode, {registered name: result}, output). Every task should
    `register:` a name; the play's last task writes those results to a file
    so tests read real module results, not console text.
    """
    with tempfile.TemporaryDirectory(prefix='vpeplay-') as tmp:
        out = Path(tmp) / 'results.json'
        playbook = Path(tmp) / 'play.yml'
        playbook.write_text(textwrap.dedent('''\
            - hosts: localhost
              connection: local
              gather_facts: false
            {play_extra}
              tasks:
            {tasks}
                - name: Save registered results
                  ansible.builtin.copy:
                    dest: {out}
                    content: "{{{{ _vpe_results | to_json }}}}"
                  check_mode: false
                  diff: false
                  vars:
                    _vpe_names: "{{{{ query('ansible.builtin.varnames', '^r_') }}}}"
                    _vpe_results: "{{{{ dict(_vpe_names | zip(query('ansible.builtin.vars', *_vpe_names))) }}}}"
            ''').format(tasks=textwrap.indent(textwrap.dedent(tasks), '    '),
                        play_extra=textwrap.indent(textwrap.dedent(play_extra), '  '), out=out))
        cmd = [ansible_bin('ansible-playbook'), '-i', 'localhost,', str(playbook)]
        if check:
            cmd.append('--check')
        if diff:
            cmd.append('--diff')
        proc = subprocess.run(cmd, env=ansible_env(extra_env), capture_output=True, text=True,
                              cwd=tmp, check=False)
        results = json.loads(out.read_text()) if out.exists() else {}
        return proc.returncode, results, proc.stdout + proc.stderr


def ansible_bin(name):
    return str(Path(PYTHON).parent / name)
