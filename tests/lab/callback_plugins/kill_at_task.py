# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab tests only: kill ansible-playbook (SIGKILL, no always: block runs) right after a task whose name matches
DUO_KILL_AT_TASK (a regular expression) succeeded outside check mode, as a lost control node would."""

from __future__ import annotations

import os
import re
import signal

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: kill_at_task
type: aggregate
short_description: Kill the play after a named task (lab tests only)
description: Sends SIGKILL to ansible-playbook right after the first task whose name matches DUO_KILL_AT_TASK.
requirements: [enable in the callbacks_enabled setting]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "kill_at_task"
    CALLBACK_NEEDS_ENABLED = True

    def v2_runner_on_ok(self, result):
        pattern = os.environ.get("DUO_KILL_AT_TASK")
        task = result._task  # pylint: disable=protected-access
        if pattern and re.search(pattern, task.get_name()) and not task.check_mode:
            os.kill(os.getpid(), signal.SIGKILL)
