"""network_links reads the links over rtnetlink: the same names, kinds and
masters as `ip -j -d link show` (network_live, what a change reads), and a
read of the network runs no command."""

import subprocess

from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network, network_links, network_live


def _view(state):
    return dict((name, (link.kind, link.master, link.is_bridge)) for name, link in state.links.items())


def test_the_dump_says_what_ip_says():
    ours = network_links.Links.read()
    ip = network_live.LiveState(network_live.LiveState._links(), {}, [])
    assert _view(ours) == _view(ip)
    assert 'lo' in ours.links
    for name in ours.links:
        assert ours.ports(name) == ip.ports(name)


def test_a_read_of_the_network_runs_no_command(test_ctx, monkeypatch):
    def no_command(*args, **kwargs):
        raise AssertionError('a read ran %r' % (args,))
    monkeypatch.setattr(subprocess, 'run', no_command)
    monkeypatch.setattr(subprocess, 'Popen', no_command)
    assert set(test_ctx.run(network.read)) == {'bridge', 'bridge_interface'}
