# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quota: how many vCPUs and MiB of memory may be allocated on this host.

Stored in the host state under "quota". A value never set is the host's own
size as libvirt reports it. Once a value is applied it is kept as given, even
when it equals the host's size, so adding RAM later does not move a quota an
operator chose.

`enforce` (off, running, defined) says whether a libvirt hook refuses domain
starts beyond the quota (quota_hook_program); `enforced` whether that hook is
in place for this state dir and libvirtd has taken it in (read-only).

Changing it is quota_apply.apply: a read (vpe_facts on every host, each GET)
imports and compiles none of the change code.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_hook
from ansible_collections.vpe.hypervisor.plugins.module_utils.quota.allocation import host_size

RESOURCE = 'quota'
STATE_KEY = 'quota'  # its section in the state store (a route's KEY is its JSON envelope)


def effective(stored, host):
    return {
        'cpu_max': stored.get('cpu_max', host['cpus']),
        'memory_max_mb': stored.get('memory_max_mb', host['memory_mb']),
        'enforce': stored.get('enforce', 'off'),
    }


def read(ctx, hooks_dir=quota_hook.HOOKS_DIR):
    stored = ctx.store.read().get(STATE_KEY, {})
    quota = effective(stored, host_size(ctx))
    quota['enforced'] = quota_hook.enforced(ctx.store.state_dir, quota['enforce'], hooks_dir)
    return quota
