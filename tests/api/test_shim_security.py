"""The shim's token file (hashed lines, labels, followed without restart,
`token add`), its audit log and the 429 for repeated auth failures, over real
HTTP (libvirt's test driver: nothing here needs the real daemon)."""

import hashlib
import http.client
import json
import os
import signal
import stat
import subprocess
import time

import pytest

import vpetest

pytestmark = [pytest.mark.api]

TEST_URI = 'test:///default'


def write_tokens(path, lines):
    """Replace the token file atomically, as an operator's tooling would."""
    tmp = str(path) + '.new'
    with open(tmp, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    os.chmod(tmp, 0o600)
    os.rename(tmp, str(path))


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


def token_add(path, scope, label=None):
    args = ['token', 'add', '--scope', scope, '--token-file', str(path)] + (['--label', label] if label else [])
    return subprocess.run(vpetest.shim_command(*args), env=vpetest.shim_env(), capture_output=True, text=True,
                          timeout=60, check=False)


def audit_lines(shim):
    path = shim.state_dir / 'audit.log'
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def get_from(source, port, token):
    """GET /hypervisor/quota from the loopback address `source`."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10, source_address=(source, 0))
    try:
        conn.request('GET', '/hypervisor/quota', headers={'Authorization': 'Bearer %s' % token})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.fixture
def test_shim(tmp_path):
    server = vpetest.Shim(tmp_path, uri=TEST_URI)
    yield server
    server.stop()


# -- tokens -------------------------------------------------------------------------

def test_hashed_lines_with_labels_authenticate_with_their_scope(tmp_path):
    admin, read = 'a' * 20 + 'dmin-token', 'r' * 20 + 'ead-token'
    shim = vpetest.Shim(tmp_path, uri=TEST_URI)
    try:
        write_tokens(shim.token_file, ['# hashed', 'admin sha256:%s ops-admin' % sha(admin),
                                       'read sha256:%s grafana' % sha(read), 'read %s plain-one' % ('p' * 24)])
        shim.proc.send_signal(signal.SIGHUP)
        vpetest.eventually(lambda: shim.request('GET', '/hypervisor/quota', token=read).status_code,
                           lambda status: status == 200, timeout=5)
        assert shim.request('GET', '/hypervisor/quota', token=admin).status_code == 200
        assert shim.request('GET', '/hypervisor/quota', token='p' * 24).status_code == 200
        denied = shim.request('PUT', '/hypervisor/quota', token=read, json={'quota': {'cpu_max': 4}})
        assert denied.status_code == 403
        assert shim.request('PUT', '/hypervisor/quota', token=admin, json={'quota': {'cpu_max': 4}}).status_code == 200
        # the hash itself is not a token
        assert shim.request('GET', '/hypervisor/quota', token='sha256:' + sha(read)).status_code == 401
        assert shim.request('GET', '/hypervisor/quota', token=sha(read)).status_code == 401
    finally:
        shim.stop()


def test_a_changed_token_file_is_in_force_within_2_seconds_without_a_restart(test_shim):
    new = 'n' * 32
    old_admin = test_shim.admin_token
    assert test_shim.request('GET', '/hypervisor/quota', token=new).status_code == 401
    write_tokens(test_shim.token_file, ['read sha256:%s rotated' % sha(new)])
    answered = vpetest.eventually(lambda: test_shim.request('GET', '/hypervisor/quota', token=new).status_code,
                                  lambda status: status == 200, timeout=2.5)
    assert answered == 200
    assert test_shim.request('GET', '/hypervisor/quota', token=old_admin).status_code == 401, 'the removed token'
    assert test_shim.proc.poll() is None
    assert 'token file %s read: 1 tokens' % test_shim.token_file in test_shim.output()


def test_sighup_rereads_the_token_file_at_once(test_shim):
    """No request is made between the change and the log line: only the
    signal can have made the shim read the file."""
    new = 'h' * 32
    write_tokens(test_shim.token_file, ['admin %s after-hup' % new])
    test_shim.proc.send_signal(signal.SIGHUP)
    vpetest.eventually(test_shim.output, lambda text: 'read: 1 tokens' in text, timeout=5)
    assert test_shim.request('GET', '/hypervisor/quota', token=new).status_code == 200
    assert test_shim.proc.poll() is None


def test_no_request_fails_while_tokens_rotate_and_a_broken_file_keeps_the_old_tokens(test_shim):
    import threading

    token = test_shim.read_token
    statuses = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            statuses.append(test_shim.request('GET', '/hypervisor/quota', token=token).status_code)

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        for round_ in range(6):
            write_tokens(test_shim.token_file, ['read sha256:%s kept' % sha(token),
                                                'admin %s extra-%d' % ('x' * 30, round_)])
            test_shim.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)
        # written in place, half way: it does not parse, so the tokens in force stay
        with open(str(test_shim.token_file), 'w') as handle:
            handle.write('read\n')
        time.sleep(1.5)
    finally:
        stop.set()
        worker.join()
    assert statuses and set(statuses) == {200}, statuses
    assert test_shim.request('GET', '/hypervisor/quota', token=token).status_code == 200
    assert 'keeping the 2 tokens in force' in test_shim.output()


def test_token_add_prints_a_new_token_and_appends_its_hashed_line(test_shim):
    path = test_shim.token_file
    before = path.read_text()
    made = token_add(path, 'read', 'grafana')
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(token) >= 40 and '\n' not in token
    text = path.read_text()
    assert text.startswith(before), 'the existing lines are kept'
    assert text[len(before):] == 'read sha256:%s grafana\n' % sha(token)
    assert token not in text
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    got = vpetest.eventually(lambda: test_shim.request('GET', '/hypervisor/quota', token=token).status_code,
                             lambda status: status == 200, timeout=2.5)
    assert got == 200
    assert test_shim.request('PUT', '/hypervisor/quota', token=token, json={'quota': {'cpu_max': 2}}).status_code == 403

    again = token_add(path, 'admin', 'grafana')
    assert again.returncode == 2 and 'already has a token labelled grafana' in again.stderr
    assert path.read_text() == text, 'a refused add changes nothing'
    bad = token_add(path, 'admin', 'no spaces allowed')
    assert bad.returncode == 2 and 'label must be' in bad.stderr
    assert path.read_text() == text


def test_token_add_creates_a_private_file(tmp_path):
    path = tmp_path / 'fresh'
    made = token_add(path, 'admin')
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    lines = [line for line in path.read_text().splitlines() if not line.startswith('#')]
    assert lines == ['admin sha256:%s' % sha(made.stdout.strip())]


def test_a_bad_token_file_line_names_the_line_and_the_rule(tmp_path):
    path = tmp_path / 'tokens'
    write_tokens(path, ['admin sha256:1234 short-hash'])
    proc = subprocess.run(vpetest.shim_command('serve', '--listen', '127.0.0.1:%d' % vpetest.free_port(),
                                               '--uri', TEST_URI, '--token-file', str(path),
                                               '--state-dir', str(tmp_path / 's')),
                          env=vpetest.shim_env(), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert 'line 1: sha256: must be followed by 64 hex digits' in proc.stderr


# -- audit --------------------------------------------------------------------------

def test_every_mutating_request_gets_one_audit_line_and_reads_none(test_shim):
    assert test_shim.request('GET', '/hypervisor/quota', token='read').status_code == 200
    ok = test_shim.request('PUT', '/hypervisor/quota', json={'quota': {'cpu_max': 6}})
    assert ok.status_code == 200
    forbidden = test_shim.request('PUT', '/hypervisor/quota', token='read', json={'quota': {'cpu_max': 7}})
    assert forbidden.status_code == 403
    anonymous = test_shim.request('PUT', '/hypervisor/quota', token=None, json={'quota': {'cpu_max': 8}})
    assert anonymous.status_code == 401
    wrong = test_shim.request('DELETE', '/hypervisor/pools/00000000-0000-0000-0000-000000000000', token='z' * 20)
    assert wrong.status_code == 401
    bad = test_shim.request('PUT', '/hypervisor/quota', json={'quota': {'cpu_max': 0}})
    assert bad.status_code == 400

    lines = audit_lines(test_shim)
    assert [(line['method'], line['path'], line['status']) for line in lines] == [
        ('PUT', '/hypervisor/quota', 200), ('PUT', '/hypervisor/quota', 403), ('PUT', '/hypervisor/quota', 401),
        ('DELETE', '/hypervisor/pools/00000000-0000-0000-0000-000000000000', 401), ('PUT', '/hypervisor/quota', 400)]
    first = lines[0]
    assert first['client'] == '127.0.0.1'
    assert first['token'] == sha(test_shim.admin_token)[:8]
    assert first['changed'] is True
    assert first['before']['cpu_max'] != 6 and first['after']['cpu_max'] == 6
    assert 'T' in first['time'] and first['time'].endswith('+00:00')
    assert lines[1]['token'] == sha(test_shim.read_token)[:8] and 'before' not in lines[1]
    assert lines[2]['token'] is None and lines[3]['token'] is None
    raw = (test_shim.state_dir / 'audit.log').read_text()
    for secret in (test_shim.admin_token, test_shim.read_token, 'z' * 20):
        assert secret not in raw
    assert stat.S_IMODE(os.stat(str(test_shim.state_dir / 'audit.log')).st_mode) == 0o600


def test_audit_log_to_stdout_and_a_label(tmp_path):
    shim = vpetest.Shim(tmp_path, uri=TEST_URI, extra_args=('--audit-log', '-'))
    try:
        write_tokens(shim.token_file, ['admin %s deploy-bot' % shim.admin_token])
        shim.proc.send_signal(signal.SIGHUP)
        vpetest.eventually(shim.output, lambda text: 'read: 1 tokens' in text, timeout=5)
        assert shim.request('PUT', '/hypervisor/quota', json={'quota': {'cpu_max': 3}}).status_code == 200
        lines = vpetest.eventually(
            lambda: [json.loads(line) for line in shim.output().splitlines() if line.startswith('{')],
            lambda found: found, timeout=5)
    finally:
        shim.stop()
    assert len(lines) == 1
    assert lines[0]['token'] == 'deploy-bot' and lines[0]['after']['cpu_max'] == 3
    assert not (shim.state_dir / 'audit.log').exists()


# -- repeated auth failures -----------------------------------------------------------

def test_repeated_auth_failures_get_429_for_that_client_only(tmp_path):
    shim = vpetest.Shim(tmp_path, uri=TEST_URI, auth_failures=3, extra_args=('--auth-window', '60'))
    try:
        for _attempt in range(3):
            assert get_from('127.0.0.2', shim.port, 'w' * 20)[0] == 401
        status, headers, body = get_from('127.0.0.2', shim.port, 'w' * 20)
        assert status == 429
        assert 1 <= int(headers['Retry-After']) <= 60
        assert json.loads(body)['status'] == 429 and 'too many failed' in json.loads(body)['detail']
        # refused before the token is looked at: even the right one waits
        assert get_from('127.0.0.2', shim.port, shim.read_token)[0] == 429
        # other clients are not affected
        assert get_from('127.0.0.1', shim.port, shim.read_token)[0] == 200
        assert get_from('127.0.0.3', shim.port, 'w' * 20)[0] == 401
        assert shim.request('GET', '/healthz', token=None).status_code == 200, 'open routes stay open'
    finally:
        shim.stop()
