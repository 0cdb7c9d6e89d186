# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading ``gitlab-rake gitlab:duo:verify_self_hosted_setup`` (private to gitlab_duo.self_hosted).

The task prints sections of ✔/✗/⚠ lines and, in newer releases, a ``DIAGNOSTIC SUMMARY`` JSON
block, and exits non-zero only for some failures: the marks are the truth, not the exit code.
"""

from __future__ import annotations

import json
import re

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

MARKS = {"✔": "passed", "✓": "passed", "✗": "failed", "✘": "failed", "⚠": "warning"}
_SUMMARY_HEADING = re.compile(r"DIAGNOSTIC SUMMARY")


def task_name(user=None):
    return "gitlab:duo:verify_self_hosted_setup[{0}]".format(user) if user else "gitlab:duo:verify_self_hosted_setup"


def _summary(lines, start):
    """The JSON object that follows the summary heading, or None."""
    text = "\n".join(lines[start + 1:])
    begin = text.find("{")
    if begin < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(text[begin:])[0]
    except ValueError:
        return None


def parse(output):
    """{'checks': [...], 'summary': dict|None, 'counts': {'passed': n, 'failed': n, 'warning': n}}."""
    lines = (output or "").splitlines()
    checks, section, summary = [], None, None
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if _SUMMARY_HEADING.search(line):
            summary = _summary(lines, index)
            break
        mark = line[0]
        if mark in MARKS:
            checks.append({"section": section, "status": MARKS[mark], "text": line[1:].strip()})
        elif not line.startswith(("=", "-", "{", "}")):
            section = line
    counts = {status: sum(1 for check in checks if check["status"] == status) for status in ("passed", "failed", "warning")}
    return {"checks": checks, "summary": summary, "counts": counts}


def run(params, run_command):
    """The gitlab_duo_verify module's answer: the task run once and read; DuoError (with the reading) when it
    printed no marks, or when it found failures and ``fail_on_failed`` is set."""
    command = params["rake_command"] + [task_name(params["user"])]
    rc, stdout, stderr = run_command(command)
    result = parse(stdout)
    result.update(exit_code=rc, ok=result["counts"]["failed"] == 0 and bool(result["checks"]), changed=False)
    if not result["checks"]:
        raise DuoError("`{0}` printed no ✔/✗/⚠ lines (exit code {1}). Fix: check rake_command and that this "
                       "GitLab version has the task. Output: {2}".format(" ".join(command), rc,
                                                                         (stderr or stdout)[-500:]), **result)
    if params["fail_on_failed"] and result["counts"]["failed"]:
        failed = "; ".join(check["text"] for check in result["checks"] if check["status"] == "failed")
        raise DuoError("GitLab's Duo verification failed: " + failed, **result)
    return result
