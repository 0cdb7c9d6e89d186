# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's own ``poetry run troubleshoot`` (private to gitlab_duo.self_hosted): the command line and its
``>> ... ✔`` lines read as findings. The caller restarts the gateway with the authentication bypass the
command needs, and always restarts it without."""

from __future__ import annotations

import json

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import docker_client, find
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._redaction import redact
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import finding, passed
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.gateway_checks import (
    http_post_json_command)

OPTIONS = ("endpoint", "model_family", "model_endpoint", "model_identifier", "api_key")
FAILED_MARKS = ("✗", "✘")


def command(options):
    """``poetry run troubleshoot`` with the documented options that are set."""
    line = ["poetry", "run", "troubleshoot"]
    for name in OPTIONS:
        if options.get(name):
            line.append("--{0}={1}".format(name.replace("_", "-"), options[name]))
    return line


def parse(output):
    """(passed steps, failed steps) from the ``>>`` lines."""
    passed_steps, failed_steps = [], []
    for raw in (output or "").splitlines():
        line = raw.strip()
        if not line.startswith(">>"):
            if "Traceback" in line or line.startswith("ERROR"):
                failed_steps.append(line)
            continue
        text = line[2:].strip()
        if text.endswith("✔"):
            passed_steps.append(text[:-1].strip())
        elif text.endswith(FAILED_MARKS):
            failed_steps.append(text[:-1].strip())
    return passed_steps, failed_steps


def findings(exit_code, output):
    passed_steps, failed_steps = parse(output)
    if failed_steps or (exit_code != 0 and not passed_steps):
        return [finding("gateway.deep_test_failed", "; ".join(failed_steps) or "exit code {0}: {1}".format(
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
    result = container.exec_run(command(params))
    output = redact(result.output.decode("utf-8", "replace"), [params["api_key"]])
    found = findings(result.exit_code, output)
    if params["model_name"]:
        port = (params["endpoint"] or "localhost:5052").rsplit(":", 1)[-1]
        answer = container.exec_run(http_post_json_command(
            "http://127.0.0.1:{0}/v1/chat/agent".format(port),
            chat_agent_body(params["model_name"], params["model_endpoint"])))
        found += chat_agent_findings(answer.exit_code, answer.output.decode("utf-8", "replace"),
                                     params["model_name"], params["model_endpoint"])
    return dict(changed=False, findings=found, output=output)
