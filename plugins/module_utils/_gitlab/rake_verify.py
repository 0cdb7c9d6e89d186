# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading ``gitlab-rake gitlab:duo:verify_self_hosted_setup`` (private to gitlab_duo.self_hosted).

What the task prints (``ee/lib/gitlab/duo/administration/verify_self_hosted_setup.rb``, task in
``ee/lib/tasks/gitlab/duo.rake``): a step heading ("Checking AI Gateway accessibility..."), then lines whose
mark stands at the END (``>> AI Gateway server is accessible ✔``, ``   No self-hosted models configured ⚠``,
``Verifying license access to code suggestions... ✔`` - heading and verdict on one line) or, for the request
flow, at the start (``     ✔ Model endpoint accessible``). A fatal problem (no URL, no license access, gateway
unreachable, unknown user) is a Ruby ``raise``: rake prints ``rake aborted!``, the message (prefixed with the
class unless it is a RuntimeError) and a backtrace on stderr, exits 1, and prints no ``DIAGNOSTIC SUMMARY``.
A healthy or warning run ends with the summary heading, a JSON object, and a note.
"""

from __future__ import annotations

import json
import re

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError

# ⚡: a self-hosted model that is neither GA nor beta (experimental); the task marks it, it is no failure.
MARKS = {"✔": "passed", "✓": "passed", "✗": "failed", "✘": "failed", "⚠": "warning", "⚡": "warning"}
_MARK_AT_END = re.compile(r"\s*([✔✓✗✘⚠⚡])\s*$")
_MARK_AT_START = re.compile(r"^([✔✓✗✘⚠⚡])\s*")
_SUMMARY_HEADING = re.compile(r"DIAGNOSTIC SUMMARY")
_RULE = re.compile(r"^[═=\-─]{3,}$")
# Where rake's message ends: a backtrace line, its task chain, its hint.
_BACKTRACE = re.compile(r"^(/|\S+\.rb:\d+|\S+:\d+:in |Tasks: TOP|\(See full trace)")


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


def abort_cause(stderr):
    """The message rake printed after ``rake aborted!`` (the raised exception), or None."""
    lines = (stderr or "").splitlines()
    for index, line in enumerate(lines):
        if line.strip() == "rake aborted!":
            message = []
            for raw in lines[index + 1:]:
                if _BACKTRACE.match(raw.strip()):
                    break
                message.append(raw.strip())
            return " ".join(part for part in message if part) or "(no message)"
    return None


def _check(line):
    """(status, text) for a line carrying a mark at its end or start, else None."""
    match = _MARK_AT_END.search(line) or _MARK_AT_START.match(line)
    if not match:
        return None
    text = (line[:match.start()] if match.re is _MARK_AT_END else line[match.end():]).strip()
    if text.startswith(">>"):
        text = text[2:].strip()
    return MARKS[match.group(1)], text


def parse(output, stderr=None, exit_code=0):
    """{'checks': [...], 'summary': dict|None, 'counts': {...}, 'aborted': bool, 'cause': str|None}.

    ``aborted``: the task stopped before its summary - ``rake aborted!`` on stderr, or a non-zero exit with no
    summary; ``cause`` is the raised message (or the last output lines when rake printed none).
    """
    lines = (output or "").splitlines()
    checks, section, summary = [], None, None
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if _SUMMARY_HEADING.search(line):
            summary = _summary(lines, index)
            break
        if _RULE.match(line):
            continue
        found = _check(line)
        if found is None:
            # A step heading stands at the line's start ("Checking AI Gateway accessibility..."); indented lines
            # and ">>" lines are details of the step.
            if not raw[:1].isspace() and not line.startswith((">>", "`", "{", "}", "[", "]", '"')):
                section = line.rstrip(".").strip()
            continue
        status, text = found
        if text.endswith("..."):  # "Verifying license access to code suggestions... ✔": a step and its verdict
            section = text = text.rstrip(".").strip()
        checks.append({"section": section, "status": status, "text": text})
    counts = {status: sum(1 for check in checks if check["status"] == status) for status in ("passed", "failed", "warning")}
    cause = abort_cause(stderr)
    aborted = cause is not None or (exit_code not in (0, None) and summary is None)
    if aborted and cause is None:
        tail = [line.strip() for line in ((stderr or "").strip() or (output or "")).splitlines() if line.strip()]
        cause = "exit code {0}: {1}".format(exit_code, " | ".join(tail[-3:]) or "(no output)")
    return {"checks": checks, "summary": summary, "counts": counts, "aborted": aborted, "cause": cause}


def run(params, run_command):
    """The gitlab_duo_verify module's answer: the task run once and read; DuoError (with the reading) when it
    printed nothing it could read, or when it aborted or found failures and ``fail_on_failed`` is set."""
    command = params["rake_command"] + [task_name(params["user"])]
    rc, stdout, stderr = run_command(command)
    result = parse(stdout, stderr, rc)
    result.update(exit_code=rc, changed=False,
                  ok=not result["aborted"] and result["counts"]["failed"] == 0 and bool(result["checks"]))
    if not result["checks"] and not result["aborted"]:
        raise DuoError("`{0}` printed no ✔/✗/⚠ lines (exit code {1}). Fix: check rake_command and that this "
                       "GitLab version has the task. Output: {2}".format(" ".join(command), rc,
                                                                         (stderr or stdout)[-500:]), **result)
    if params["fail_on_failed"] and result["aborted"]:
        raise DuoError("GitLab's Duo verification stopped (rake aborted): " + result["cause"], **result)
    if params["fail_on_failed"] and result["counts"]["failed"]:
        failed = "; ".join(check["text"] for check in result["checks"] if check["status"] == "failed")
        raise DuoError("GitLab's Duo verification failed: " + failed, **result)
    return result
