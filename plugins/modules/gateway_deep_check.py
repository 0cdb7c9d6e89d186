#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_deep_check
short_description: Run the AI Gateway's own troubleshoot command inside its container
version_added: 0.1.0
description:
  - Runs the gateway's own C(troubleshoot) command (C(poetry run troubleshoot)) with the documented options inside
    the gateway container and reads its C(>> ... ✔) lines and, when a check fails, the exception its traceback
    ends with, as findings.
  - The options (among them O(api_key)) never stand on the exec's command line, where C(docker inspect) of the exec
    and every process in the container could read them; they go on the exec's standard input to a small wrapper
    run with the image's Python (C(poetry run python -c)) that sets the script's C(sys.argv) in-process.
  - Its model check needs the gateway restarted with C(AIGW_AUTH__BYPASS_EXTERNAL=true); this module does not do
    that. The troubleshoot role does, only when allowed, and always restarts the gateway without it.
  - Changes nothing.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.docker
  - gitlab_duo.self_hosted.docker.gateway
  - gitlab_duo.self_hosted.attributes.read_only
options:
  endpoint:
    description: C(--endpoint), the gateway as seen from inside the container (C(localhost:5052)).
    type: str
  model_family:
    description:
      - C(--model-family) (C(--model-name) for gateways before 17.9).
      - Only the families the gateway's release offers are accepted, read from its image tag (17.9.0 V(mistral),
        V(mixtral), V(gpt), V(claude_3); V(llama3) from 17.9.3 and 17.10.1; V(claude_3) removed from 18.10 and
        in nightly/latest). Another family fails before anything runs, naming the ones offered.
    type: str
  model_endpoint:
    description: C(--model-endpoint), e.g. C(http://vllm:8000/v1).
    type: str
  model_identifier:
    description: C(--model-identifier), e.g. C(custom_openai/Mixtral-8x7B-Instruct-v0.1).
    type: str
  api_key:
    description: C(--api-key) for the model; passed on the exec's standard input, never on a command line.
    type: str
  model_name:
    description:
      - Also ask the gateway for an answer from this model through its own C(POST /v1/chat/agent) (with
        O(model_endpoint)), from inside the container - the support playbook's gateway to model check.
    type: str
"""

EXAMPLES = r"""
- name: The gateway's own checks (the gateway must run with the bypass; see the troubleshoot role)
  gitlab_duo.self_hosted.gateway_deep_check:
    model_family: mixtral
    model_endpoint: http://vllm.internal:8000/v1
    model_identifier: custom_openai/Mixtral-8x7B-Instruct-v0.1
"""

RETURN = r"""
findings:
  description: C(gateway.deep_test_failed) with the failed steps, or C(gateway.deep_test.ok).
  returned: always
  type: list
  elements: dict
output:
  description: What the command printed (the API key redacted).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._docker import DOCKER_HOST_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gateway.container import GATEWAY_NAME_OPTION
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.deep_check import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=GATEWAY_NAME_OPTION,
            endpoint=dict(type="str"),
            model_family=dict(type="str"),
            model_endpoint=dict(type="str"),
            model_identifier=dict(type="str"),
            api_key=dict(type="str", no_log=True),
            model_name=dict(type="str"),
            docker_host=DOCKER_HOST_OPTION,
        ),
        supports_check_mode=True,
    )
    respond(module, run, module.params)


if __name__ == "__main__":
    main()
