# Copyright: linuxnet.container_network developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: wall time and `changed` of every task, written as JSON.

Enabled by bench/methods.py with ANSIBLE_CALLBACKS_ENABLED=linuxnet_bench_timer; the
output file is named by LINUXNET_BENCH_TIMER_OUT.  (ansible.posix.profile_tasks would do
the timing, but no galaxy content can be installed here.)  The results of the tasks whose
action is listed in LINUXNET_BENCH_TIMER_RESULTS (comma-separated) are kept too, so the
benchmark can check what a module returned (network_info) without another task.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
    name: linuxnet_bench_timer
    type: aggregate
    short_description: per-task duration and changed, for bench/run.py
    description:
      - Writes a JSON list of tasks (name, action, duration, changed, status) to the file named by LINUXNET_BENCH_TIMER_OUT.
      - Tasks whose action is listed in LINUXNET_BENCH_TIMER_RESULTS also get their result.
    requirements:
      - enable in configuration
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'linuxnet_bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._start = {}
        self._tasks = []
        self._t0 = time.perf_counter()

    def _begin(self, task):
        self._start[task._uuid] = time.perf_counter()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._begin(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._begin(task)

    def _end(self, result, status):
        task = getattr(result, 'task', None) or result._task
        res = getattr(result, 'result', None)
        if not isinstance(res, dict):
            res = getattr(result, '_result', {}) or {}
        t1 = time.perf_counter()
        t0 = self._start.get(task._uuid, t1)
        action = getattr(task, 'resolved_action', None) or task.action
        rec = {
            'name': task.get_name(), 'action': action, 'duration': t1 - t0,
            'changed': bool(res.get('changed', False)), 'status': status,
        }
        if action in os.environ.get('LINUXNET_BENCH_TIMER_RESULTS', '').split(','):
            rec['result'] = res
        self._tasks.append(rec)

    def v2_runner_on_ok(self, result, **kwargs):
        self._end(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._end(result, 'failed')

    def v2_runner_on_skipped(self, result, **kwargs):
        self._end(result, 'skipped')

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._end(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        out = os.environ.get('LINUXNET_BENCH_TIMER_OUT')
        if not out:
            return
        with open(out, 'w') as f:
            json.dump({'tasks': self._tasks, 'playbook_seconds': time.perf_counter() - self._t0}, f,
                      indent=1, default=str)
