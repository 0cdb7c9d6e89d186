#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gitlab_round_trip
short_description: Ask a model for an answer from GitLab through a given AI Gateway URL, with GitLab's own client
version_added: 0.1.0
description:
  - Runs on the GitLab host (one C(gitlab-rails runner) call). GitLab's own AI Gateway client
    (C(Gitlab::Llm::AiGateway::Client#complete)) sends a model request to C(<gateway_url>/v1/chat/agent) with the
    instance's own token, exactly as GitLab authenticates in production - so it tries any gateway, such as the new
    gateway an upgrade started before traffic moves to it, without ever turning the gateway's authentication off.
  - GitLab's C(gitlab:duo:verify_self_hosted_setup) cannot do this - it reads the gateway URL from the AI settings
    only (C(AI_GATEWAY_URL) is only the default of a new settings row), and its request flow test asks the model's
    endpoint directly, not through the gateway.
  - The model is O(round_trip), or else the instance's own self-hosted model (the one a feature setting uses, else
    the first configured); its API key then never leaves GitLab. With neither, the result says C(skipped) (or the
    module fails with O(require_model)).
  - Fails when the model did not answer through the gateway (a network error, or anything but HTTP 200 with a
    C(response)), with the reason; every string it returns is redacted (the given key and anything shaped like a
    credential).
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
  - gitlab_duo.self_hosted.gitlab.rails
  - gitlab_duo.self_hosted.gitlab.round_trip
options:
  gateway_url:
    description:
      - The gateway as GitLab should reach it for this request (the request goes to C(<gateway_url>/v1/chat/agent)),
        e.g. the URL of NGINX with the path under which an upgrade offers the new gateway,
        C(https://ai-gateway.example.com/.duo-upgrade-trial).
    type: str
    required: true
  user:
    description: The GitLab user the request is made for (a user with a Duo seat); the user with id 1 when omitted.
    type: str
  require_model:
    description: Fail when there is no model to ask (no O(round_trip) and no self-hosted model in GitLab).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Try the new gateway through NGINX before traffic moves to it
  gitlab_duo.self_hosted.gitlab_round_trip:
    gateway_url: https://ai-gateway.example.com/.duo-upgrade-trial
  delegate_to: gitlab.example.com

- name: GitLab in Docker, a given model with a key (the key goes on the runner's standard input)
  gitlab_duo.self_hosted.gitlab_round_trip:
    gateway_url: https://ai-gateway.example.com
    rails_command: [docker, exec, -i, gitlab, gitlab-rails]
    round_trip:
      model: mistral
      model_endpoint: https://vllm.example.com:8000/v1
      model_api_key: "{{ vault_model_api_key }}"
"""

RETURN = r"""
ok:
  description: The model answered through the gateway.
  returned: success
  type: bool
skipped:
  description: Why no request was made (no model to ask); null when one was.
  returned: success
  type: str
gateway_url:
  description: The URL the request was sent to (without C(/v1/chat/agent)).
  returned: always
  type: str
model:
  description: The model asked - C(name) and C(source) (V(given), or which of the instance's self-hosted models).
  returned: always
  type: dict
  sample: {"name": "mistral", "source": "the instance's self-hosted model Mistral on vLLM"}
status:
  description: The gateway's HTTP status (null on a network error).
  returned: always
  type: int
body:
  description: The first 300 characters of the gateway's answer, redacted.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.options import (
    RAILS_COMMAND_OPTION, ROUND_TRIP_OPTION, VERIFY_USER_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.round_trip import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gateway_url=dict(type="str", required=True),
            round_trip=ROUND_TRIP_OPTION,
            user=VERIFY_USER_OPTION,
            require_model=dict(type="bool", default=False),
            rails_command=RAILS_COMMAND_OPTION,
        ),
        supports_check_mode=True,
    )
    respond(module, run, module.params, module.run_command)


if __name__ == "__main__":
    main()
