"""A configuration change through the api_shim role restarts the shim by its
handler, and the next request sees it: a new read token is accepted."""

import json
import os
import secrets

import labtier as lab

PLAYBOOK = """- name: Change the shim's tokens through the role
  hosts: hv1
  become: true
  roles:
    - role: vpe.hypervisor.api_shim
"""


def shim_pid(host):
    return lab.ssh(host, 'systemctl show -P MainPID vpe-shim').strip()


def run_role(name, tokens):
    path = os.path.join(lab.OUT, 'shim-role.yml')
    with open(path, 'w') as handle:
        handle.write(PLAYBOOK)
    extra = os.path.join(lab.OUT, name + '-vars.json')
    with open(extra, 'w') as handle:
        json.dump({'api_shim_tokens': tokens}, handle)
    return lab.playbook(name, path, '-e', '@' + extra)


def test_token_change_restarts_the_shim_by_its_handler_and_the_next_request_sees_it():
    toks = lab.tokens()
    base = [{'scope': 'admin', 'token': toks['admin']}, {'scope': 'read', 'token': toks['read']}]
    extra = secrets.token_hex(16)
    assert lab.curl('hv1', '/hypervisor/usages', token=extra)[0] == 401
    pid = shim_pid('hv1')
    rc, recap, log = run_role('shim-change', base + [{'scope': 'read', 'token': extra}])
    try:
        assert rc == 0, log[-4000:]
        assert recap['hv1']['changed'] >= 1
        assert 'RUNNING HANDLER [vpe.hypervisor.api_shim : Restart vpe-shim]' in log
        assert shim_pid('hv1') not in (pid, '0')
        status, body = lab.curl('hv1', '/hypervisor/usages', token=extra)
        assert status == 200, body
    finally:
        rc, recap, log = run_role('shim-restore', base)
    assert rc == 0, log[-4000:]
    assert lab.curl('hv1', '/hypervisor/usages', token=extra)[0] == 401
    assert lab.curl('hv1', '/hypervisor/usages', token=toks['read'])[0] == 200
