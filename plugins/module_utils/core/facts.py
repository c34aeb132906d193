# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sections of ansible_facts.vpe, each one service's read()."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota, usage
from ansible_collections.vpe.hypervisor.plugins.module_utils.storage import image_pool, pools
from ansible_collections.vpe.hypervisor.plugins.module_utils.network import network
from ansible_collections.vpe.hypervisor.plugins.module_utils.metrics import metrics

# Fact key -> the service read that fills it, in the order they are gathered.
SECTIONS = (
    ('usages', usage.read),
    ('quota', quota.read),
    ('network', network.read),
    ('image_pool', image_pool.read),
    ('pools', pools.read),
    ('metrics', metrics.read),
)

SECTION_NAMES = [name for name, _read in SECTIONS]


def gather(ctx, names=None):
    wanted = set(names or SECTION_NAMES)
    return dict((name, ctx.run(read)) for name, read in SECTIONS if name in wanted)
