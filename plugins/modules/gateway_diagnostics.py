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
  - gitlab_duo.self_hosted.gitlab.instance_url
  - gitlab_duo.self_hosted.gitlab.version
  - gitlab_duo.self_hosted.troubleshoot
options:
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

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import DOCKER_HOST_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.container import GATEWAY_NAME_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.options import (
    GITLAB_VERSION_OPTION, INSTANCE_URL_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import (
    COLLECT_EXCERPTS_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.gateway_diagnosis import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=GATEWAY_NAME_OPTION,
            gitlab_url=INSTANCE_URL_OPTION,
            gitlab_version=GITLAB_VERSION_OPTION,
            model_endpoints=dict(type="list", elements="dict", default=[]),
            log_lines=dict(type="int", default=500),
            inside_checks=dict(type="bool", default=True),
            collect_excerpts=COLLECT_EXCERPTS_OPTION,
            restored_auth_bypass=dict(type="bool", default=False),
            docker_host=DOCKER_HOST_OPTION,
        ),
        supports_check_mode=True,
    )
    respond(module, run, module.params)


if __name__ == "__main__":
    main()
