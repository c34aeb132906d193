"""The shim inventory's hosts/token/token_file options: names, tokens, and
errors that name the entry and the rule without quoting a token."""

import pytest

from ansible_collections.vpe.hypervisor.plugins.plugin_utils.shim_targets import TargetError, parse_targets

TOKEN = 'r' * 32


def error_of(*args, **kwargs):
    with pytest.raises(TargetError) as info:
        parse_targets(*args, **kwargs)
    return str(info.value)


def test_plain_urls_are_named_after_their_host_and_mappings_by_name():
    targets = parse_targets(['https://hv1.example.com:8470/', 'http://[2001:db8::5]:8470',
                             {'name': 'hv3', 'url': 'https://198.18.0.3:8470/prefix'}], token=TOKEN)
    assert targets == [
        {'name': 'hv1.example.com', 'url': 'https://hv1.example.com:8470', 'token': TOKEN},
        {'name': '2001:db8::5', 'url': 'http://[2001:db8::5]:8470', 'token': TOKEN},
        {'name': 'hv3', 'url': 'https://198.18.0.3:8470/prefix', 'token': TOKEN},
    ]


def test_token_file_holds_just_the_token_and_entries_may_have_their_own(tmp_path):
    fleet = tmp_path / 'fleet.token'
    fleet.write_text(TOKEN + '\n')
    own = tmp_path / 'hv2.token'
    own.write_text('  ' + 'o' * 32 + '  \n')
    targets = parse_targets(['http://hv1:8470', {'name': 'hv2', 'url': 'http://hv2:8470', 'token_file': str(own)},
                             {'url': 'http://hv3:8470', 'token': 'x' * 20}], token_file=str(fleet))
    assert [t['token'] for t in targets] == [TOKEN, 'o' * 32, 'x' * 20]


@pytest.mark.parametrize('content,words', [
    ('', 'is empty; it must hold the token'),
    ('read %s\nadmin %s\n' % (TOKEN, TOKEN), 'must hold just the token, one word'),
])
def test_a_token_file_that_is_not_just_a_token_is_refused_without_quoting_it(tmp_path, content, words):
    path = tmp_path / 'tokens'
    path.write_text(content)
    message = error_of(['http://hv1:8470'], token_file=str(path))
    assert message.startswith('token_file: %s' % path) and words in message
    assert TOKEN not in message


def test_a_missing_token_file_says_so(tmp_path):
    assert error_of(['http://hv1:8470'], token_file=str(tmp_path / 'nope')) == \
        'token_file: cannot read %s: No such file or directory' % (tmp_path / 'nope')


@pytest.mark.parametrize('hosts,options,words', [
    ([], {}, 'hosts must be a non-empty list'),
    ('http://hv1:8470', {}, 'hosts must be a non-empty list'),
    (['ftp://hv1'], {}, 'hosts[0] must be an http:// or https:// URL with a host, got ftp://hv1'),
    (['hv1:8470'], {}, 'hosts[0] must be an http:// or https:// URL with a host'),
    (['http://hv1:99999'], {}, 'hosts[0] has an invalid port'),
    (['http://user:secret@hv1:8470'], {}, 'hosts[0] must not carry credentials'),
    (['http://hv1:8470/?x=1'], {}, 'hosts[0] must be a base URL without ?query or #fragment'),
    ([{'name': 'hv1'}], {}, 'hosts[0].url is required'),
    ([{'url': 'http://hv1', 'nmae': 'x'}], {}, 'hosts[0] has unknown key(s) nmae; allowed: name, url, token, token_file'),
    ([{'url': 'http://hv1', 'name': 'two words'}], {}, 'hosts[0].name must be a host name'),
    ([42], {}, 'hosts[0] must be a URL or a mapping with url (and name), got int'),
    (['http://127.0.0.1:8470', 'http://127.0.0.1:8471'], {},
     'hosts[1]: host name "127.0.0.1" is already taken by hosts[0]; give each shim its own name'),
    (['http://hv1:8470'], {'token': None}, 'hosts[0] (hv1) has no token: set token or token_file'),
    (['http://hv1:8470'], {'token': TOKEN, 'token_file': '/x'}, 'token and token_file are mutually exclusive'),
    ([{'url': 'http://hv1', 'token': 'a b'}], {}, 'hosts[0].token must be one word'),
])
def test_bad_options_name_the_entry_and_the_rule(hosts, options, words):
    options = dict({'token': TOKEN}, **options) if 'token' not in options else options
    message = error_of(hosts, **options)
    assert words in message
    assert TOKEN not in message
