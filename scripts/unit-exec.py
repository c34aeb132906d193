"""Run a systemd service unit's ExecStart= without systemd, as the unit's User=.

Where systemd is not PID 1 (containers, CI, this demo) the units that the
vpe.hypervisor.api_shim role writes cannot be started by systemctl. This reads
the unit file itself: User=, Group=, EnvironmentFile=, Environment=,
WorkingDirectory= and ExecStart=, and runs that command line the same way.

  unit-exec.py start UNIT PIDFILE LOGFILE   start in the background, write its pid
  unit-exec.py stop PIDFILE                 stop what `start` started
  unit-exec.py show UNIT                    print the command line and user (JSON)
"""

import json
import os
import pwd
import grp
import re
import shlex
import signal
import subprocess
import sys
import time


def parse_unit(path):
    """The [Service] settings of a unit: {key: [values...]} (continuation lines joined)."""
    settings = {}
    section = None
    pending = ''
    with open(path) as handle:
        for raw in handle:
            line = pending + raw.rstrip('\n')
            if line.endswith('\\'):
                pending = line[:-1] + ' '
                continue
            pending = ''
            line = line.strip()
            if not line or line[0] in '#;':
                continue
            if line.startswith('['):
                section = line.strip('[]')
                continue
            if section == 'Service' and '=' in line:
                key, value = line.split('=', 1)
                settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def environment(settings):
    env = {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8'}
    for item in settings.get('EnvironmentFile', []):
        optional = item.startswith('-')
        path = item.lstrip('-')
        if optional and not os.path.exists(path):
            continue
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if line and line[0] not in '#;' and '=' in line:
                    key, value = line.split('=', 1)
                    env[key.strip()] = value.strip().strip('"\'')
    for item in settings.get('Environment', []):
        for word in shlex.split(item):
            key, _sep, value = word.partition('=')
            env[key] = value
    return env


def command_line(settings, env):
    if 'ExecStart' not in settings:
        raise SystemExit('unit has no ExecStart=')
    line = settings['ExecStart'][-1].lstrip('-@:+!')
    words = shlex.split(line)

    def expand(word):
        word = re.sub(r'\$\{(\w+)\}', lambda m: env.get(m.group(1), ''), word)
        return word.replace('%%', '%')
    return [expand(word) for word in words]


def describe(unit):
    settings = parse_unit(unit)
    env = environment(settings)
    user = settings.get('User', ['root'])[-1]
    group = settings.get('Group', [None])[-1]
    return {'argv': command_line(settings, env), 'env': env, 'user': user, 'group': group,
            'cwd': settings.get('WorkingDirectory', ['/'])[-1].lstrip('-')}


def demote(user, group):
    def switch():
        os.setsid()
        entry = pwd.getpwnam(user)
        gid = grp.getgrnam(group).gr_gid if group else entry.pw_gid
        if os.getuid() == entry.pw_uid:
            return
        os.setgid(gid)
        os.initgroups(user, gid)
        os.setuid(entry.pw_uid)
    return switch


def start(unit, pidfile, logfile):
    info = describe(unit)
    env = dict(info['env'])
    env['HOME'] = pwd.getpwnam(info['user']).pw_dir
    with open(logfile, 'ab') as log:
        proc = subprocess.Popen(info['argv'], env=env, cwd=info['cwd'], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=demote(info['user'], info['group']))
    time.sleep(0.5)
    if proc.poll() is not None:
        with open(logfile) as log:
            sys.stderr.write(log.read())
        raise SystemExit('%s exited at once with status %s' % (unit, proc.returncode))
    with open(pidfile, 'w') as handle:
        handle.write('%d %s\n' % (proc.pid, start_time(proc.pid)))
    print(json.dumps({'pid': proc.pid, 'user': info['user'], 'argv': info['argv']}))


def start_time(pid):
    """Field 22 of /proc/PID/stat: tells a process from a later one with the same pid."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def stop(pidfile):
    """Stop the process `start` recorded, and only that one (not a later holder of its pid)."""
    try:
        with open(pidfile) as handle:
            pid, started = handle.read().split()
        pid = int(pid)
    except (OSError, ValueError):
        return
    if start_time(pid) != started:
        os.unlink(pidfile)
        return
    try:
        os.kill(pid, signal.SIGTERM)
        for _attempt in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.unlink(pidfile)


def main(argv):
    if len(argv) == 4 and argv[0] == 'start':
        start(*argv[1:])
    elif len(argv) == 2 and argv[0] == 'stop':
        stop(argv[1])
    elif len(argv) == 2 and argv[0] == 'show':
        print(json.dumps(describe(argv[1])))
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
