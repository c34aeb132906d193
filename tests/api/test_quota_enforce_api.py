"""PUT /hypervisor/quota with `enforce` over real HTTP: the hook appears in the
real /etc/libvirt/hooks and goes again, GET says whether it is enforced, and
bad values change nothing.

libvirtd is not restarted here, so the hook is not run (libvirt looks for
hooks when it starts); the limits are huge anyway, so a restart by someone
else meanwhile refuses nothing. The hook is removed whatever happens."""

import json
import os

import pytest

from vpetest import assert_problem
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_hook

pytestmark = [pytest.mark.api, pytest.mark.libvirtd]

HUGE = {'cpu_max': 65536, 'memory_max_mb': 2147483647}


def put(shim, body, headers=None, **kwargs):
    return shim.request('PUT', '/hypervisor/quota', data=json.dumps(body),
                        headers=dict({'Content-Type': 'application/json'}, **(headers or {})), **kwargs)


@pytest.fixture
def no_hook_after():
    """Remove our hook, and the directories it brought, whatever happens."""
    dirs = [quota_hook.HOOKS_DIR, os.path.dirname(quota_hook.dropin_path())]
    made = [d for d in dirs if not os.path.isdir(d)]
    yield
    path = quota_hook.dropin_path()
    if quota_hook.settings_of(path) is not None:
        os.unlink(path)
    for directory in reversed(made):
        if os.path.isdir(directory) and not os.listdir(directory):
            os.rmdir(directory)


def test_enforce_installs_the_hook_and_off_removes_it(shim, no_hook_after):
    assert shim.request('GET', '/hypervisor/quota').json()['quota']['enforce'] == 'off'
    resp = put(shim, {'quota': dict(HUGE, enforce='running')}, params={'force': 'true'})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {'quota': dict(HUGE, enforce='running', enforced=False)}  # until libvirtd restarts
    assert quota_hook.settings_of(quota_hook.dropin_path())['state_dir'] == str(shim.state_dir)
    assert json.loads((shim.state_dir / 'state.json').read_text())['quota']['enforce'] == 'running'
    got = shim.request('GET', '/hypervisor/quota', token='read')
    assert got.json() == {'quota': dict(HUGE, enforce='running', enforced=False)}
    resp = put(shim, {'quota': {'enforce': 'defined'}}, headers={'If-Match': got.headers['ETag']})
    assert resp.status_code == 200 and resp.json()['quota']['enforce'] == 'defined'
    resp = put(shim, {'quota': {'enforce': 'off'}})
    assert resp.json() == {'quota': dict(HUGE, enforce='off', enforced=False)}
    assert not os.path.exists(quota_hook.dropin_path())


@pytest.mark.parametrize('body, field, words', [
    ({'quota': {'enforce': 'on'}}, 'enforce', 'enforce must be one of off, running, defined'),
    ({'quota': {'enforce': True}}, 'enforce', 'enforce must be a string, got boolean'),
    ({'quota': {'enforce': 'running', 'enforced': True}}, 'enforced', 'read-only'),
])
def test_bad_enforce_values_are_400_and_change_nothing(shim, body, field, words):
    assert_problem(put(shim, body), 400, field, words)
    assert not (shim.state_dir / 'state.json').exists()
    assert quota_hook.settings_of(quota_hook.dropin_path()) is None
