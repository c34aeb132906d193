"""The api_shim role on localhost: files and modes, tokens generated once and
kept, check mode, a re-run that changes nothing, a changed setting that
notifies the restart handler, and the units it writes run from their own
ExecStart (systemd is not PID 1 here) serving HTTP with the generated token
and sampling metrics."""

import hashlib
import sqlite3
import stat
import subprocess
import textwrap
import time

import pytest
import requests

import vpetest
from role_helpers import UnitProcess, recap, run_play, snapshot_source, systemd_analyze_verify

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd, pytest.mark.slow]


def play(root, source, port, extra='', as_root=True):
    base = textwrap.dedent('''\
        - name: Deploy the shim
          hosts: localhost
          gather_facts: false
          roles:
            - role: vpe.hypervisor.api_shim
              vars:
                api_shim_port: {port}
                api_shim_state_dir: {root}/state
                api_shim_install_dir: {root}/opt
                api_shim_config_dir: {root}/etc
                api_shim_unit_dir: {root}/units
                api_shim_source_dir: {source}
                api_shim_python: {python}
                api_shim_manage_packages: false
                api_shim_collector_interval: 1
                api_shim_logrotate_dir: {root}/logrotate.d
        ''').format(root=root, source=source, port=port, python=vpetest.PYTHON)
    if as_root:  # the units run by hand here, without CAP_NET_ADMIN: as root
        base += ' ' * 8 + 'api_shim_user: root\n' + ' ' * 8 + 'api_shim_group: root\n'
    return base + textwrap.indent(textwrap.dedent(extra), ' ' * 8)


def tokens(path):
    """{scope: token} of a file of "SCOPE TOKEN [LABEL]" lines."""
    pairs = [line.split()[:2] for line in path.read_text().splitlines() if line and not line.startswith('#')]
    return dict(pairs)


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


def test_api_shim_role_deploys_a_shim_that_serves_and_samples(tmp_path):
    root = tmp_path / 'root'
    source = snapshot_source(tmp_path / 'src')
    port = vpetest.free_port()

    # check mode on a fresh host: reports changes, writes nothing
    rc, out = run_play(play(root, source, port), tmp_path, '--check')
    assert rc == 0, out
    assert recap(out)['changed'] > 0
    assert not (root / 'etc').exists() and not (root / 'units').exists()

    (root / 'logrotate.d').mkdir(parents=True)
    rc, out = run_play(play(root, source, port), tmp_path)
    assert rc == 0, out
    token_file = root / 'etc' / 'tokens'
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o640
    # the generated tokens: in plain text once, root only; hashed in the token file
    initial = root / 'etc' / 'tokens.initial'
    assert stat.S_IMODE(initial.stat().st_mode) == 0o600
    first = tokens(initial)
    assert set(first) == {'admin', 'read'} and all(len(t) == 43 for t in first.values())
    assert tokens(token_file) == {scope: 'sha256:' + sha(t) for scope, t in first.items()}
    assert 'initial-admin' in token_file.read_text()
    for plain in first.values():
        assert plain not in token_file.read_text() and plain not in out
    snippet = (root / 'logrotate.d' / 'vpe-shim').read_text()
    assert '%s/state/audit.log {' % root in snippet and 'systemctl reload vpe-shim.service' in snippet
    assert (root / 'opt/ansible_collections/vpe/hypervisor/api_shim/cli.py').is_file()
    assert 'systemd is not running this host' in out

    # a re-run changes nothing and keeps the generated tokens
    rc, out = run_play(play(root, source, port), tmp_path)
    assert rc == 0, out
    assert recap(out)['changed'] == 0, out
    assert tokens(initial) == first
    assert tokens(token_file) == {scope: 'sha256:' + sha(t) for scope, t in first.items()}

    units = [root / 'units' / 'vpe-shim.service', root / 'units' / 'vpe-collector.service']
    rc, out = systemd_analyze_verify(*units)
    assert rc == 0, out
    shim_unit = units[0].read_text()
    for setting in ('Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict',
                    'ReadWritePaths=%s/state' % root, 'PrivateTmp=yes', 'User=root',
                    'AmbientCapabilities=CAP_NET_ADMIN', 'CapabilityBoundingSet=CAP_NET_ADMIN',
                    'ExecReload=/bin/kill -HUP $MAINPID', '--audit-log %s/state/audit.log' % root):
        assert setting in shim_unit
    assert 'CapabilityBoundingSet=\n' in units[1].read_text(), 'the collector has no capability'
    for unit in units:
        assert exposure(unit) <= 3.0, unit

    procs = [UnitProcess(unit, tmp_path) for unit in units]
    try:
        url = 'http://127.0.0.1:%d' % port
        deadline = time.time() + 30
        while True:
            try:
                requests.get(url + '/healthz', timeout=2)
                break
            except requests.ConnectionError:
                assert time.time() < deadline, procs[0].log()
                time.sleep(0.2)
        answer = requests.get(url + '/hypervisor/usages', timeout=30,
                              headers={'Authorization': 'Bearer %s' % first['read']})
        assert answer.status_code == 200, answer.text
        assert set(answer.json()['usages']) >= {'cpu_total', 'cpu_used', 'instances'}
        wrong = requests.get(url + '/hypervisor/usages', timeout=30,
                             headers={'Authorization': 'Bearer %s' % ('x' * 32)})
        assert wrong.status_code == 401
        answer = requests.put(url + '/hypervisor/quota', json={'quota': {'cpu_max': 10000}}, timeout=30,
                              headers={'Authorization': 'Bearer %s' % first['admin']})
        assert answer.status_code == 200, answer.text

        # the collector samples into the state dir's SQLite store
        db = root / 'state' / 'metrics.sqlite3'
        deadline = time.time() + 30
        while True:
            rows = 0
            if db.exists():
                with sqlite3.connect(str(db)) as conn:
                    names = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
                    rows = sum(conn.execute('select count(*) from "%s"' % n).fetchone()[0] for n in names)
            if rows:
                break
            assert time.time() < deadline, procs[1].log()
            time.sleep(0.5)
    finally:
        for proc in procs:
            proc.stop()

    # changed settings (threads, tokens given as variables) rewrite the unit and
    # the token file and notify the restart handler
    given = ('api_shim_threads: 4\napi_shim_tokens: [{scope: admin, token: %s, label: ops}, '
             '{scope: read, sha256: %s}]\n' % ('a' * 24, sha('r' * 24)))
    rc, out = run_play(play(root, source, port, given), tmp_path)
    assert rc == 0, out
    assert 'RUNNING HANDLER [vpe.hypervisor.api_shim : Restart vpe-shim]' in out
    assert '--threads 4' in units[0].read_text()
    lines = [line for line in token_file.read_text().splitlines() if not line.startswith('#')]
    assert lines == ['admin sha256:%s ops' % sha('a' * 24), 'read sha256:%s' % sha('r' * 24)]
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o640
    assert 'a' * 24 not in out


def exposure(unit):
    """systemd-analyze security's overall exposure of a unit file (offline)."""
    proc = subprocess.run(['systemd-analyze', 'security', '--offline=yes', str(unit)], capture_output=True,
                          text=True, check=False)
    last = [line for line in proc.stdout.splitlines() if 'Overall exposure level' in line]
    assert last, proc.stdout + proc.stderr
    return float(last[-1].split(':')[1].split()[0])


def test_an_existing_plain_token_file_is_rewritten_hashed(tmp_path):
    root = tmp_path / 'root'
    (root / 'etc').mkdir(parents=True)
    old = root / 'etc' / 'tokens'
    old.write_text('# old\nadmin %s\nread %s grafana\n' % ('b' * 32, 'c' * 32))
    old.chmod(0o600)
    rc, out = run_play(play(root, vpetest.REPO, vpetest.free_port(), 'api_shim_start: never\n'), tmp_path)
    assert rc == 0, out
    assert old.read_text() == '# old\nadmin sha256:%s\nread sha256:%s grafana\n' % (sha('b' * 32), sha('c' * 32))
    assert not (root / 'etc' / 'tokens.initial').exists(), 'nothing generated'


def test_api_shim_role_refuses_plain_http_on_a_public_address(tmp_path):
    root = tmp_path / 'root'
    rc, out = run_play(play(root, vpetest.REPO, 8470, 'api_shim_listen_host: 0.0.0.0\n'), tmp_path, '--check')
    assert rc != 0
    assert 'needs them or api_shim_insecure' in out
    assert not root.exists()


def test_api_shim_role_with_a_dedicated_user(tmp_path):
    """The default shape (a system user, not root), everything kept under
    tmp_path but the user itself (vpetest-sec-shim, removed afterwards): the
    user is created in the supplementary group that exists and not in the one
    that does not, owns the state directory (setgid) and its lock; the
    persist paths that exist become writable by its group; a polkit rule
    names it; the units run as it with CAP_NET_ADMIN for the shim only,
    within the exposure goal."""
    import grp
    import pwd

    root = tmp_path / 'root'
    user = 'vpetest-sec-shim'
    (root / 'netd').mkdir(parents=True)
    (root / 'polkit').mkdir()
    extra = textwrap.dedent('''\
        api_shim_user: {user}
        api_shim_group: {user}
        api_shim_supplementary_groups: [kvm, vpetest-no-such-group]
        api_shim_read_write_paths: ["-{root}/netd", "-{root}/absent"]
        api_shim_polkit_rules_dir: {root}/polkit
        api_shim_start: never
        ''').format(user=user, root=root)
    try:
        rc, out = run_play(play(root, vpetest.REPO, vpetest.free_port(), extra, as_root=False), tmp_path)
        assert rc == 0, out
        entry = pwd.getpwnam(user)
        assert entry.pw_shell == '/usr/sbin/nologin' and entry.pw_uid < 1000
        assert user in grp.getgrnam('kvm').gr_mem
        assert 'vpetest-no-such-group do not exist' in out
        state = (root / 'state').stat()
        assert state.st_uid == entry.pw_uid and stat.S_IMODE(state.st_mode) == 0o2770
        assert (root / 'state' / 'state.lock').stat().st_uid == entry.pw_uid
        netd = (root / 'netd').stat()
        assert netd.st_gid == grp.getgrnam(user).gr_gid and netd.st_mode & 0o070 == 0o070
        assert not (root / 'absent').exists()
        token_file = (root / 'etc' / 'tokens').stat()
        assert token_file.st_uid == 0 and token_file.st_gid == grp.getgrnam(user).gr_gid
        assert stat.S_IMODE(token_file.st_mode) == 0o640
        assert 'subject.user == "%s"' % user in (root / 'polkit' / '50-vpe-shim.rules').read_text()
        units = [root / 'units' / 'vpe-shim.service', root / 'units' / 'vpe-collector.service']
        for unit in units:
            text = unit.read_text()
            assert 'User=%s\n' % user in text and 'SupplementaryGroups=kvm\n' in text
            assert exposure(unit) <= 3.0, unit
        assert 'AmbientCapabilities=CAP_NET_ADMIN' in units[0].read_text()
        assert 'AmbientCapabilities=\n' in units[1].read_text()
        rc, out = systemd_analyze_verify(*units)
        assert rc == 0, out
        # a re-run changes nothing
        rc, out = run_play(play(root, vpetest.REPO, vpetest.free_port(), extra, as_root=False), tmp_path)
        assert rc == 0, out
    finally:
        subprocess.run(['userdel', user], capture_output=True, check=False)
        subprocess.run(['groupdel', user], capture_output=True, check=False)
