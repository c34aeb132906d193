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


def test_a_record_names_only_our_profiles_and_files_others_are_left_alone(monkeypatch, tmp_path):
    """The record is the shim's to write and a root boot unit reads it: it cannot
    make root write any other file or touch any other NetworkManager profile."""
    ran = []
    monkeypatch.setattr(network_revert, 'run', lambda argv: ran.append(argv) or '')
    errors = network_revert.restore_nmcli({'nmcli': {'Wired connection 1': None}})
    assert ran == [] and errors == ['nmcli profile Wired connection 1: not one vpe_network writes; left alone']

    root = str(tmp_path)
    ours = network_persist.path_in(root, 'etc/network/interfaces.d/vpe-bridge')
    theirs = network_persist.path_in(root, 'etc/sudoers.d/vpe')
    sneaky = network_persist.path_in(root, 'etc/systemd/network/../../sudoers.d/10-vpe-bridge.network')
    doc = {'files': {ours: 'auto br100\n', theirs: 'ALL ALL=(ALL) NOPASSWD: ALL\n', sneaky: 'x\n'}}
    errors = network_revert.restore_files(doc, root)
    assert open(ours).read() == 'auto br100\n'
    assert not (tmp_path / 'etc' / 'sudoers.d').exists()
    assert sorted(errors) == sorted('restore %s: not a file vpe_network writes under %s; left alone' % (p, root)
                                    for p in (theirs, sneaky))
    # under another root nothing of ours is allowed either: the boot units pass /
    assert network_revert.restore_files({'files': {ours: 'x\n'}}, str(tmp_path / 'elsewhere'))[0].startswith(
        'restore %s: not a file' % ours)
    assert open(ours).read() == 'auto br100\n'
