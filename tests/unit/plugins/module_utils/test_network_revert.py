"""network_revert's nmcli restore, with the nmcli command replaced: a profile
that did not exist is deleted, one that did gets back only the settings
network_persist sets (the rest of `nmcli connection show` is read-only)."""

from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_persist, network_revert


def test_nmcli_restore_deletes_new_profiles_and_sets_back_only_our_keys(monkeypatch):
    ran = []
    monkeypatch.setattr(network_revert, 'run', lambda argv: ran.append(argv) or '')
    shown = network_persist.parse_nmcli_show(
        'connection.id:vpe-bridge\nconnection.uuid:1b2c\nconnection.interface-name:br100\n'
        'bridge.stp:no\nipv4.method:manual\nipv4.addresses:198.19.10.11/24\nipv4.gateway:198.19.10.1\n'
        'ipv6.method:ignore\nipv6.gateway:--\nGENERAL.STATE:activated\n')
    errors = network_revert.restore_nmcli({'nmcli': {'vpe-bridge': shown, 'vpe-bridge-port': None}})
    assert errors == []
    assert ran == [
        ['nmcli', 'connection', 'modify', 'vpe-bridge', 'bridge.stp', 'no', 'connection.interface-name', 'br100',
         'ipv4.addresses', '198.19.10.11/24', 'ipv4.gateway', '198.19.10.1', 'ipv4.method', 'manual',
         'ipv6.gateway', '', 'ipv6.method', 'ignore'],
        ['nmcli', 'connection', 'delete', 'vpe-bridge-port'],
    ]
