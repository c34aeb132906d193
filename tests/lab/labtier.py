"""Helpers of the lab tier: the running lab (lab/out) seen from the controller
side, inside the lab's network namespace."""

import json
import os
import re
import subprocess
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, 'lab')
OUT = os.path.join(LAB, 'out')
PORT = 8470


def read(name):
    with open(os.path.join(OUT, name)) as handle:
        return handle.read()


def netns():
    return read('netns').strip()


def inventory():
    return yaml.safe_load(read('inventory.yml'))


def hosts():
    """name -> host vars, in inventory order."""
    return inventory()['all']['children']['hypervisors']['hosts']


def tokens():
    return json.loads(read('tokens.json'))


def in_ns(argv, timeout=120, check=True, **kwargs):
    """Run argv inside the lab's namespace (the controller side). stdin is /dev/null unless input is given:
    ansible refuses to start on a non-blocking stdin, which an earlier ssh may leave behind."""
    if 'input' not in kwargs:
        kwargs.setdefault('stdin', subprocess.DEVNULL)
    proc = subprocess.run(['ip', 'netns', 'exec', netns()] + list(argv), capture_output=True, text=True,
                          timeout=timeout, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (rc %d): %s%s' % (' '.join(argv), proc.returncode, proc.stdout[-2000:],
                                                          proc.stderr[-2000:]))
    return proc


def ssh_argv(host):
    group = inventory()['all']['vars']
    return ['ssh', '-i', group['ansible_ssh_private_key_file'], '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30',
            '-o', 'UserKnownHostsFile=%s' % os.path.join(OUT, 'ssh', 'known_hosts'),
            '-o', 'StrictHostKeyChecking=accept-new',
            '%s@%s' % (group['ansible_user'], hosts()[host]['ansible_host'])]


def ssh(host, command, timeout=120, check=True):
    """Run a shell command on a lab host as the lab user; stdout."""
    return in_ns(ssh_argv(host) + [command], timeout=timeout, check=check).stdout


def sudo(host, command, timeout=120, check=True):
    return ssh(host, 'sudo sh -c %s' % shell_quote(command), timeout=timeout, check=check)


def shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def url(host, path):
    return 'https://%s:%d%s' % (hosts()[host]['ansible_host'], PORT, path)


def curl(host, path, token=None, timeout=60):
    """(status, body) of a GET to the host's shim over TLS, verified against the lab's CA."""
    argv = ['curl', '-sS', '--max-time', '30', '--cacert', os.path.join(OUT, 'pki', 'ca.crt'),
            '-o', '-', '-w', '\n%{http_code}']
    if token:
        argv += ['-H', 'Authorization: Bearer %s' % token]
    proc = in_ns(argv + [url(host, path)], timeout=timeout)
    body, _sep, status = proc.stdout.rpartition('\n')
    return int(status), body


def wait_until(what, check, timeout, interval=3):
    """Poll check() until it returns a true value (returned) or the timeout passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = check()
            if last:
                return last
        except (AssertionError, subprocess.SubprocessError, ValueError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError('%s: not within %ss (last: %r)' % (what, timeout, last))
        time.sleep(interval)


def boot_id(host):
    return ssh(host, 'cat /proc/sys/kernel/random/boot_id').strip()


def reboot(hosts):
    """Reboot the hosts at once; wait until each is back with a new boot id, `running` (no failed unit)
    and its shim answering."""
    before = dict((h, boot_id(h)) for h in hosts)
    for host in hosts:   # the SSH session ends with the reboot: systemd-run lets it return first
        ssh(host, 'sudo systemd-run --on-active=2 systemctl reboot', check=False)
    for host in hosts:
        wait_until('%s back after its reboot' % host, lambda host=host: boot_id(host) != before[host],
                   timeout=600, interval=10)
    for host in hosts:
        state = ssh(host, 'timeout 300 systemctl is-system-running --wait', timeout=330, check=False).strip()
        assert state == 'running', ssh(host, 'systemctl --failed --no-legend', check=False)
        # the shim is a Type=simple unit: active before it listens (its imports take seconds under TCG)
        wait_until('%s\'s shim listening' % host, lambda host=host: curl(host, '/healthz')[0] == 200,
                   timeout=120, interval=2)


def converge(name, *args, timeout=2400):
    """lab/converge.sh NAME ARGS (site.yml from the installed collection); (rc, recap dict)."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    proc = subprocess.run([os.path.join(LAB, 'converge.sh'), name] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)
    return proc.returncode, recap(read(name + '.log'))


def playbook(name, path, *args, timeout=1800):
    """Any playbook against the lab inventory with the installed collection; (rc, recap, log)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(OUT, 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(OUT, 'collections'), ANSIBLE_NOCOLOR='1')
    env.pop('PYTHONPATH', None)
    venv = os.environ.get('VPE_LAB_VENV', os.path.join(ROOT, '.venv'))
    proc = in_ns([os.path.join(venv, 'bin', 'ansible-playbook'), '-i', os.path.join(OUT, 'inventory.yml'), path]
                 + list(args), timeout=timeout, check=False, env=env)
    log = proc.stdout + proc.stderr
    with open(os.path.join(OUT, name + '.log'), 'w') as handle:
        handle.write(log)
    return proc.returncode, recap(log), log


RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def recap(log):
    """host -> {ok, changed, unreachable, failed} from a PLAY RECAP."""
    text = log.split('PLAY RECAP', 1)[-1]
    return dict((m.group(1), {'ok': int(m.group(2)), 'changed': int(m.group(3)), 'unreachable': int(m.group(4)),
                              'failed': int(m.group(5))}) for m in RECAP.finditer(text))


def record_timing(name, seconds):
    """Add a measured time to lab/out/timings.json (the CI log prints it)."""
    path = os.path.join(OUT, 'timings.json')
    data = json.loads(read('timings.json')) if os.path.exists(path) else {}
    data[name] = int(round(seconds))
    with open(path + '.tmp', 'w') as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(path + '.tmp', path)
