"""The vpe_network action plugin's confirmation logic, with the module runs and
the connection replaced by fakes: what the task returns when the change cut
the controller off, when no new connection gets through before the deadline,
when the host refuses the confirm, and that each confirm goes over a new
connection."""

from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.vpe.hypervisor.plugins.action import vpe_network as action_mod

PENDING = {'id': 'abcdef0123456789', 'status': 'pending', 'expires_in': 4, 'deadline': '2026-12-03 09:00:00'}
CHANGED = {'changed': True, 'network': {'bridge': 'brcut', 'bridge_interface': 'ens3'}, 'actions': ['enslave'],
           'diff': {'before': {}, 'after': {}}, 'pending': PENDING}


class FakeConnection:
    def __init__(self):
        self.resets = 0
        self.closes = 0
        self._shell = SimpleNamespace(tmpdir='/tmp/x')

    def reset(self):
        self.resets += 1

    def close(self):
        self.closes += 1


def make(answers, args=None, check_mode=False, monkeypatch=None):
    """An ActionModule whose module runs answer from `answers` (a dict, or an exception to raise)."""
    task = SimpleNamespace(args=dict(args or {'bridge': 'brcut', 'confirm_timeout': 60}), async_val=0,
                           check_mode=check_mode, action='vpe.hypervisor.vpe_network')
    conn = FakeConnection()
    plugin = action_mod.ActionModule(task, conn, SimpleNamespace(check_mode=check_mode), None, None)
    calls = []

    def execute(module_name=None, module_args=None, task_vars=None):
        calls.append(dict(module_args))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)
    plugin._execute_module = execute
    monkeypatch.setattr(action_mod, 'RETRY_PAUSE', 0.05)
    monkeypatch.setattr(action_mod.time, 'sleep', lambda s: None)
    return plugin, conn, calls


def test_confirmed_over_a_new_connection_keeps_the_module_result(monkeypatch):
    done = dict(PENDING, status='confirmed', expires_in=0)
    plugin, conn, calls = make([CHANGED, {'changed': True, 'pending': done}], monkeypatch=monkeypatch)
    result = plugin.run(task_vars={})
    assert not result.get('failed') and result['pending'] == done
    assert result['actions'] == ['enslave'] and result['network'] == CHANGED['network'] and 'diff' in result
    assert calls[1] == {'confirm': PENDING['id']} and conn.resets == 1 and conn.closes == 1


def test_change_that_cuts_the_connection_fails_saying_not_confirmed(monkeypatch):
    plugin, conn, calls = make([AnsibleConnectionFailure('Timeout, server 198.19.10.11 not responding.')],
                               monkeypatch=monkeypatch)
    result = plugin.run(task_vars={})
    assert result['failed'] is True
    assert result['msg'].startswith('the network change was not confirmed: the connection to the host was lost')
    assert 'rolls it back by itself within 60 s' in result['msg']
    assert len(calls) == 1


def test_without_confirm_timeout_a_lost_connection_stays_unreachable(monkeypatch):
    plugin, _conn, _calls = make([AnsibleConnectionFailure('gone')], args={'bridge': 'br100'},
                                 monkeypatch=monkeypatch)
    with pytest.raises(AnsibleConnectionFailure):
        plugin.run(task_vars={})


def test_no_new_connection_before_the_deadline_fails_with_the_revert_time(monkeypatch):
    clock = iter(range(0, 1000, 2))
    monkeypatch.setattr(action_mod.time, 'monotonic', lambda: next(clock))
    cut = AnsibleConnectionFailure('ssh: connect to host 198.19.10.11 port 22: Connection timed out')
    plugin, conn, calls = make([CHANGED, cut, cut, cut, cut, cut], monkeypatch=monkeypatch)
    result = plugin.run(task_vars={})
    assert result['failed'] is True
    assert result['msg'].startswith('the network change was not confirmed: no new connection reached the host')
    assert 'rolls it back by itself at 2026-12-03 09:00:00' in result['msg'] and 'Connection timed out' in result['msg']
    assert result['actions'] == ['enslave'] and result['pending'] == PENDING
    assert len(calls) >= 2 and conn.resets == len(calls) - 1


def test_a_refusal_from_the_host_is_final(monkeypatch):
    late = {'failed': True, 'status': 409, 'msg': 'network change abcdef0123456789 was not confirmed by its '
            'deadline 2026-12-03 09:00:00; it was rolled back now', 'pending': dict(PENDING, status='reverted')}
    plugin, _conn, calls = make([CHANGED, late], monkeypatch=monkeypatch)
    result = plugin.run(task_vars={})
    assert result['failed'] is True and result['status'] == 409 and len(calls) == 2
    assert result['msg'] == 'the network change was not confirmed: ' + late['msg']
    assert result['pending']['status'] == 'reverted'


def test_check_mode_and_no_change_run_the_module_once(monkeypatch):
    plugin, conn, calls = make([dict(CHANGED)], check_mode=True, monkeypatch=monkeypatch)
    assert plugin.run(task_vars={})['changed'] is True and len(calls) == 1 and conn.resets == 0
    plugin, conn, calls = make([{'changed': False, 'actions': []}], monkeypatch=monkeypatch)
    assert plugin.run(task_vars={})['changed'] is False and len(calls) == 1 and conn.resets == 0


def test_confirm_given_by_the_user_is_refused(monkeypatch):
    plugin, _conn, calls = make([], args={'confirm': 'abcdef0123456789'}, monkeypatch=monkeypatch)
    result = plugin.run(task_vars={})
    assert result['failed'] is True and 'set by the vpe_network action plugin' in result['msg'] and calls == []
