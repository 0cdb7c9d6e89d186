# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's own ``poetry run troubleshoot`` (private to gitlab_duo.self_hosted): the command line and its
output read as findings. The caller restarts the gateway with the authentication bypass the command needs, and
always restarts it without.

What the command is (``ai_gateway/scripts/troubleshoot_selfhosted_installation.py`` in the gateway's repository,
read at every self-hosted release tag): each passed check prints ``>> ... ✔``; the first failed check raises, so
Python prints a traceback whose LAST lines are the exception and its message (the cause), and exits 1; argparse
refuses an unknown option value with ``troubleshoot: error: ...`` and exit 2. Releases before 17.9 take
``--model-name``; from 17.9 ``--model-family`` accepts only the release's SUPPORTED_MODEL_FAMILIES.

How it is run: never with its options on the exec's command line (``docker inspect`` of the exec and every
process in the container can read that: /proc/<pid>/cmdline), since ``--api-key`` is one of them. The image's
console script ``troubleshoot`` is pyproject.toml's ``[project.scripts] troubleshoot =
"ai_gateway.scripts.troubleshoot_selfhosted_installation:troubleshoot"`` (every release from 17.6), and
``troubleshoot()`` reads its options with ``argparse`` from ``sys.argv``; so ``WRAPPER`` runs in the image's
Python (``poetry run python -c``), reads the options from its standard input, one a line up to an empty line,
sets ``sys.argv`` in-process and does what the console script does: ``sys.exit(troubleshoot())``.
"""

from __future__ import annotations

import json
import re

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import (
    docker_client, exec_with_input, find)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.release import release_tag_version
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import finding, passed
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.gateway_checks import (
    http_post_json_command)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._validation import no_control_characters

OPTIONS = ("endpoint", "model_family", "model_endpoint", "model_identifier", "api_key")
FAILED_MARKS = ("✗", "✘")
# SUPPORTED_MODEL_FAMILIES per gateway release (git log of the script): --model-family arrives in 17.9.0 with four
# families; llama3 in 17.9.3 (17.10.0 was cut without it, 17.10.1 has it); claude_3 removed by fef4b87a1
# (2026-02-25, "remove references to deprecated claude 2/3 models"), first released in 18.10.
FAMILIES_SINCE_17_9 = ("mistral", "mixtral", "gpt", "claude_3")
CLAUDE_3_REMOVED = (18, 10, 0)
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failure|Warning)|Exception)(: ?|$)")
_FRAME_LINE = re.compile(r'^\s+File "|^\s{4}\S|^\s+\^+$')
# The console script's own lines (the image's .venv/bin/troubleshoot), with sys.argv taken from standard input.
WRAPPER = "\n".join((
    "import sys",
    "arguments = []",
    "for line in iter(sys.stdin.readline, ''):",
    "    line = line.rstrip('\\n')",
    "    if not line:",
    "        break",
    "    arguments.append(line)",
    "sys.argv = ['troubleshoot'] + arguments",
    "from ai_gateway.scripts.troubleshoot_selfhosted_installation import troubleshoot",
    "sys.exit(troubleshoot())",
    ""))


def model_families(release):
    """The families ``--model-family`` accepts in gateway ``release`` (major, minor, patch); None before 17.9
    (``--model-name``, free text). ``release`` None (nightly, latest: built from main): the newest list."""
    if release is None:
        release = (99, 0, 0)
    if release < (17, 9, 0):
        return None
    families = list(FAMILIES_SINCE_17_9)
    if (17, 9, 3) <= release < (17, 10, 0) or release >= (17, 10, 1):
        families.append("llama3")
    if release >= CLAUDE_3_REMOVED:
        families.remove("claude_3")
    return families


def image_release(image_ref):
    """(major, minor, patch) of a container's image reference (``repo:self-hosted-vX.Y.Z-ee[@digest]``), or None."""
    ref = (image_ref or "").split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return release_tag_version(last.rsplit(":", 1)[-1]) if ":" in last else None


def arguments(options, release=None):
    """The documented options that are set, as gateway ``release`` spells them (``--name=value``); DuoError for a
    model family that release does not offer, or a value with a control character (one option a line)."""
    families = model_families(release)
    family = options.get("model_family")
    if family and families is not None and family not in families:
        raise DuoError("model_family {0!r} is not offered by this gateway release ({1}): its troubleshoot command "
                       "accepts {2}.{3} Fix: choose one of those.".format(
                           family, "self-hosted-v{0}.{1}.{2}-ee".format(*release) if release else "built from main",
                           ", ".join(families), " claude_3 was removed in 2026-02 (gateway 18.10)."
                           if family == "claude_3" else ""), model_families=families)
    line = []
    for name in OPTIONS:
        if options.get(name):
            if name == "api_key":
                if any(ord(char) < 0x20 or ord(char) == 0x7F for char in options[name]):
                    raise DuoError("api_key contains a control character (newline, tab, ...). Fix: remove it; check "
                                   "for a stray newline from a file lookup (add | trim).", field="api_key")
            else:
                no_control_characters(name, options[name])
            flag = "model-name" if name == "model_family" and families is None and release else name.replace("_", "-")
            line.append("--{0}={1}".format(flag, options[name]))
    return line


def command(options, release=None):
    """(the exec's command line, its standard input): ``WRAPPER`` in the image's Python, the options on stdin."""
    return (["poetry", "run", "python", "-c", WRAPPER],
            "".join(argument + "\n" for argument in arguments(options, release)).encode("utf-8") + b"\n")


def failure_cause(output):
    """The cause of a failed run: the exception a traceback ends with (its line and message, joined), or
    argparse's ``error:`` line; None when the output shows neither."""
    lines = (output or "").splitlines()
    if any(line.startswith("Traceback (most recent call last):") for line in lines):
        start = max(index for index, line in enumerate(lines) if line.startswith("Traceback (most recent call last):"))
        for index in range(len(lines) - 1, start, -1):
            if _EXCEPTION_LINE.match(lines[index]) and not _FRAME_LINE.match(lines[index]):
                message = [lines[index].strip()] + [line.strip() for line in lines[index + 1:]]
                return re.sub(r"\s+", " ", " ".join(part for part in message if part and part != ">>")).strip()
        return lines[-1].strip() or None
    for line in lines:
        if re.match(r"^\S+: error: ", line.strip()):
            return line.strip()
    return None


def parse(output):
    """(passed steps, failed steps): ``>> ... ✔`` lines pass; a failure is the traceback's cause, argparse's
    error, or (older output) a ``>> ... ✗`` line."""
    passed_steps, failed_steps = [], []
    for raw in (output or "").splitlines():
        line = raw.strip()
        if not line.startswith(">>"):
            continue
        text = line[2:].strip()
        if text.endswith("✔"):
            passed_steps.append(text[:-1].strip())
        elif text.endswith(FAILED_MARKS):
            failed_steps.append(text[:-1].strip())
    cause = failure_cause(output)
    if cause:
        failed_steps.append(cause)
    return passed_steps, failed_steps


def findings(exit_code, output):
    # No poetry, no python in the image, or an image without the script (before 17.6): nothing was checked.
    if exit_code in (126, 127, None) or "executable file not found" in (output or "") \
            or "No module named 'ai_gateway" in (output or ""):
        return [finding("gateway.check_could_not_run", "poetry run troubleshoot: could not run: exit code {0}: "
                        "{1}".format(exit_code, (output or "").strip()[-300:]))]
    passed_steps, failed_steps = parse(output)
    if failed_steps or exit_code != 0:
        return [finding("gateway.deep_test_failed", "; ".join(failed_steps)[:600] or "exit code {0}: {1}".format(
            exit_code, (output or "").strip()[-300:]))]
    return [passed("gateway.deep_test", "{0} step(s) passed".format(len(passed_steps)))]


def chat_agent_body(model, model_endpoint):
    """The support playbook's request to the gateway's /v1/chat/agent (check 7.12)."""
    payload = {"content": "Hello", "provider": "litellm", "model": model}
    if model_endpoint:
        payload["model_endpoint"] = model_endpoint
    return json.dumps({"prompt_components": [{"type": "string", "metadata": {"source": "string", "version": "string"},
                                              "payload": payload}], "stream": False})


def chat_agent_findings(exit_code, output, model, model_endpoint):
    if exit_code == 0 and '"response"' in (output or ""):
        return [passed("gateway.model_via_gateway", "/v1/chat/agent answered for model {0}".format(model))]
    return [finding("gateway.model_via_gateway_failed", "model {0!r} at {1!r}: {2}".format(
        model, model_endpoint, (output or "").strip()[:300]))]


def run(params):
    """The gateway_deep_check module's answer: the gateway's own troubleshoot command inside its container, and
    a model answer through /v1/chat/agent when ``model_name`` is given; every output redacted."""
    container = find(docker_client(params["docker_host"]), params["name"])
    if container is None:
        raise DuoError("No container named {0!r}. Fix: install the gateway first.".format(params["name"]))
    argv, options = command(params, image_release(container.attrs["Config"]["Image"]))
    exit_code, raw = exec_with_input(container, argv, options)
    output = redact(raw.decode("utf-8", "replace"), [params["api_key"]])
    found = findings(exit_code, output)
    if params["model_name"]:
        port = (params["endpoint"] or "localhost:5052").rsplit(":", 1)[-1]
        answer = container.exec_run(http_post_json_command(
            "http://127.0.0.1:{0}/v1/chat/agent".format(port),
            chat_agent_body(params["model_name"], params["model_endpoint"])))
        found += chat_agent_findings(answer.exit_code, answer.output.decode("utf-8", "replace"),
                                     params["model_name"], params["model_endpoint"])
    return dict(changed=False, findings=found, output=output)
