#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gitlab_diagnostics
short_description: Diagnose GitLab Duo Self-Hosted on the GitLab host - settings, access, reachability, logs
version_added: 0.1.0
description:
  - Gathers every Rails-side fact in ONE C(gitlab-rails runner) call - C(ai_gateway_url) (against the expected URL),
    the legacy C(AI_GATEWAY_URL) variable, C(duo_agent_platform_service_url) without a scheme, verbose AI logs, the
    user's Code Suggestions access (C(can?), C(Ability.allowed?), C(allowed_to_use?)), the self-hosted feature
    settings, and GitLab's own HTTP GET of the gateway's healthz.
  - Optionally runs C(gitlab-rake gitlab:duo:verify_self_hosted_setup[user]) and reads its ✔/✗/⚠ marks.
  - Reads the end of C(llm.log) (bounded) and classifies its lines - statuses 401/403, connection refused, timeouts,
    SSL failures, Duo Chat error codes - tolerating lines that are not JSON.
  - Returns findings from the collection's catalogue (id, severity, title, evidence with secrets redacted, cause,
    remedy, source). Changes nothing.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes.read_only
  - gitlab_duo.self_hosted.gitlab.rake
  - gitlab_duo.self_hosted.gitlab.version
  - gitlab_duo.self_hosted.gitlab.version_file
  - gitlab_duo.self_hosted.gitlab.rails
  - gitlab_duo.self_hosted.gitlab.round_trip
  - gitlab_duo.self_hosted.troubleshoot
  - gitlab_duo.self_hosted.troubleshoot.secrets
options:
  expected_ai_gateway_url:
    description: The URL ai_gateway_url should hold (the gateway this instance is served by).
    type: str
  run_rake:
    description: Also run gitlab:duo:verify_self_hosted_setup (boots Rails a second time).
    type: bool
    default: false
  llm_log:
    description: Path of llm.log.
    type: path
    default: /var/log/gitlab/gitlab-rails/llm.log
  llm_log_lines:
    description: How many of llm.log's last lines to read (at most 2 MiB are read).
    type: int
    default: 2000
  restored_verbose_logs:
    description: The caller has just set back verbose AI logs an interrupted run had left on (reported as
      C(gitlab.verbose_ai_logs_restored)).
    type: bool
    default: false"""

EXAMPLES = r"""
- name: Diagnose the GitLab side
  gitlab_duo.self_hosted.gitlab_diagnostics:
    expected_ai_gateway_url: https://ai-gateway.example.com
    user: duo-user
  register: gitlab_diag

- name: GitLab in Docker, with a round trip to a keyed model (the key goes on the runner's standard input)
  gitlab_duo.self_hosted.gitlab_diagnostics:
    rails_command: [docker, exec, -i, gitlab, gitlab-rails]
    expected_ai_gateway_url: https://ai-gateway.example.com
    user: duo-user
    round_trip:
      model: mistral
      model_endpoint: https://vllm.example.com:8000/v1
      model_api_key: "{{ vault_model_api_key }}"
"""

RETURN = r"""
findings:
  description: One entry per check - id, severity, title, evidence, cause, remedy, doc.
  returned: always
  type: list
  elements: dict
worst:
  description: The most severe finding's severity.
  returned: always
  type: str
facts:
  description: What the Rails runner call gathered.
  returned: always
  type: dict
rails_runner_calls:
  description: How many times Rails was booted by this module (1, or 2 with O(run_rake)).
  returned: always
  type: int
excerpts:
  description: File name to text - C(llm.log) (last 200 lines, redacted), C(facts.json), C(verify_self_hosted_setup.txt).
  returned: when O(collect_excerpts=true)
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.options import (
    GITLAB_VERSION_OPTION, RAILS_COMMAND_OPTION, RAKE_COMMAND_OPTION, ROUND_TRIP_OPTION, VERIFY_USER_OPTION,
    VERSION_FILE_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.catalogue import (
    COLLECT_EXCERPTS_OPTION, SECRETS_OPTION)
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._troubleshoot.gitlab_checks import (
    LLM_LOG, diagnose)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            expected_ai_gateway_url=dict(type="str"),
            user=VERIFY_USER_OPTION,
            gitlab_version=GITLAB_VERSION_OPTION,
            version_file=VERSION_FILE_OPTION,
            rails_command=RAILS_COMMAND_OPTION,
            round_trip=ROUND_TRIP_OPTION,
            run_rake=dict(type="bool", default=False),
            rake_command=RAKE_COMMAND_OPTION,
            llm_log=dict(type="path", default=LLM_LOG),
            llm_log_lines=dict(type="int", default=2000),
            collect_excerpts=COLLECT_EXCERPTS_OPTION,
            restored_verbose_logs=dict(type="bool", default=False),
            secrets=SECRETS_OPTION,
        ),
        supports_check_mode=True,
    )
    respond(module, diagnose, module.params, module.run_command)


if __name__ == "__main__":
    main()
