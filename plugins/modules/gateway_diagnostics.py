#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_diagnostics
short_description: Diagnose the AI Gateway on its host - container, environment, image, reachability, logs
version_added: 0.1.0
description:
  - Runs every gateway-side check of GitLab's troubleshooting pages and support playbook and returns
    C(findings) - id, severity (critical, warning, info, ok), title, evidence (secrets redacted), likely cause,
    remedy and source - from the collection's catalogue.
  - Container state, restarts and OOM kills; the C(AIGW_*) environment (custom models on, GitLab URL matching the
    instance, API URL set, authentication bypass off, JWT keys present, proxies with C(NO_PROXY), the OIDC portal
    URL); the image tag against the instance's GitLab version (skew) and the host's platform; from inside the
    container - healthz, GitLab's API, the CA bundle files, C(/tmp) and C(HF_HOME) writable, the model endpoints;
    the model endpoint formats (OpenAI-compatible ends in C(/v1), Bedrock C(bedrock/<region>.<model-id>)); the
    container log classified by the catalogue's rules.
  - Changes nothing.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.docker
  - gitlab_duo.self_hosted.docker.gateway
  - gitlab_duo.self_hosted.attributes.read_only
options:
  gitlab_url:
    description: URL of the instance the gateway serves (compared with C(AIGW_GITLAB_URL)).
    type: str
  gitlab_version:
    description: The instance's GitLab version (the image tag must match its major.minor).
    type: str
  model_endpoints:
    description:
      - Models the gateway uses - C(kind) (V(openai) for OpenAI-compatible/vLLM, V(bedrock)), C(url), C(identifier).
    type: list
    elements: dict
    default: []
  log_lines:
    description: How many of the container's last log lines to classify.
    type: int
    default: 500
  inside_checks:
    description: Run the checks that execute commands inside the container.
    type: bool
    default: true
  collect_excerpts:
    description: Also return the redacted environment and log excerpt for a support bundle (RV(excerpts)).
    type: bool
    default: false
  restored_auth_bypass:
    description: The caller has just restored a gateway an interrupted deep test left bypassing authentication
      (reported as C(gateway.auth_bypass_restored)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Diagnose the gateway
  gitlab_duo.self_hosted.gateway_diagnostics:
    gitlab_url: https://gitlab.example.com
    gitlab_version: 18.2.1-ee
    model_endpoints:
      - kind: openai
        url: http://vllm.internal:8000/v1
  register: gateway_diag
"""

RETURN = r"""
findings:
  description: One entry per check - id, severity, title, evidence, cause, remedy, doc (and count for log rules).
  returned: always
  type: list
  elements: dict
worst:
  description: The most severe finding's severity.
  returned: always
  type: str
  sample: warning
excerpts:
  description: File name to text - C(environment.txt) (secrets masked), C(gateway.log) (redacted), C(image.txt).
  returned: when O(collect_excerpts=true) and the container exists
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils import _gateway_checks as checks
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._containers import (
    DOCKER_HOST_OPTION, GATEWAY_NAME_OPTION, docker_client, find)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import DuoError
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._findings import finding, worst
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway_env import mask_env
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._jwt_keys import JWT_KEY_VARIABLES
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._log_rules import redact
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._versions import parse_gitlab_version


def excerpts(container, env, log_tail):
    masked = mask_env(env, tuple(JWT_KEY_VARIABLES))
    return {"environment.txt": "".join("{0}={1}\n".format(key, value) for key, value in masked.items()),
            "gateway.log": "".join(redact(line) + "\n" for line in log_tail),
            "image.txt": "{0}\n{1}\n".format(container.attrs["Config"]["Image"], container.attrs["Image"])}


def diagnose(client, params, collected):
    container = find(client, params["name"])
    if container is None:
        return [finding("gateway.container_missing", "no container named {0!r}".format(params["name"]))]
    attrs = container.attrs
    log_tail = container.logs(tail=params["log_lines"]).decode("utf-8", "replace").splitlines()
    env = checks.container_env(attrs)
    version = parse_gitlab_version(params["gitlab_version"]) if params["gitlab_version"] else None
    image = client.images.get(attrs["Image"])
    found = checks.state_findings(attrs, log_tail[-20:])
    found += checks.env_findings(env, params["gitlab_url"], attrs["HostConfig"].get("NetworkMode"),
                                 params["model_endpoints"])
    found += checks.image_findings(attrs["Config"]["Image"], version, image.attrs.get("Architecture"),
                                   client.info().get("Architecture"))
    found += checks.model_endpoint_findings(params["model_endpoints"])
    if params["inside_checks"] and attrs["State"].get("Running"):
        def run(command):
            result = container.exec_run(command)
            return result.exit_code, result.output.decode("utf-8", "replace")
        found += checks.inside_findings(run, env, params["gitlab_url"])
        found += checks.model_reachability(run, params["model_endpoints"])
    found += checks.log_findings(log_tail)
    if params["collect_excerpts"]:
        collected.update(excerpts(container, env, log_tail))
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=GATEWAY_NAME_OPTION,
            gitlab_url=dict(type="str"),
            gitlab_version=dict(type="str"),
            model_endpoints=dict(type="list", elements="dict", default=[]),
            log_lines=dict(type="int", default=500),
            inside_checks=dict(type="bool", default=True),
            collect_excerpts=dict(type="bool", default=False),
            restored_auth_bypass=dict(type="bool", default=False),
            docker_host=DOCKER_HOST_OPTION,
        ),
        supports_check_mode=True,
    )
    try:
        collected = {}
        findings = diagnose(docker_client(module.params["docker_host"]), module.params, collected)
        if module.params["restored_auth_bypass"]:
            findings.insert(0, finding("gateway.auth_bypass_restored", "a deep test's marker was found and the "
                                       "gateway was restarted without AIGW_AUTH__BYPASS_EXTERNAL"))
    except DuoError as exc:
        exc.fail(module)
    result = dict(changed=False, findings=findings, worst=worst(findings))
    if module.params["collect_excerpts"]:
        result["excerpts"] = collected
    module.exit_json(**result)


if __name__ == "__main__":
    main()
