# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of vpe_network: runs the module, and confirms a commit-confirmed
change from a NEW connection.

A confirmation sent over the session that made the change proves nothing: that
session may survive a change that stops any new connection (a firewall on the
new bridge, a switch port that learnt one MAC). So after a run that armed a
watchdog (the module returned `pending`), the connection is reset (SSH: the
ControlPersist master is stopped) and the module runs again with `confirm`
over a fresh one. Connecting is retried until the deadline; if no attempt gets
through, or the host answers that the deadline passed, the task fails saying
the change was not confirmed and is (or will be, at the deadline) rolled back.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.vpe.hypervisor.plugins.plugin_utils.worker_heap import freeze_inherited_heap

display = Display()

MODULE = 'vpe.hypervisor.vpe_network'
RETRY_PAUSE = 3  # seconds between attempts to connect again
# what the confirming run needs of the task's options
CONFIRM_KEYS = ('uri', 'state_dir')


def timeout_seconds(value):
    """A confirm_timeout as whole seconds; 0 (no confirmation) when unset.
    A value that is not a number is left for the module to refuse."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    MODULE = MODULE  # the module the task runs (vpe_host's plugin runs vpe_host, and confirms with vpe_network)

    def _confirm_timeout(self, args):
        return timeout_seconds(args.get('confirm_timeout'))

    def run(self, tmp=None, task_vars=None):
        freeze_inherited_heap()  # before the payload is built (plugin_utils/worker_heap)
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # not used since Ansible 2.5
        args = dict(self._task.args)
        if args.get('confirm'):
            result.update(failed=True, msg='confirm is set by the vpe_network action plugin itself; do not give it')
            return result
        try:
            result.update(self._execute_module(module_name=self.MODULE, module_args=args, task_vars=task_vars))
        except AnsibleConnectionFailure as exc:
            timeout = self._confirm_timeout(args)
            if not timeout or self._play_context.check_mode:
                raise
            # the change itself may have cut us off (SSH keepalives gave up before the module answered)
            result.update(failed=True, msg='the network change was not confirmed: the connection to the host was lost '
                          'while the change ran (%s); if the host made the change, it rolls it back by itself within '
                          '%d s of its start, after which it is reachable on its old path' % (exc, timeout))
            return result
        pending = result.get('pending')
        if result.get('failed') or not pending or self._play_context.check_mode:
            return result
        # the host's own count, so clocks need not agree; a few seconds were spent getting the answer back
        deadline = time.monotonic() + int(pending.get('expires_in') or 0)
        confirm_args = dict((k, args[k]) for k in CONFIRM_KEYS if args.get(k) is not None)
        confirm_args['confirm'] = pending['id']
        answer, error = self._confirm(confirm_args, deadline, task_vars)
        if answer is not None:
            result['pending'] = answer.get('pending', pending)
            return result
        result['failed'] = True
        if isinstance(error, dict):  # the host answered, and refused (the deadline passed, the change reverted)
            result['pending'] = error.get('pending', pending)
            result['status'] = error.get('status')
            result['msg'] = ('the network change was not confirmed: %s' % error.get('msg', 'the confirming run failed'))
        else:
            result['msg'] = ('the network change was not confirmed: no new connection reached the host before the '
                             'deadline (%s); the host rolls it back by itself at %s (host time), after which it is '
                             'reachable on its old path' % (error, pending.get('deadline')))
        return result

    def _new_connection(self):
        """Drop the connection the change was made over; the next command opens another."""
        try:
            self._connection.reset()
        except Exception as exc:  # a connection plugin without reset: closing is as good
            display.vvv('vpe_network: reset failed (%s), closing the connection' % exc)
        try:
            self._connection.close()
        except Exception:
            pass

    def _confirm(self, confirm_args, deadline, task_vars):
        """(module result, None) once confirmed; (None, refusal dict or connection error text) otherwise."""
        last = 'no attempt made'
        while True:
            self._new_connection()
            try:
                answer = self._execute_module(module_name=MODULE, module_args=dict(confirm_args), task_vars=task_vars)
            except AnsibleError as exc:  # unreachable (AnsibleConnectionFailure) and kin
                last = str(exc)
            else:
                if answer.get('unreachable'):
                    last = answer.get('msg', 'unreachable')
                elif answer.get('failed'):
                    if 'status' not in answer:  # not our module's answer (no interpreter, a broken pipe)
                        last = answer.get('msg', 'the confirming run failed')
                    else:
                        return None, answer
                else:
                    return answer, None
            if time.monotonic() + RETRY_PAUSE >= deadline:
                return None, last
            display.vvv('vpe_network: confirming failed (%s); trying again' % last)
            time.sleep(RETRY_PAUSE)
