# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: write every task result, in order, as JSON to $LINUXNET_RESULTS."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: linuxnet_results
type: aggregate
short_description: write task results to a JSON file (tests only)
description: Writes the list of task results to the file named by LINUXNET_RESULTS.
'''


def _rescued(task):
    """Whether the task is in the ``block:`` part of a block that has a ``rescue:``
    (its failure is handled by the play, which goes on: not a failed run)."""
    child, parent = task, getattr(task, '_parent', None)
    while parent is not None:
        if getattr(parent, 'rescue', None) and any(
                getattr(t, '_uuid', None) == child._uuid for t in parent.block or ()):
            return True
        child, parent = parent, getattr(parent, '_parent', None)
    return False


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'linuxnet_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.results = []

    def _add(self, result, status):
        data = dict(result._result)
        data['_status'] = status
        data['_task'] = result._task.get_name()
        self.results.append(json.loads(json.dumps(data, default=str)))

    def v2_runner_on_ok(self, result):
        self._add(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result, 'rescued' if not ignore_errors and _rescued(result._task) else 'failed')

    def v2_runner_on_skipped(self, result):
        self._add(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._add(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('LINUXNET_RESULTS')
        if path:
            with open(path, 'w') as f:
                json.dump(self.results, f)
