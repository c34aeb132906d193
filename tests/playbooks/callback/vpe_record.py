# -*- coding: utf-8 -*-
# Copyright: vpe.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: every task result, by task name and host, written as
JSON to $VPE_RECORD_FILE when the run ends (ansible.posix.json is not part
of ansible-core)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: vpe_record
type: aggregate
short_description: record task results for tests
description: Writes every task result to the file named by VPE_RECORD_FILE.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'vpe_record'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.results = {}

    def _record(self, result, status):
        entry = dict(self._convert_to_json_friendly(result._result), _status=status)
        self.results.setdefault(result._task.get_name(), {})[result._host.get_name()] = entry

    def _convert_to_json_friendly(self, value):
        return json.loads(json.dumps(value, default=str))

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_playbook_on_stats(self, stats):
        with open(os.environ['VPE_RECORD_FILE'], 'w') as handle:
            json.dump(self.results, handle)
