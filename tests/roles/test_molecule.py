"""`molecule test` of extensions/molecule/default: both roles converge this
machine on the real libvirtd (delegated driver, localhost), a second converge
changes nothing, the units run from their own ExecStart, and verify checks the
result over REST and with vpe_facts. Everything under a temporary root; every
libvirt object and interface is named vpetest-*."""

import os
import subprocess

import pytest

import vpetest
from role_helpers import snapshot_source

pytestmark = [pytest.mark.playbook, pytest.mark.libvirtd, pytest.mark.slow]


def test_molecule_default_scenario(tmp_path):
    root = tmp_path / 'root'
    env = vpetest.ansible_env({
        'PATH': '%s:%s' % (os.path.dirname(vpetest.PYTHON), os.environ.get('PATH', '')),
        'VPE_MOLECULE_ROOT': str(root),
        'VPE_MOLECULE_PORT': str(vpetest.free_port()),
        'VPE_MOLECULE_SOURCE': str(snapshot_source(tmp_path / 'src')),
        'NO_COLOR': '1',
        # molecule's prerun installs the collection under ANSIBLE_HOME: not the user's ~/.ansible,
        # where it would outlive the test and shadow the checkout for later runs (ansible-lint's)
        'ANSIBLE_HOME': str(tmp_path / 'ansible-home'),
    })
    proc = subprocess.run([vpetest.ansible_bin('molecule'), 'test', '-s', 'default'], cwd=str(vpetest.REPO),
                          env=env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-20000:]
    assert 'Idempotence test failed' not in out, out[-20000:]
    assert 'Executed: Failed' not in out, out[-20000:]
    for step in ('converge', 'idempotence', 'side_effect', 'verify', 'cleanup'):
        assert '%s: Executed: Successful' % step in out, out[-20000:]
    # the scenario ran its checks and left nothing running or defined
    assert (root / 'units' / 'vpe-shim.service').is_file()
    assert not (root / 'vpe-shim.pid').exists()
    links = subprocess.run(['ip', '-o', 'link', 'show'], capture_output=True, text=True, check=True).stdout
    assert 'vpetest-mv0' not in links and 'vpetest-mbr' not in links
