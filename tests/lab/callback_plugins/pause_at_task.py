# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab tests only: hold ansible-playbook still right after the first task whose name matches DUO_PAUSE_AT_TASK (a
regular expression) succeeded outside check mode - it writes DUO_PAUSE_FILE + '.paused', then waits until
DUO_PAUSE_FILE exists (at most DUO_PAUSE_SECONDS, default 300) - so a test can run another playbook meanwhile."""

from __future__ import annotations

import os
import re
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: pause_at_task
type: aggregate
short_description: Hold the play still after a named task until a file exists (lab tests only)
description:
  - Right after the first task whose name matches DUO_PAUSE_AT_TASK, writes DUO_PAUSE_FILE.paused and waits until
    DUO_PAUSE_FILE exists, at most DUO_PAUSE_SECONDS (300).
requirements: [enable in the callbacks_enabled setting]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "pause_at_task"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.paused = False

    def v2_runner_on_ok(self, result):
        pattern, marker = os.environ.get("DUO_PAUSE_AT_TASK"), os.environ.get("DUO_PAUSE_FILE")
        task = result._task  # pylint: disable=protected-access
        if self.paused or not pattern or not marker or task.check_mode or not re.search(pattern, task.get_name()):
            return
        self.paused = True
        with open(marker + ".paused", "w", encoding="utf-8") as handle:
            handle.write("{0}\n".format(os.getpid()))
        deadline = time.monotonic() + float(os.environ.get("DUO_PAUSE_SECONDS", "300"))
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
