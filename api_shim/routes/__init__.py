# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route modules; each has register(shim). One module per resource."""

from ansible_collections.vpe.hypervisor.api_shim.routes import health, quota, usages
from ansible_collections.vpe.hypervisor.api_shim.routes import metrics
from ansible_collections.vpe.hypervisor.api_shim.routes import storage
from ansible_collections.vpe.hypervisor.api_shim.routes import network
from ansible_collections.vpe.hypervisor.api_shim.routes import ui

MODULES = (health, usages, quota, storage, metrics, network, ui)
