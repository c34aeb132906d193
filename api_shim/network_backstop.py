"""The shim's backstop for commit-confirmed network changes.

A change the shim arms has a watchdog process of the shim's own (systemd
refuses the service user a transient timer). That process dies when the shim
restarts or the host reboots; this thread then reverts the change: at once
after a reboot, else once its deadline is OVERDUE_SECONDS past
(network_confirm.revert_overdue). It looks at start-up and every INTERVAL
seconds: one small file read.
"""

import logging
import threading

from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network_confirm

INTERVAL = 5.0
log = logging.getLogger('vpe-shim.network')


def start(ctx, interval=INTERVAL):
    """Start the thread; returns the Event that stops it."""
    stop = threading.Event()

    def loop():
        while True:
            try:
                if network_confirm.revert_overdue(ctx):
                    log.warning('reverted an unconfirmed network change whose watchdog was gone')
            except Exception:  # never let it die: the next look may succeed
                log.exception('cannot check the pending network change')
            if stop.wait(interval):
                return

    threading.Thread(target=loop, name='network-backstop', daemon=True).start()
    return stop
