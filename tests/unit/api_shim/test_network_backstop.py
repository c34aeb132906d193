"""The shim's backstop reverts a pending network change whose watchdog is gone:
at once when the record was armed in another boot, after its deadline plus
OVERDUE_SECONDS otherwise, and never one armed in this boot before then."""

import json
import os
import stat
import time

from ansible_collections.vpe.hypervisor.api_shim import network_backstop
from ansible_collections.vpe.hypervisor.plugins.module_utils.core.context import Context
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_pending


def pending_record(state_dir, **extra):
    doc = {'id': '0123456789abcdef', 'status': 'pending', 'created': time.time(), 'timeout': 600,
           'deadline': time.time() + 600, 'boot_id': network_pending.boot_id(), 'files': {}, 'live': None}
    doc.update(extra)
    network_pending.save(state_dir, doc)


def wait_status(state_dir, status, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        doc = network_pending.load(state_dir)
        if doc['status'] == status:
            return doc
        time.sleep(0.05)
    return network_pending.load(state_dir)


def test_backstop_reverts_after_a_reboot_and_overdue_but_not_a_waiting_change(tmp_path):
    state_dir = str(tmp_path)
    ctx = Context(uri='test:///default', state_dir=state_dir)
    pending_record(state_dir)
    # group-readable: in the role's state dir a record root writes must stay readable by the shim's group
    assert stat.S_IMODE(os.stat(network_pending.path(state_dir)).st_mode) == 0o640
    stop = network_backstop.start(ctx, interval=0.1)
    try:
        time.sleep(0.5)
        assert network_pending.load(state_dir)['status'] == 'pending'  # its watchdog runs: hands off

        pending_record(state_dir, boot_id='another-boot')
        doc = wait_status(state_dir, 'reverted')
        assert doc['status'] == 'reverted' and doc['revert_reason'] == 'reboot', doc

        pending_record(state_dir, deadline=time.time() - 60)
        doc = wait_status(state_dir, 'reverted')
        assert doc['status'] == 'reverted' and doc['revert_reason'] == 'overdue', doc
        assert json.loads(json.dumps(doc))
    finally:
        stop.set()
        ctx.close()
