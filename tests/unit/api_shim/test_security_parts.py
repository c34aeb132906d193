"""The parts of the shim's defences that need no server: when the intake
hands a request over, token file lines, the token file that follows its
changes, and the throttle of failed authentications (with a fake clock)."""

import hashlib
import os

import pytest

from ansible_collections.vpe.hypervisor.api_shim import intake, throttle, tokens


# -- intake -------------------------------------------------------------------------

@pytest.mark.parametrize('data,state', [
    (b'', 'more'),
    (b'GET /x HTTP/1.1\r\nHost: a\r\n', 'more'),
    (b'GET /x HTTP/1.1\r\nHost: a\r\n\r\n', 'ready'),
    (b'GET /x HTTP/1.1\nHost: a\n\n', 'ready'),  # bare LF: cheroot says 400 at once
    (b'PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345', 'more'),
    (b'PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n1234567890', 'ready'),
    (b'PUT /x HTTP/1.1\r\ncontent-length:  3 \r\n\r\nabcGET', 'ready'),  # pipelined bytes after it
    (b'PUT /x HTTP/1.1\r\nContent-Length: 999999\r\n\r\n', 'ready'),  # over 64 KiB: the app says 413
    (b'PUT /x HTTP/1.1\r\nContent-Length: x\r\n\r\n', 'ready'),  # cheroot says 400
    (b'PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n', 'more'),
    (b'PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n', 'ready'),
    (b'GET /x HTTP/1.1\r\nX: ' + b'a' * (17 * 1024), 'too large'),
    (b'GET /x HTTP/1.1\r\nX: ' + b'a' * (17 * 1024) + b'\r\n\r\n', 'too large'),
])
def test_the_intake_hands_over_only_whole_requests(data, state):
    assert intake.request_state(data) == (state, data)


def test_expect_100_continue_is_taken_out_once_answered():
    data = b'PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n'
    assert intake.without_expect(data) == b'PUT /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n'


# -- token file lines -----------------------------------------------------------------

def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_lines_hashed_plain_and_labelled():
    hashed = tokens.parse_line('f', 1, 'admin sha256:%s ops' % sha('t' * 20).upper())
    assert hashed == tokens.Token('admin', bytes.fromhex(sha('t' * 20)), True, 'ops')
    plain = tokens.parse_line('f', 2, 'read %s' % ('p' * 16))
    assert plain == tokens.Token('read', b'p' * 16, False, sha('p' * 16)[:8])
    unlabelled = tokens.parse_line('f', 3, 'read sha256:%s' % sha('q' * 20))
    assert unlabelled.label == sha('q' * 20)[:8]
    assert tokens.hashed_line('read', 'q' * 20, 'x') == 'read sha256:%s x' % sha('q' * 20)


@pytest.mark.parametrize('line,words', [
    ('root %s' % ('a' * 20), 'SCOPE read or admin'),
    ('admin', 'expected "SCOPE sha256:HEX [LABEL]"'),
    ('admin %s a b' % ('a' * 20), 'expected'),
    ('admin sha256:abc', 'line 7: sha256: must be followed by 64 hex digits'),
    ('admin sha256:%s' % ('g' * 64), '64 hex digits'),
    ('admin short', 'shorter than 16'),
    ('admin %s bad/label' % ('a' * 20), 'label must be'),
])
def test_bad_lines_name_the_line_and_the_rule(line, words):
    with pytest.raises(tokens.TokenFileError, match=words.replace('[', r'\[').replace(']', r'\]')):
        tokens.parse_line('f', 7, line)


# -- a followed token file ------------------------------------------------------------

class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def write(path, text, mode=0o600):
    tmp = str(path) + '.tmp'
    with open(tmp, 'w') as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.rename(tmp, str(path))


def test_the_token_file_is_looked_at_again_after_a_second_and_a_bad_one_is_not_taken(tmp_path):
    path = tmp_path / 'tokens'
    write(path, 'admin %s\n' % ('a' * 20))
    clock = Clock()
    followed = tokens.TokenFile(str(path), clock=clock)
    write(path, 'read %s\n' % ('b' * 20))
    clock.now += 0.5
    assert [t.secret for t in followed.current()] == [b'a' * 20], 'not looked at yet'
    clock.now += 0.6
    assert [t.secret for t in followed.current()] == [b'b' * 20]
    write(path, 'read\n')
    clock.now += 1.1
    assert [t.secret for t in followed.current()] == [b'b' * 20], 'a broken file keeps the tokens in force'
    write(path, 'read %s\n' % ('c' * 20), mode=0o604)
    assert followed.reload() is False and [t.secret for t in followed.current()] == [b'b' * 20]
    write(path, 'read %s\n' % ('c' * 20))
    assert followed.reload() is True and [t.secret for t in followed.current()] == [b'c' * 20]


def test_add_token_appends_a_hashed_line_and_keeps_the_mode(tmp_path):
    path = tmp_path / 'tokens'
    write(path, '# mine\nadmin %s' % ('a' * 20), mode=0o640)  # no final newline
    token = tokens.add_token(str(path), 'read', 'grafana')
    assert path.read_text() == '# mine\nadmin %s\nread sha256:%s grafana\n' % ('a' * 20, sha(token))
    assert os.stat(str(path)).st_mode & 0o777 == 0o640
    assert [t.label for t in tokens.load_tokens(str(path))] == [sha('a' * 20)[:8], 'grafana']
    with pytest.raises(tokens.TokenFileError, match='scope must be read or admin'):
        tokens.add_token(str(path), 'root')
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith('.tokens-')], 'no temp file left'


# -- throttle -------------------------------------------------------------------------

def test_failures_past_the_limit_make_that_address_wait_until_the_window_passes():
    clock = Clock()
    gate = throttle.AuthThrottle(limit=3, window=60, clock=clock)
    for _attempt in range(3):
        assert gate.retry_after('198.18.0.1') == 0
        gate.failed('198.18.0.1')
        clock.now += 1
    assert gate.retry_after('198.18.0.1') == 57  # now 1003; the first failure (1000) leaves the window at 1060
    assert gate.retry_after('198.18.0.2') == 0, 'other addresses are not affected'
    clock.now += 57
    assert gate.retry_after('198.18.0.1') == 0


def test_the_throttle_forgets_the_longest_quiet_addresses_first():
    gate = throttle.AuthThrottle(limit=1, window=60, max_clients=2, clock=Clock())
    for address in ('a', 'b', 'c'):
        gate.failed(address)
    assert gate.retry_after('a') == 0 and gate.retry_after('b') > 0 and gate.retry_after('c') > 0
