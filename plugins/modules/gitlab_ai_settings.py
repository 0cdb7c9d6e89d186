#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gitlab_duo.self_hosted contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gitlab_ai_settings
short_description: Point a GitLab instance at its AI Gateway (ai_gateway_url and related settings)
version_added: 0.1.0
description:
  - Reads and sets the instance AI settings C(ai_gateway_url) and, when given, C(ai_gateway_timeout_seconds),
    C(duo_agent_platform_service_url) and C(enabled_instance_verbose_ai_logs). Only the settings given are managed.
  - B(Without O(api_token)) it makes ONE C(gitlab-rails runner) call (30-60 s of Rails boot on a real GitLab) that
    reads, compares, updates and prints the result as JSON. The Ruby is chosen by GitLab version -
    C(Ai::Setting.instance) up to 19.1, the application settings from 19.2 - with the version taken from
    O(gitlab_version) or the version file on the host. O(rails_command) runs it on Omnibus, in a Docker
    container or in a Kubernetes toolbox pod.
  - B(With O(api_token)) (an administrator's token with the C(api) scope) it boots no Rails and uses the GraphQL
    C(duoSettingsUpdate) mutation, plus C(PUT /api/v4/application/settings) (C(enabled_expanded_logging)) for
    verbose AI logs. Use it when the control node can reach GitLab's API.
  - Validates before any change what GitLab enforces - C(ai_gateway_url) is an absolute http(s) URL of at most
    2048 characters and not localhost/loopback (unless O(allow_local_urls)); the timeout is 60-600; the Agent
    Platform URL is C(host:port) without C(http://) - and strips a trailing C(/) so reruns stay idempotent.
  - Re-applying after every GitLab upgrade is intended; the upgrade to 19.2 is known to clear the URLs and the timeout.
  - O(remembered) (a snapshot M(gitlab_duo.self_hosted.gitlab_settings_snapshot) read) sets again each remembered
    C(ai_gateway_url), C(ai_gateway_timeout_seconds) or C(duo_agent_platform_service_url) that is unset now (empty,
    or the timeout at GitLab's default of 60) - only when GitLab's version changed since it was recorded (an upgrade;
    at the same version an unset value was cleared on purpose), never one this run declares, never one that is set
    now. Same call, same Rails boot. C(restored) says what came back and from where; C(settings) is what to record
    for the next run.
author:
  - gitlab_duo.self_hosted maintainers (@gitlab-duo-self-hosted)
extends_documentation_fragment:
  - gitlab_duo.self_hosted.attributes
  - gitlab_duo.self_hosted.gitlab
  - gitlab_duo.self_hosted.gitlab.rails
  - gitlab_duo.self_hosted.gitlab.version_file
  - gitlab_duo.self_hosted.gitlab.version
  - gitlab_duo.self_hosted.http_options
attributes:
  check_mode:
    support: full
    details: Reads only (the runner script is sent with a read-only flag).
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  ai_gateway_url:
    description: URL GitLab uses to reach the AI Gateway, e.g. C(https://ai-gateway.example.com).
    type: str
  ai_gateway_timeout_seconds:
    description: Seconds GitLab waits for the gateway (60-600).
    type: int
  duo_agent_platform_service_url:
    description: C(host:port) of the Duo Agent Platform (workflow) service; no scheme.
    type: str
  enabled_instance_verbose_ai_logs:
    description: Log AI requests and responses in detail (C(llm.log)).
    type: bool
  allow_local_urls:
    description: Accept a localhost or loopback O(ai_gateway_url) (labs, or GitLab's outbound allowlist set).
    type: bool
    default: false
  remembered:
    description:
      - What an earlier run recorded - the C(snapshot) M(gitlab_duo.self_hosted.gitlab_settings_snapshot) returns, as
        it is. Read from it - C(settings) (the remembered values by setting name), C(gitlab_version) (the version
        they were read at; nothing is set again while the instance still runs it) and C(source) (where they come
        from, for C(restored)); other keys are ignored.
      - With it, O(ai_gateway_url) may be left out (only remembered values are set again).
    type: dict"""

EXAMPLES = r"""
- name: Point GitLab at the gateway (Omnibus host, Rails runner)
  gitlab_duo.self_hosted.gitlab_ai_settings:
    ai_gateway_url: https://ai-gateway.example.com
    ai_gateway_timeout_seconds: 300

- name: GitLab in Docker
  gitlab_duo.self_hosted.gitlab_ai_settings:
    ai_gateway_url: http://ai-gateway.example.com:5052
    rails_command: [docker, exec, -i, gitlab, gitlab-rails]
    gitlab_version: 18.2.1-ee

- name: Through the API, from the control node
  gitlab_duo.self_hosted.gitlab_ai_settings:
    api_url: https://gitlab.example.com
    api_token: "{{ vault_gitlab_admin_token }}"
    ai_gateway_url: https://ai-gateway.example.com
    duo_agent_platform_service_url: ai-gateway.example.com:50052
    enabled_instance_verbose_ai_logs: false
  delegate_to: localhost
"""

RETURN = r"""
before:
  description: The managed settings before the run.
  returned: success
  type: dict
  sample: {"ai_gateway_url": null}
after:
  description: The managed settings after the run (what they would be, in check mode).
  returned: success
  type: dict
  sample: {"ai_gateway_url": "https://ai-gateway.example.com"}
changes:
  description: Names of the settings that changed (or would change).
  returned: success
  type: list
  elements: str
method:
  description: V(rails_runner) or V(api).
  returned: success
  type: str
location:
  description: Where the settings live (C(Ai::Setting.instance), C(ApplicationSetting.current_without_cache), or C(api)).
  returned: success
  type: str
restored:
  description:
    - Remembered settings that were unset and were set again (would be, in check mode) - C(setting), C(value),
      C(from) (the snapshot's file) and C(recorded_at_version).
  returned: success
  type: list
  elements: dict
  sample: [{"setting": "ai_gateway_timeout_seconds", "value": 300, "from": "/var/lib/gitlab-duo/settings/gitlab.json",
            "recorded_at_version": "18.10.0"}]
settings:
  description:
    - The settings a snapshot remembers, as the instance holds them after the run (those its version has) - what to
      give M(gitlab_duo.self_hosted.gitlab_settings_snapshot) to record.
  returned: success
  type: dict
  sample: {"ai_gateway_url": "https://ai-gateway.example.com", "ai_gateway_timeout_seconds": 300}
rails_runner_calls:
  description: How many times Rails was booted (0 or 1).
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._errors import respond
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.ai_settings import apply
from ansible_collections.gitlab_duo.self_hosted.plugins.module_utils._gitlab.options import (
    GITLAB_REQUIRED_TOGETHER, GITLAB_VERSION_OPTION, gitlab_argument_spec)


def main():
    module = AnsibleModule(
        argument_spec=gitlab_argument_spec(
            ai_gateway_url=dict(type="str"),
            ai_gateway_timeout_seconds=dict(type="int"),
            duo_agent_platform_service_url=dict(type="str"),
            enabled_instance_verbose_ai_logs=dict(type="bool"),
            allow_local_urls=dict(type="bool", default=False),
            remembered=dict(type="dict"),
            gitlab_version=GITLAB_VERSION_OPTION,
        ),
        required_together=GITLAB_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    respond(module, apply, module.params, module.check_mode, module.run_command)


if __name__ == "__main__":
    main()
