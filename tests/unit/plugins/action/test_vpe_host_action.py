"""vpe_host's action plugin: it runs vpe_host, and a bridge change waiting for
confirmation (network.confirm_timeout) is confirmed by a run of vpe_network
over a new connection, with only uri, state_dir and the change's id; a lost
connection names the network part's timeout."""

from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.vpe.hypervisor.plugins.action import vpe_host as host_action
from ansible_collections.vpe.hypervisor.plugins.action import vpe_network as network_action

PENDING = {'id': 'abcdef0123456789', 'status': 'pending', 'expires_in': 30, 'deadline': '2026-12-03 09:00:00'}
ARGS = {'state_dir': '/var/lib/vpe', 'quota': {'cpu_max': 8},
        'network': {'bridge': 'br101', 'bridge_interface': 'ens3', 'confirm_timeout': 60}}


class FakeConnection:
    def __init__(self):
        self.resets = 0
        self._shell = SimpleNamespace(tmpdir='/tmp/x')

    def reset(self):
        self.resets += 1

    def close(self):
        pass


def make(answers, monkeypatch, args=None, check_mode=False):
    task = SimpleNamespace(args=dict(args or ARGS), async_val=0, check_mode=check_mode,
                           action='vpe.hypervisor.vpe_host')
    conn = FakeConnection()
    plugin = host_action.ActionModule(task, conn, SimpleNamespace(check_mode=check_mode), None, None)
    calls = []

    def execute(module_name=None, module_args=None, task_vars=None):
        calls.append((module_name, dict(module_args)))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)
    plugin._execute_module = execute
    monkeypatch.setattr(network_action.time, 'sleep', lambda s: None)
    return plugin, conn, calls


def test_a_pending_bridge_change_is_confirmed_by_vpe_network_over_a_new_connection(monkeypatch):
    changed = {'changed': True, 'changed_sections': ['quota', 'network'], 'quota': {'cpu_max': 8},
               'network': {'bridge': 'br101', 'bridge_interface': 'ens3'}, 'pending': PENDING}
    done = dict(PENDING, status='confirmed', expires_in=0)
    plugin, conn, calls = make([changed, {'changed': True, 'pending': done}], monkeypatch)
    result = plugin.run(task_vars={})
    assert not result.get('failed') and result['pending'] == done and result['quota'] == {'cpu_max': 8}
    assert calls[0] == ('vpe.hypervisor.vpe_host', ARGS)
    assert calls[1] == ('vpe.hypervisor.vpe_network', {'state_dir': '/var/lib/vpe', 'confirm': PENDING['id']})
    assert conn.resets == 1


def test_a_lost_connection_names_the_network_parts_timeout(monkeypatch):
    plugin, _conn, calls = make([AnsibleConnectionFailure('Timeout, server 198.19.10.11 not responding.')],
                                monkeypatch)
    result = plugin.run(task_vars={})
    assert result['failed'] is True and 'rolls it back by itself within 60 s' in result['msg']
    assert len(calls) == 1


def test_without_a_network_timeout_a_lost_connection_stays_unreachable(monkeypatch):
    args = {'quota': {'cpu_max': 8}, 'network': {'bridge': 'br101'}}
    plugin, _conn, _calls = make([AnsibleConnectionFailure('gone')], monkeypatch, args=args)
    with pytest.raises(AnsibleConnectionFailure):
        plugin.run(task_vars={})


def test_no_pending_change_runs_the_module_once(monkeypatch):
    plugin, conn, calls = make([{'changed': True, 'changed_sections': ['pools'], 'pools': []}], monkeypatch)
    assert plugin.run(task_vars={})['changed'] is True and len(calls) == 1 and conn.resets == 0
