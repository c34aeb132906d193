"""A configuration change through the api_shim role reaches the running shim by
its handler, and the next request sees it: a change to the unit (the worker
threads) restarts the shim, a new token only reloads it (SIGHUP), and the
new read token is accepted at once."""

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


def run_role(name, tokens, threads=None):
    path = os.path.join(lab.OUT, 'shim-role.yml')
    with open(path, 'w') as handle:
        handle.write(PLAYBOOK)
    extra = os.path.join(lab.OUT, name + '-vars.json')
    with open(extra, 'w') as handle:
        extra_vars = {'api_shim_tokens': tokens}
        if threads:
            extra_vars['api_shim_threads'] = threads
        json.dump(extra_vars, handle)
    return lab.playbook(name, path, '-e', '@' + extra)


# What the role run changes, saved before and put back after: a second role run
# would cost minutes on the lab's TCG hosts and prove nothing more.
CHANGED_FILES = ('/etc/vpe/tokens', '/etc/systemd/system/vpe-shim.service')
SAVE = 'for f in %s; do cp -a "$f" "$f.lab-saved"; done' % ' '.join(CHANGED_FILES)
RESTORE = ('for f in %s; do mv -f "$f.lab-saved" "$f"; done; systemctl daemon-reload; systemctl restart vpe-shim'
           % ' '.join(CHANGED_FILES))


def test_unit_and_token_change_reach_the_shim_by_their_handlers_and_the_next_request_sees_them():
    toks = lab.tokens()
    base = [{'scope': 'admin', 'token': toks['admin']}, {'scope': 'read', 'token': toks['read']}]
    extra = secrets.token_hex(16)
    assert lab.curl('hv1', '/hypervisor/usages', token=extra)[0] == 401
    pid = shim_pid('hv1')
    lab.sudo('hv1', SAVE)
    rc, recap, log = run_role('shim-change', base + [{'scope': 'read', 'token': extra}], 6)
    try:
        assert rc == 0, log[-4000:]
        assert recap['hv1']['changed'] >= 1
        assert 'RUNNING HANDLER [vpe.hypervisor.api_shim : Restart vpe-shim]' in log
        assert 'RUNNING HANDLER [vpe.hypervisor.api_shim : Reload vpe-shim]' in log
        assert shim_pid('hv1') not in (pid, '0')
        assert '--threads 6 ' in lab.ssh('hv1', 'systemctl show -P ExecStart vpe-shim')
        status, body = lab.curl('hv1', '/hypervisor/usages', token=extra)
        assert status == 200, body
    finally:
        lab.sudo('hv1', RESTORE)
    lab.wait_until('the shim back with the saved files', lambda: lab.curl('hv1', '/healthz')[0] == 200,
                   timeout=60, interval=2)
    assert lab.curl('hv1', '/hypervisor/usages', token=extra)[0] == 401
    assert lab.curl('hv1', '/hypervisor/usages', token=toks['read'])[0] == 200
