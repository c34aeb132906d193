# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of vpe_facts: runs the module as ansible.builtin's normal
action does, after freezing the heap the worker inherited
(plugin_utils/worker_heap: a full garbage collection of it is most of what
building this module's payload costs)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.vpe.hypervisor.plugins.plugin_utils.worker_heap import freeze_inherited_heap


class ActionModule(NormalAction):

    def run(self, tmp=None, task_vars=None):
        freeze_inherited_heap()
        return super(ActionModule, self).run(tmp, task_vars)
