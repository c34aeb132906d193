# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of vpe_host: runs the module, and confirms a commit-confirmed
bridge change (network.confirm_timeout) from a NEW connection, the way
vpe_network's plugin does and with the same confirming run of vpe_network
(its module is only shipped when a bridge change waits for confirmation)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.action.vpe_network import ActionModule as NetworkAction
from ansible_collections.vpe.hypervisor.plugins.action.vpe_network import timeout_seconds


class ActionModule(NetworkAction):

    MODULE = 'vpe.hypervisor.vpe_host'

    def _confirm_timeout(self, args):
        network = args.get('network')
        return timeout_seconds(network.get('confirm_timeout')) if isinstance(network, dict) else 0
