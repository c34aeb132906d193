"""Helpers for the role tests: run a playbook with the roles on localhost,
run a unit's ExecStart without systemd (scripts/unit-exec.py), snapshot the
shim's source so that edits in the checkout during a run change nothing."""

import json
import shutil
import subprocess
from pathlib import Path

import vpetest

UNIT_EXEC = vpetest.REPO / 'scripts' / 'unit-exec.py'


def snapshot_source(dest):
    """api_shim/ and plugins/module_utils/ of this checkout, copied to dest."""
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.*')
    for part in ('api_shim', 'plugins/module_utils'):
        shutil.copytree(vpetest.REPO / part, Path(dest) / part, ignore=ignore)
    return Path(dest)


def run_play(playbook_text, workdir, *args, extra_env=None):
    """ansible-playbook on localhost; returns (returncode, output)."""
    playbook = Path(workdir) / 'play.yml'
    playbook.write_text(playbook_text)
    cmd = [vpetest.ansible_bin('ansible-playbook'), '-i', 'localhost,', '-c', 'local', str(playbook)]
    cmd.extend(args)
    proc = subprocess.run(cmd, env=vpetest.ansible_env(extra_env), capture_output=True, text=True,
                          cwd=str(workdir), check=False)
    return proc.returncode, proc.stdout + proc.stderr


def recap(output):
    """{'ok': n, 'changed': n, 'failed': n, ...} of localhost's PLAY RECAP line."""
    for line in output.splitlines():
        if line.startswith('localhost') and 'ok=' in line:
            return dict((k, int(v)) for k, v in (item.split('=') for item in line.split(':', 1)[1].split()))
    raise AssertionError('no PLAY RECAP in:\n' + output)


def unit_settings(unit):
    out = subprocess.run([vpetest.PYTHON, str(UNIT_EXEC), 'show', str(unit)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


class UnitProcess:
    """A unit's ExecStart running as its User=, started like systemd would."""

    def __init__(self, unit, workdir):
        name = Path(unit).stem
        self.pidfile = Path(workdir) / (name + '.pid')
        self.logfile = Path(workdir) / (name + '.log')
        proc = subprocess.run([vpetest.PYTHON, str(UNIT_EXEC), 'start', str(unit), str(self.pidfile),
                               str(self.logfile)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        self.info = json.loads(proc.stdout)

    def log(self):
        return self.logfile.read_text() if self.logfile.exists() else ''

    def stop(self):
        subprocess.run([vpetest.PYTHON, str(UNIT_EXEC), 'stop', str(self.pidfile)], check=False)


def systemd_analyze_verify(*units):
    proc = subprocess.run(['systemd-analyze', 'verify'] + [str(u) for u in units],
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr
